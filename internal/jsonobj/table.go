package jsonobj

import (
	"errors"
	"strings"
	"unsafe"
)

// Errors of [Table.Read], besides [ErrInvalid], [ErrDuplicate] and
// [ErrNameCase]. They carry no member name or value: callers wrap them in
// their own sentinels, and the input may be an attacker's.
var (
	ErrType    = errors.New("jsonobj: member has the wrong type")
	ErrMissing = errors.New("jsonobj: required member missing")
	ErrUnknown = errors.New("jsonobj: member not allowed")
)

// Member is one member that a [Table] reads: its exact, case-sensitive name
// and how its raw JSON value is decoded into a field of *T.
type Member[T any] struct {
	// Name is the member's name, compared exactly after unescaping.
	Name string
	// Read decodes value into dst and reports whether value has the JSON
	// type the member needs. It is called at most once per object.
	Read func(dst *T, value []byte) bool
	// Required makes an object without this member fail with ErrMissing.
	Required bool
}

// Unknown says what a [Table] does with a member it does not list.
type Unknown uint8

const (
	// IgnoreUnknown skips every member not in the table.
	IgnoreUnknown Unknown = iota
	// RejectCaseVariants skips unknown members but fails with
	// [ErrNameCase] on one whose name equals a listed name when case is
	// ignored ("JKT" beside "jkt"), so that a parser folding case (such as
	// encoding/json) cannot read another value than this table did.
	RejectCaseVariants
	// RejectUnknown fails with [ErrUnknown] on any member not listed.
	RejectUnknown
)

// Table reads the top-level members of one JSON object into a *T by exact
// name: each listed member may appear once ([ErrDuplicate]), must have the
// type its Read accepts ([ErrType]), and must be present when Required
// ([ErrMissing]); unlisted members follow the table's [Unknown] policy.
//
// A Table is built once (a package-level variable) and is safe for
// concurrent use. Reading allocates nothing of its own: member names are
// compared in place (only a name written with escapes is unescaped), so
// the only allocations are those of the Read functions.
type Table[T any] struct {
	members  []Member[T]
	required Seen
	unknown  Unknown
}

// Seen is the set of a table's members present in one object: bit i for the
// i-th member given to [NewTable].
type Seen uint64

// Has reports whether the i-th member of the table was present.
func (s Seen) Has(i int) bool { return s&(1<<i) != 0 }

// NewTable returns a table of members (at most 64, with distinct names).
// It panics on a table that breaks these rules: tables are fixed at
// compile time, so that is a programming error, never one of input.
func NewTable[T any](unknown Unknown, members ...Member[T]) *Table[T] {
	if len(members) > 64 {
		panic("jsonobj: more than 64 members in a table")
	}
	t := &Table[T]{members: members, unknown: unknown}
	for i, m := range members {
		if m.Read == nil {
			panic("jsonobj: member " + m.Name + " has no Read")
		}
		for _, o := range members[:i] {
			if o.Name == m.Name {
				panic("jsonobj: member " + m.Name + " listed twice")
			}
		}
		if m.Required {
			t.required |= 1 << i
		}
	}
	return t
}

// Read decodes the JSON object data into dst and returns which members were
// present. It fails with [ErrInvalid] when data is not one valid JSON
// object, and with the errors listed on [Table]; dst may then be partly
// filled.
func (t *Table[T]) Read(data []byte, dst *T) (Seen, error) {
	if !jsonValid(data) {
		return 0, ErrInvalid
	}
	return t.read(data, dst)
}

// ReadMember is Read for a value that a Member's Read function received
// (a nested object): the enclosing object was validated as a whole, so the
// value is not validated again. Passing it anything else is a programming
// error.
func (t *Table[T]) ReadMember(value []byte, dst *T) (Seen, error) { return t.read(value, dst) }

