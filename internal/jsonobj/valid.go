package jsonobj

// Valid reports whether data is one valid JSON value (RFC 8259), surrounded
// by optional white space. It accepts exactly what encoding/json's Valid
// accepts (a fuzz test holds the two together), including invalid UTF-8
// inside strings, but runs as one loop without a state machine of function
// values: tokens and proofs are validated on every request, and
// encoding/json's scanner was most of the cost of reading them.
func Valid(data []byte) bool {
	return ValidNames(data, maxValidDepth, nil)
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
func ValidNames(data []byte, limit int, names Names) bool {
	v := validator{data: data, limit: min(limit, maxValidDepth), names: names}
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
	limit int   // deepest nesting allowed
	names Names // or nil
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
		if v.names != nil {
			v.names.Name(mark, v.data[start:v.i], depth)
		}
		v.ws()
		if v.i >= len(v.data) || v.data[v.i] != ':' {
			return false
		}
		v.i++
		v.ws()
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
