package jsonobj_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/internal/jsonobj"
)

type tabled struct {
	name, other string
	n           float64
	flag        bool
}

var testTable = jsonobj.NewTable(jsonobj.IgnoreUnknown,
	jsonobj.Member[tabled]{Name: "name", Required: true, Read: func(d *tabled, v []byte) (ok bool) { d.name, ok = jsonobj.String(v); return }},
	jsonobj.Member[tabled]{Name: "n", Read: func(d *tabled, v []byte) (ok bool) { d.n, ok = jsonobj.Number(v); return }},
	jsonobj.Member[tabled]{Name: "flag", Read: func(d *tabled, _ []byte) bool { d.flag = true; return true }},
	jsonobj.Member[tabled]{Name: "x#S256", Read: func(d *tabled, v []byte) (ok bool) { d.other, ok = jsonobj.StringView(v); return }},
)

var strictTable = jsonobj.NewTable(jsonobj.RejectUnknown,
	jsonobj.Member[tabled]{Name: "name", Read: func(d *tabled, v []byte) (ok bool) { d.name, ok = jsonobj.String(v); return }},
)

var caseTable = jsonobj.NewTable(jsonobj.RejectCaseVariants,
	jsonobj.Member[tabled]{Name: "x#S256", Read: func(d *tabled, v []byte) (ok bool) { d.other, ok = jsonobj.String(v); return }},
)

func TestTable(t *testing.T) {
	var d tabled
	seen, err := testTable.Read([]byte(` {"n": 2.5, "\u006eame":"a\u00e9", "unknown":{"name":1}, "flag":null, "x#S256":"t"} `), &d)
	require.NoError(t, err)
	assert.Equal(t, tabled{name: "aé", other: "t", n: 2.5, flag: true}, d)
	assert.True(t, seen.Has(0) && seen.Has(1) && seen.Has(2) && seen.Has(3))

	seen, err = testTable.Read([]byte(`{"name":"a"}`), &d)
	require.NoError(t, err)
	assert.True(t, seen.Has(0))
	assert.False(t, seen.Has(1), "n absent")

	for _, tc := range []struct {
		table *jsonobj.Table[tabled]
		in    string
		want  error
	}{
		{testTable, `{"n":1}`, jsonobj.ErrMissing},
		{testTable, `{"name":"a","name":"b"}`, jsonobj.ErrDuplicate},
		{testTable, `{"name":"a","\u006eame":"b"}`, jsonobj.ErrDuplicate},
		{testTable, `{"name":1}`, jsonobj.ErrType},
		{testTable, `{"name":"a","n":"1"}`, jsonobj.ErrType},
		{testTable, `{"name":"a",}`, jsonobj.ErrInvalid},
		{testTable, `["name","a"]`, jsonobj.ErrInvalid},
		{testTable, `{"name":"a"} {}`, jsonobj.ErrInvalid},
		{testTable, ``, jsonobj.ErrInvalid},
		{strictTable, `{"name":"a","other":1}`, jsonobj.ErrUnknown},
		{strictTable, `{"Name":"a"}`, jsonobj.ErrUnknown},
		{caseTable, `{"X#s256":"a"}`, jsonobj.ErrNameCase},
		{caseTable, `{"x#S256":"a","X#S256":"b"}`, jsonobj.ErrNameCase},
	} {
		var d tabled
		_, err := tc.table.Read([]byte(tc.in), &d)
		assert.ErrorIs(t, err, tc.want, tc.in)
	}
	_, err = caseTable.Read([]byte(`{"x#S256":"a","other":1}`), &d)
	require.NoError(t, err, "unrelated members stay allowed")
	_, err = testTable.Read([]byte(`{"Name":"a"}`), &d)
	require.ErrorIs(t, err, jsonobj.ErrMissing, "IgnoreUnknown skips case variants; names stay exact")
}

func TestNewTableRefusesMistakes(t *testing.T) {
	m := jsonobj.Member[tabled]{Name: "a", Read: func(*tabled, []byte) bool { return true }}
	assert.Panics(t, func() { jsonobj.NewTable(jsonobj.IgnoreUnknown, m, m) })
	assert.Panics(t, func() { jsonobj.NewTable(jsonobj.IgnoreUnknown, jsonobj.Member[tabled]{Name: "b"}) })
}

