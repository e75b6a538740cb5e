package middleware

import (
	"bytes"
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
// ({"sub":"alice","SUB":"admin"} decodes to sub "admin").
//
// It runs once per verified token (the token cache keeps the result), on a
// payload that passed json.Valid and the depth limit.
func unambiguousNames(data []byte) bool {
	w := nameWalkers.Get().(*nameWalker)
	w.data, w.folded, w.ends = data, w.folded[:0], w.ends[:0]
	i, ok := w.value(w.skipWS(0), 0)
	ok = ok && w.skipWS(i) == len(data)
	w.data = nil
	if cap(w.folded) <= 4096 && cap(w.ends) <= 1024 { // keep no outsized buffer
		nameWalkers.Put(w)
	}
	return ok
}

// nameWalkers keeps walkers with their buffers between tokens: the walk is
// recursive, so buffers on the stack would escape anyway, and this check
// runs on every token verified.
var nameWalkers = sync.Pool{New: func() any {
	// Room for the names of a usual access token.
	return &nameWalker{folded: make([]byte, 0, 256), ends: make([]int, 0, 2*maxLinearNames)}
}}

// nameWalker walks a JSON value. The folded names of the objects on the
// current path are kept back to back in folded, ends[k] being the end of the
// k-th name; an object's names are dropped when it ends.
type nameWalker struct {
	data   []byte
	folded []byte
	ends   []int
}

// maxLinearNames is the number of members up to which an object's names are
// compared pairwise; larger objects use a map, so that a long object costs
// linear time.
const maxLinearNames = 32

func (w *nameWalker) value(i, depth int) (int, bool) {
	if i >= len(w.data) {
		return i, false
	}
	switch w.data[i] {
	case '{':
		return w.object(i, depth)
	case '[':
		i = w.skipWS(i + 1)
		if i < len(w.data) && w.data[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = w.value(i, depth+1); !ok {
				return i, false
			}
			i = w.skipWS(i)
			switch {
			case i >= len(w.data):
				return i, false
			case w.data[i] == ']':
				return i + 1, true
			case w.data[i] != ',':
				return i, false
			}
			i = w.skipWS(i + 1)
		}
	case '"':
		end := w.endOfString(i)
		return end, end <= len(w.data)
	}
	for i < len(w.data) {
		switch w.data[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i, true
		}
		i++
	}
	return i, true
}

func (w *nameWalker) object(i, depth int) (int, bool) {
	first, mark := len(w.ends), len(w.folded)
	defer func() { w.ends, w.folded = w.ends[:first], w.folded[:mark] }()
	var seen map[string]struct{}
	i = w.skipWS(i + 1)
	if i < len(w.data) && w.data[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(w.data) || w.data[i] != '"' {
			return i, false
		}
		end := w.endOfString(i)
		if end > len(w.data) {
			return i, false
		}
		name, ok := w.name(i, end)
		if !ok {
			return i, false
		}
		start := len(w.folded)
		w.folded = foldName(w.folded, name)
		f := w.folded[start:]
		if depth == 0 {
			if exact := claimNamed(f); exact != "" && string(name) != exact {
				return i, false
			}
		}
		n := len(w.ends) - first
		switch {
		case n < maxLinearNames:
			prev := mark
			for _, e := range w.ends[first:] {
				if string(w.folded[prev:e]) == string(f) {
					return i, false
				}
				prev = e
			}
		case seen == nil:
			seen = make(map[string]struct{}, 2*maxLinearNames)
			prev := mark
			for _, e := range w.ends[first:] {
				seen[string(w.folded[prev:e])] = struct{}{}
				prev = e
			}
			fallthrough
		default:
			if _, dup := seen[string(f)]; dup {
				return i, false
			}
			seen[string(f)] = struct{}{}
		}
		w.ends = append(w.ends, len(w.folded))

		i = w.skipWS(end)
		if i >= len(w.data) || w.data[i] != ':' {
			return i, false
		}
		if i, ok = w.value(w.skipWS(i+1), depth+1); !ok {
			return i, false
		}
		i = w.skipWS(i)
		switch {
		case i >= len(w.data):
			return i, false
		case w.data[i] == '}':
			return i + 1, true
		case w.data[i] != ',':
			return i, false
		}
		i = w.skipWS(i + 1)
	}
}

// name returns the unescaped member name data[i:end] (quotes included),
// without copying it in the usual case of a name with no escape.
func (w *nameWalker) name(i, end int) ([]byte, bool) {
	raw := w.data[i+1 : end-1]
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return raw, true
	}
	s, ok := jsonobj.String(w.data[i:end])
	return []byte(s), ok
}

func (w *nameWalker) skipWS(i int) int {
	for i < len(w.data) {
		switch w.data[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// endOfString returns the index just past the string that starts at
// data[i], or len(data)+1 when it does not end.
func (w *nameWalker) endOfString(i int) int {
	for i++; i < len(w.data); i++ {
		switch w.data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(w.data) + 1
}

// foldName appends name folded as encoding/json folds member names when it
// matches them to struct fields: ASCII letters upper-cased, any other rune
// mapped to unicode.ToUpper(unicode.ToLower(r)), so that "ſ" (U+017F) folds
// like "s" and the Kelvin sign like "k".
func foldName(dst, name []byte) []byte {
	for i := 0; i < len(name); {
		if c := name[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(name[i:])
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
