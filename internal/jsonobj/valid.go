package jsonobj

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// Valid reports whether data is one valid JSON value (RFC 8259), surrounded
// by optional white space. It accepts exactly what encoding/json's Valid
// accepts (a fuzz test holds the two together), including invalid UTF-8
// inside strings, but runs as one loop without a state machine of function
// values: tokens and proofs are validated on every request, and
// encoding/json's scanner was most of the cost of reading them.
func Valid(data []byte) bool {
	return ValidNames(data, maxValidDepth, nil, nil)
}

// Names is told the member names of every object that [ValidNames] walks,
// so that a check of names costs no walk of its own.
type Names interface {
	// Enter is called when an object begins; Leave is called with its
	// result when that object ends (not when validation fails inside it).
	Enter() int
	Leave(mark int)
	// Name is called with each member name of the object that the Enter
	// which returned mark began, at depth (1 for a top-level object); the
	// name is raw: quoted and escaped as in the text, and valid as a JSON
	// string.
	Name(mark int, rawName []byte, depth int)
}

// ValidNames is [Valid] with two more duties in the same pass: it fails on
// objects and arrays nested deeper than limit (a top-level object or array
// is at depth 1), and, when names is not nil, it tells names every member
// name. Tokens are read once this way instead of in one pass per check.
//
// When spans is not nil and data is an object, ValidNames also records
// where its top-level members are, for [Table.ReadSpans].
func ValidNames(data []byte, limit int, names Names, spans *Spans) bool {
	if spans != nil {
		*spans = Spans{overflow: len(data) > math.MaxInt32}
	}
	v := validator{data: data, limit: min(limit, maxValidDepth), names: names, spans: spans}
	v.ws()
	if !v.value(0) {
		return false
	}
	v.ws()
	return v.i == len(v.data)
}

// maxValidDepth bounds the recursion; encoding/json's scanner allows 10,000
// levels too. Callers limit depth far lower before this runs.
const maxValidDepth = 10000

type validator struct {
	data  []byte
	i     int
	limit int    // deepest nesting allowed
	names Names  // or nil
	spans *Spans // or nil
}

// Spans is where the top-level members of a JSON object are, as
// [ValidNames] found them: a [Table] reads them without walking the object
// again. Its zero value holds no object.
type Spans struct {
	object   bool // the text is an object (its members are below)
	overflow bool // more members than fit, or a text too long: walk it
	n        int
	at       [maxSpans]span
}

// maxSpans is the number of members recorded; the usual access token has
// about a dozen.
const maxSpans = 20

// span is one member: its raw name (quoted) and its raw value.
type span struct{ name, nameEnd, value, valueEnd int32 }

func (s *Spans) add(name, nameEnd, value, valueEnd int) {
	if s.n == maxSpans {
		s.overflow = true
		return
	}
	s.at[s.n] = span{int32(name), int32(nameEnd), int32(value), int32(valueEnd)}
	s.n++
}

func (v *validator) ws() {
	for v.i < len(v.data) {
		switch v.data[v.i] {
		case ' ', '\t', '\r', '\n':
			v.i++
		default:
			return
		}
	}
}

func (v *validator) lit(s string) bool {
	if len(v.data)-v.i < len(s) || string(v.data[v.i:v.i+len(s)]) != s {
		return false
	}
	v.i += len(s)
	return true
}

func (v *validator) value(depth int) bool {
	if v.i >= len(v.data) {
		return false
	}
	switch c := v.data[v.i]; {
	case c == '{':
		return v.object(depth + 1)
	case c == '[':
		return v.array(depth + 1)
	case c == '"':
		return v.str()
	case c == '-' || c >= '0' && c <= '9':
		return v.number()
	case c == 't':
		return v.lit("true")
	case c == 'f':
		return v.lit("false")
	case c == 'n':
		return v.lit("null")
	}
	return false
}

func (v *validator) object(depth int) bool {
	if depth > v.limit {
		return false
	}
	spans := v.spans
	if depth != 1 {
		spans = nil
	} else if spans != nil {
		spans.object = true
	}
	v.i++ // '{'
	v.ws()
	if v.i < len(v.data) && v.data[v.i] == '}' {
		v.i++
		return true
	}
	var mark int
	if v.names != nil {
		mark = v.names.Enter()
	}
	for {
		start := v.i
		if v.i >= len(v.data) || v.data[v.i] != '"' || !v.str() {
			return false
		}
		nameEnd := v.i
		if v.names != nil {
			v.names.Name(mark, v.data[start:nameEnd], depth)
		}
		v.ws()
		if v.i >= len(v.data) || v.data[v.i] != ':' {
			return false
		}
		v.i++
		v.ws()
		value := v.i
		if !v.value(depth) {
			return false
		}
		if spans != nil {
			spans.add(start, nameEnd, value, v.i)
		}
		v.ws()
		if v.i >= len(v.data) {
			return false
		}
		switch v.data[v.i] {
		case ',':
			v.i++
			v.ws()
		case '}':
			v.i++
			if v.names != nil {
				v.names.Leave(mark)
			}
			return true
		default:
			return false
		}
	}
}

func (v *validator) array(depth int) bool {
	if depth > v.limit {
		return false
	}
	v.i++ // '['
	v.ws()
	if v.i < len(v.data) && v.data[v.i] == ']' {
		v.i++
		return true
	}
	for {
		if !v.value(depth) {
			return false
		}
		v.ws()
		if v.i >= len(v.data) {
			return false
		}
		switch v.data[v.i] {
		case ',':
			v.i++
			v.ws()
		case ']':
			v.i++
			return true
		default:
			return false
		}
	}
}

// str checks the string starting at the opening quote.
func (v *validator) str() bool {
	data := v.data
	for i := v.i + 1; i < len(data); i++ {
		// Skip eight plain bytes at a time: most of a token is string
		// content. stop marks the first byte to look at one by one.
		for len(data)-i >= 8 {
			m := stop(binary.LittleEndian.Uint64(data[i:]))
			if m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(data) {
			break
		}
		switch c := data[i]; {
		case c == '"':
			v.i = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			i++
			if i >= len(data) {
				return false
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(data)-i < 5 {
					return false
				}
				for _, h := range data[i+1 : i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return false
					}
				}
				i += 4
			default:
				return false
			}
		}
	}
	return false
}

// number checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (v *validator) number() bool {
	data, i := v.data, v.i
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		i = digits(data, i)
	default:
		return false
	}
	if i < len(data) && data[i] == '.' {
		j := digits(data, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := digits(data, i)
		if j == i {
			return false
		}
		i = j
	}
	v.i = i
	return true
}

func digits(data []byte, i int) int {
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		i++
	}
	return i
}

// stop returns the high bit of the lowest byte of x (eight bytes of a
// string, the first in the low byte) that is a quote, a backslash or a
// control character, and possibly of higher bytes too; zero when there is
// none. Only the lowest bit it sets is exact (a borrow can mark the byte
// above a hit), and that is the one str uses.
func stop(x uint64) uint64 {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	q := x ^ '"'*ones  // zero bytes where x has a quote
	b := x ^ '\\'*ones // zero bytes where x has a backslash
	return ((q-ones)&^q | (b-ones)&^b | (x-0x20*ones)&^x) & highs
}