// TestTableReadAllocates nothing of its own: the hot path of every token
// and proof.
func TestTableReadAllocatesNothing(t *testing.T) {
	data := []byte(`{"name":"abc","n":1,"unknown":[1,2,{"x":"y"}],"x#S256":"v"}`)
	var d tabled
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := caseTable.Read(data, &d); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

func TestStringView(t *testing.T) {
	raw := []byte(`"abc"`)
	s, ok := jsonobj.StringView(raw)
	require.True(t, ok)
	assert.Equal(t, "abc", s)
	s, ok = jsonobj.StringView([]byte(`"a\nb"`))
	require.True(t, ok)
	assert.Equal(t, "a\nb", s)
	for _, bad := range []string{``, `1`, `"`, `null`} {
		_, ok := jsonobj.StringView([]byte(bad))
		assert.False(t, ok, bad)
	}
}

func TestValid(t *testing.T) {
	for _, s := range []string{
		`{}`, ` [ ] `, `0`, `-0.5e+10`, `1E-2`, `"a\u00e9\"\\\/\b\f\n\r\t"`, `true`, `false`, `null`,
		`{"a":[1,{"b":null}],"c":"\ud800"}`, "\"\xff\"",
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	} {
		assert.True(t, jsonobj.Valid([]byte(s)), s)
		assert.True(t, json.Valid([]byte(s)), s)
	}
	for _, s := range []string{
		``, ` `, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `01`, `-`, `1.`, `1e`, `.5`, `+1`, `"\x"`, `"\u12"`, "\"\x01\"",
		`tru`, `nul`, `{} {}`, `[1] x`, `{"a":1 "b":2}`, `{1:2}`,
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	} {
		assert.False(t, jsonobj.Valid([]byte(s)), s)
		assert.False(t, json.Valid([]byte(s)), s)
	}
}

// FuzzValid holds Valid to encoding/json's Valid.
func FuzzValid(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e3,"x\u0041",true,false,null]}`, `[`, `"\`, `-01`, `{"a":1}x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := jsonobj.Valid(data), json.Valid(data); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", data, got, want)
		}
	})
}