// ReadSpans is Read for data that [ValidNames] accepted just before,
// recording spans: data is not validated again, and its members are read
// where spans says they are, without walking the object again (unless
// there were more than spans holds). Passing it anything else is a
// programming error.
func (t *Table[T]) ReadSpans(data []byte, spans *Spans, dst *T) (Seen, error) {
	if !spans.object {
		return 0, ErrInvalid
	}
	if spans.overflow {
		return t.read(data, dst)
	}
	var seen Seen
	for _, s := range spans.at[:spans.n] {
		if err := t.member(data[s.name:s.nameEnd], data[s.value:s.valueEnd], dst, &seen); err != nil {
			return seen, err
		}
	}
	return t.finish(seen)
}

func (t *Table[T]) read(data []byte, dst *T) (Seen, error) {
	var seen Seen
	w, err := startWalk(data)
	if err != nil {
		return 0, err
	}
	for {
		rawName, value, ok := w.next()
		if !ok {
			break
		}
		if err := t.member(rawName, value, dst, &seen); err != nil {
			return seen, err
		}
	}
	return t.finish(seen)
}

// member reads one member into dst and adds it to seen.
func (t *Table[T]) member(rawName, value []byte, dst *T, seen *Seen) error {
	i := t.index(rawName)
	if i < 0 {
		if t.unknown == IgnoreUnknown {
			return nil
		}
		return t.unknownMember(rawName)
	}
	if seen.Has(i) {
		return ErrDuplicate
	}
	*seen |= 1 << i
	if !t.members[i].Read(dst, value) {
		return ErrType
	}
	return nil
}

// finish checks that every required member was seen.
func (t *Table[T]) finish(seen Seen) (Seen, error) {
	if seen&t.required != t.required {
		return seen, ErrMissing
	}
	return seen, nil
}

// index returns the position of the member named by the raw (still quoted)
// JSON string rawName, or -1.
func (t *Table[T]) index(rawName []byte) int {
	body := rawName[1 : len(rawName)-1]
	if !literal(body) {
		name, ok := String(rawName)
		if !ok {
			return -1
		}
		body = unsafe.Slice(unsafe.StringData(name), len(name))
	}
	for i := range t.members {
		// The conversion in a comparison does not allocate.
		if string(body) == t.members[i].Name {
			return i
		}
	}
	return -1
}

// unknownMember applies the table's policy to a member it does not list.
func (t *Table[T]) unknownMember(rawName []byte) error {
	if t.unknown == RejectUnknown {
		return ErrUnknown
	}
	name, _ := StringView(rawName) // compared only, never kept
	for _, m := range t.members {
		if strings.EqualFold(name, m.Name) {
			return ErrNameCase
		}
	}
	return nil
}

// walker steps through the top-level members of one valid JSON object.
type walker struct {
	data []byte
	i    int // at the next member's name, or at '}'
}

func newWalker(data []byte) (walker, error) {
	if !jsonValid(data) {
		return walker{}, ErrInvalid
	}
	return startWalk(data)
}

// startWalk starts a walk of data, which must be valid JSON.
func startWalk(data []byte) (walker, error) {
	i := skipWS(data, 0)
	if i >= len(data) || data[i] != '{' {
		return walker{}, ErrInvalid
	}
	return walker{data: data, i: skipWS(data, i+1)}, nil
}

// next returns the next member's raw name (with its quotes) and raw value.
func (w *walker) next() (rawName, value []byte, ok bool) {
	data, i := w.data, w.i
	if i >= len(data) || data[i] != '"' {
		return nil, nil, false // '}': the end
	}
	end := endOfString(data, i)
	rawName = data[i:end]
	i = skipWS(data, end) // at ':'
	i = skipWS(data, i+1)
	vend := endOfValue(data, i)
	value = data[i:vend]
	i = skipWS(data, vend)
	if data[i] == ',' {
		i = skipWS(data, i+1)
	}
	w.i = i
	return rawName, value, true
}

// StringView is [String] without the copy: the string it returns shares
// raw's memory when raw holds no escape. Use it only on data that is never
// modified afterwards (a decoded token kept as it is).
func StringView(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	if literal(body) {
		return unsafe.String(unsafe.SliceData(body), len(body)), true
	}
	return String(raw)
}
