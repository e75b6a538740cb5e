package middleware

import (
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/senderbound/senderbound/internal/jsonobj"
)

// unambiguousNames reports whether encoding/json reads the JSON payload data
// as this package does: no object in it, at any depth, holds two member
// names that encoding/json would match to the same struct field (equal under
// its case folding, which includes exact duplicates), and no top-level name
// is a case variant of a claim that parsePayload reads by its exact name.
// Otherwise [Claims.Decode] could yield another value than the accessors
// ({"sub":"alice","SUB":"admin"} decodes to sub "admin"). It is false for
// data that is not valid JSON.
//
// verifyToken does not call it: it runs the same check inside the one
// validation pass of the payload (validPayload).
func unambiguousNames(data []byte) bool {
	valid, unambiguous := validPayload(data, maxValidDepth, nil)
	return valid && unambiguous
}

// maxValidDepth is no limit at all for unambiguousNames' callers, whose
// data passed a depth limit already.
const maxValidDepth = 10000

// validPayload validates the JSON payload data (jsonobj.Valid, objects and
// arrays nested no deeper than limit) and checks its names as
// unambiguousNames says, in one pass: valid is false for data that is not
// valid or too deep, unambiguous is what unambiguousNames would answer for
// valid data. When spans is not nil, it records where the members are for
// payloadTable.ReadSpans.
func validPayload(data []byte, limit int, spans *jsonobj.Spans) (valid, unambiguous bool) {
	w := nameWalkers.Get().(*nameWalker)
	w.folded, w.ends, w.sets, w.ambiguous = w.folded[:0], w.ends[:0], w.sets[:0], false
	valid = jsonobj.ValidNames(data, limit, w, spans)
	unambiguous = !w.ambiguous
	clear(w.sets[:cap(w.sets)])
	// Keep no outsized buffer, and no map of a large object.
	if cap(w.folded) <= 4096 && cap(w.ends) <= 1024 && cap(w.sets) <= 16 {
		nameWalkers.Put(w)
	}
	return valid, unambiguous
}

// nameWalkers keeps walkers with their buffers between tokens: this check
// runs on every token verified.
var nameWalkers = sync.Pool{New: func() any {
	// Room for the names of a usual access token.
	return &nameWalker{folded: make([]byte, 0, 256), ends: make([]int, 0, 2*maxLinearNames)}
}}

// nameWalker checks the member names that jsonobj.ValidNames walks (it
// implements jsonobj.Names). The folded names of the objects on the current
// path are kept back to back in folded, ends[k] being the end of the k-th
// name; an object's names are dropped when it ends. An object of more than
// maxLinearNames members also has a set of its names in sets.
type nameWalker struct {
	folded    []byte
	ends      []int
	sets      []nameSet
	ambiguous bool // once set, nothing more is recorded
}

// nameSet holds the folded names of the large object whose first name is
// ends[first].
type nameSet struct {
	first int
	seen  map[string]struct{}
}

// maxLinearNames is the number of members up to which an object's names are
// compared pairwise; larger objects use a map, so that a long object costs
// linear time.
const maxLinearNames = 32

// Enter returns the position of the object's first name in ends.
func (w *nameWalker) Enter() int { return len(w.ends) }

// Leave drops the names of the object that began at first.
func (w *nameWalker) Leave(first int) {
	for len(w.sets) > 0 && w.sets[len(w.sets)-1].first >= first {
		w.sets[len(w.sets)-1].seen = nil
		w.sets = w.sets[:len(w.sets)-1]
	}
	if w.ambiguous {
		return
	}
	mark := 0
	if first > 0 {
		mark = w.ends[first-1]
	}
	w.ends, w.folded = w.ends[:first], w.folded[:mark]
}

// Name checks one member name of the object whose names begin at
// ends[first], at depth (1: the top level).
func (w *nameWalker) Name(first int, rawName []byte, depth int) {
	if w.ambiguous {
		return
	}
	name, ok := jsonobj.StringView(rawName) // compared and folded, never kept
	if !ok {
		w.ambiguous = true
		return
	}
	mark := len(w.folded)
	w.folded = foldName(w.folded, name)
	f := w.folded[mark:]
	if depth == 1 {
		if exact := claimNamed(f); exact != "" && string(name) != exact {
			w.ambiguous = true
			return
		}
	}
	n := len(w.ends) - first
	switch {
	case n < maxLinearNames:
		prev := 0
		if first > 0 {
			prev = w.ends[first-1]
		}
		for _, e := range w.ends[first:] {
			if string(w.folded[prev:e]) == string(f) {
				w.ambiguous = true
				return
			}
			prev = e
		}
	default:
		set := w.set(first)
		if _, dup := set[string(f)]; dup {
			w.ambiguous = true
			return
		}
		set[string(f)] = struct{}{}
	}
	w.ends = append(w.ends, len(w.folded))
}

// set returns the set of the folded names of the object whose names begin
// at ends[first], made from them when that object has none yet.
func (w *nameWalker) set(first int) map[string]struct{} {
	if k := len(w.sets) - 1; k >= 0 && w.sets[k].first == first {
		return w.sets[k].seen
	}
	seen := make(map[string]struct{}, 2*maxLinearNames)
	prev := 0
	if first > 0 {
		prev = w.ends[first-1]
	}
	for _, e := range w.ends[first:] {
		seen[string(w.folded[prev:e])] = struct{}{}
		prev = e
	}
	w.sets = append(w.sets, nameSet{first: first, seen: seen})
	return seen
}

// foldName appends name folded as encoding/json folds member names when it
// matches them to struct fields: ASCII letters upper-cased, any other rune
// mapped to unicode.ToUpper(unicode.ToLower(r)), so that "ſ" (U+017F) folds
// like "s" and the Kelvin sign like "k".
func foldName(dst []byte, name string) []byte {
	for i := 0; i < len(name); {
		if c := name[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(name[i:])
		dst = utf8.AppendRune(dst, unicode.ToUpper(unicode.ToLower(r)))
		i += n
	}
	return dst
}

// claimNamed returns the exact name of the claim read by parsePayload whose
// folded name is folded, or "".
func claimNamed(folded []byte) string {
	switch string(folded) {
	case "ISS":
		return "iss"
	case "SUB":
		return "sub"
	case "AUD":
		return "aud"
	case "EXP":
		return "exp"
	case "NBF":
		return "nbf"
	case "IAT":
		return "iat"
	case "JTI":
		return "jti"
	case "SCOPE":
		return "scope"
	case "PERMISSIONS":
		return "permissions"
	case "CLIENT_ID":
		return "client_id"
	case "AZP":
		return "azp"
	case "CNF":
		return "cnf"
	case "ACR":
		return "acr"
	case "AMR":
		return "amr"
	case "AUTH_TIME":
		return "auth_time"
	case "AUTHORIZATION_DETAILS":
		return "authorization_details"
	}
	return ""
}