// FuzzTable: whatever a table accepts, its members hold what encoding/json
// reads from the same object (which has no duplicates or case variants of
// the listed names, else the table refused it).
func FuzzTable(f *testing.F) {
	for _, s := range []string{`{"name":"a","n":1}`, `{"name":"a","name":"b"}`, `{"x#S256":"\u0041"}`, `{"n":1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var d tabled
		seen, err := testTable.Read(data, &d)
		if err != nil {
			return
		}
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(data, &m))
		var name string
		require.NoError(t, json.Unmarshal(m["name"], &name))
		assert.Equal(t, name, d.name)
		assert.Equal(t, seen.Has(1), m["n"] != nil)
	})
}

// TestReadMember: a nested object handed to a Read function is read
// without validating it again, with the same rules.
func TestReadMember(t *testing.T) {
	type outer struct{ inner tabled }
	var readInner error
	outerTable := jsonobj.NewTable(jsonobj.IgnoreUnknown,
		jsonobj.Member[outer]{Name: "inner", Read: func(o *outer, v []byte) bool {
			_, readInner = testTable.ReadMember(v, &o.inner)
			return readInner == nil
		}},
		jsonobj.Member[outer]{Name: "list", Read: func(o *outer, v []byte) bool {
			n := 0
			return jsonobj.MemberElements(v, func([]byte) error { n++; return nil }) == nil && n == 2
		}},
	)
	var o outer
	_, err := outerTable.Read([]byte(`{"inner": {"name":"a","n":1}, "list": [1, {"x":[]}]}`), &o)
	require.NoError(t, err)
	assert.Equal(t, "a", o.inner.name)
	_, err = outerTable.Read([]byte(`{"inner": {"name":"a","name":"b"}}`), &o)
	require.ErrorIs(t, err, jsonobj.ErrType)
	require.ErrorIs(t, readInner, jsonobj.ErrDuplicate)
	_, err = outerTable.Read([]byte(`{"inner": {"name":"a",}}`), &o)
	require.ErrorIs(t, err, jsonobj.ErrInvalid, "the whole is validated first")
}

// recordNames is a Names that records every name it is told, with its
// depth, and checks that Enter and Leave pair up.
type recordNames struct {
	names []string
	open  []int
	t     *testing.T
}

func (r *recordNames) Enter() int {
	r.open = append(r.open, len(r.names))
	return len(r.names)
}

func (r *recordNames) Leave(mark int) {
	require.Equal(r.t, r.open[len(r.open)-1], mark, "Leave pairs with the last Enter")
	r.open = r.open[:len(r.open)-1]
}

func (r *recordNames) Name(mark int, raw []byte, depth int) {
	require.Equal(r.t, r.open[len(r.open)-1], mark, "Name is told its object's mark")
	r.names = append(r.names, fmt.Sprintf("%d%s", depth, raw))
}

// TestValidNames: ValidNames limits nesting as jose.DepthWithin counts it
// (a top-level object or array at depth 1), and tells every member name,
// raw and with its depth, of objects at any depth.
func TestValidNames(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int
		valid bool
		names []string
	}{
		{`{}`, 1, true, nil},
		{`{"a":1}`, 1, true, []string{`1"a"`}},
		{`{"a":{"b":1}}`, 1, false, nil},
		{`{"a":{"b":1}}`, 2, true, []string{`1"a"`, `2"b"`}},
		{`[{"a":1}]`, 1, false, nil},
		{`[{"a":1}]`, 2, true, []string{`2"a"`}},
		{`[[1]]`, 1, false, nil},
		{`{"a":"{[{["}`, 1, true, []string{`1"a"`}},
		{` {"\u0061" : [ {"x":[]} ] , "b":2} `, 3, false, nil},
		{` {"\u0061" : [ {"x":[]} ] , "b":2} `, 4, true, []string{`1"\u0061"`, `3"x"`, `1"b"`}},
		{`{"a":1,}`, 5, false, nil},
		{`"x"`, 0, true, nil},
		{`{"a":1}`, 0, false, nil},
	} {
		r := &recordNames{t: t}
		valid := jsonobj.ValidNames([]byte(tc.in), tc.limit, r, nil)
		assert.Equal(t, tc.valid, valid, "%s at limit %d", tc.in, tc.limit)
		if tc.valid {
			assert.Equal(t, tc.names, r.names, tc.in)
			assert.Empty(t, r.open, "every object left")
			assert.Equal(t, jsonobj.Valid([]byte(tc.in)), jsonobj.ValidNames([]byte(tc.in), tc.limit, nil, nil), tc.in)
		}
	}
}

// FuzzReadSpans: on whatever ValidNames accepts, reading the members where
// it recorded them gives Read's verdict and values, for every policy.
func FuzzReadSpans(f *testing.F) {
	for _, s := range []string{
		`{"name":"a","n":1}`, `{"name":"a","name":"b"}`, `{"NAME":"a","name":"b"}`, `{}`, `[]`, `"x"`, ` { "name" : "a" } `,
		`{"name":"a","n":"x"}`, `{"n":1}`, `{"a":{"name":1},"name":"b"}`,
		`{"name":"a","a1":1,"a2":2,"a3":3,"a4":4,"a5":5,"a6":6,"a7":7,"a8":8,"a9":9,"a10":10,"a11":11,"a12":12,"a13":13,"a14":14,"a15":15,"a16":16,"a17":17,"a18":18,"a19":19,"a20":20,"name":"b"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var spans jsonobj.Spans
		if !jsonobj.ValidNames(data, 10000, nil, &spans) {
			return
		}
		for _, table := range []*jsonobj.Table[tabled]{testTable, strictTable, caseTable} {
			var got, want tabled
			gotSeen, gotErr := table.ReadSpans(data, &spans, &got)
			wantSeen, wantErr := table.Read(data, &want)
			require.Equal(t, wantErr, gotErr, "%q", data)
			require.Equal(t, wantSeen, gotSeen, "%q", data)
			require.Equal(t, want, got, "%q", data)
		}
	})
}

// TestValidStringsEightBytesAtATime: a quote, a backslash escape, a
// control character or a byte outside ASCII at every position of strings
// of every length around the eight-byte steps gets encoding/json's
// verdict.
func TestValidStringsEightBytesAtATime(t *testing.T) {
	for n := 1; n <= 20; n++ {
		for i := range n {
			for _, c := range []string{`"`, `\n`, `\u00e9`, `\x`, "\x00", "\x1f", "\x7f", "\xff", "é", `\`, " "} {
				s := []byte(`{"a":"` + strings.Repeat("b", i) + c + strings.Repeat("b", n-i) + `"}`)
				require.Equal(t, json.Valid(s), jsonobj.Valid(s), "%q", s)
			}
		}
	}
}
