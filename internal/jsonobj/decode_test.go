package jsonobj_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/internal/jsonobj"
)

func TestElementsAndStrings(t *testing.T) {
	var got []string
	require.NoError(t, jsonobj.Elements([]byte(` [ 1 , "a,]" , {"b":[2]}, [] ] `), func(v []byte) error {
		got = append(got, string(v))
		return nil
	}))
	assert.Equal(t, []string{"1", `"a,]"`, `{"b":[2]}`, "[]"}, got)
	require.NoError(t, jsonobj.Elements([]byte(`[]`), func([]byte) error { t.Fatal("no element"); return nil }))
	for _, bad := range []string{``, `{}`, `"s"`, `[1,]`, `[1] []`} {
		require.ErrorIs(t, jsonobj.Elements([]byte(bad), func([]byte) error { return nil }), jsonobj.ErrInvalid, bad)
	}

	s, ok := jsonobj.Strings([]byte(`["a", "\u0062"]`))
	assert.True(t, ok)
	assert.Equal(t, []string{"a", "b"}, s)
	s, ok = jsonobj.Strings([]byte(`[]`))
	assert.True(t, ok)
	assert.NotNil(t, s)
	for _, bad := range []string{`"a"`, `["a",1]`, `[null]`, `{"a":"b"}`, `[["a"]]`} {
		_, ok := jsonobj.Strings([]byte(bad))
		assert.False(t, ok, bad)
	}
}

type inner struct {
	Amount string `json:"amount"`
}

type embedded struct {
	Shared string `json:"shared"`
	Deep   string
}

type outer struct {
	embedded
	Name    string           `json:"name"`
	Shared  string           `json:"shared"` // shallower: wins over embedded.Shared
	Inner   inner            `json:"inner"`
	List    []inner          `json:"list"`
	ByKey   map[string]inner `json:"byKey"`
	Ptr     *inner           `json:"ptr"`
	Skipped string           `json:"-"`
	Raw     json.RawMessage  `json:"raw"`
	Any     any              `json:"any"`
}

func TestDecode(t *testing.T) {
	var v outer
	require.NoError(t, jsonobj.Decode([]byte(`{"name":"n","shared":"s","Deep":"d","inner":{"amount":"1"},`+
		`"list":[{"amount":"2"}],"byKey":{"K":{"amount":"3"}},"ptr":{"amount":"4"},"raw":{"AMOUNT":1},"any":{"Name":1},"unknown":{"NAME":1}}`), &v))
	assert.Equal(t, "n", v.Name)
	assert.Equal(t, "s", v.Shared)
	assert.Equal(t, "d", v.Deep)
	assert.Equal(t, "1", v.Inner.Amount)
	assert.Equal(t, "2", v.List[0].Amount)
	assert.Equal(t, "3", v.ByKey["K"].Amount)
	assert.Equal(t, "4", v.Ptr.Amount)

	for _, tc := range []struct {
		in   string
		want error
	}{
		{`{"Name":"n"}`, jsonobj.ErrNameCase},
		{`{"name":"n","NAME":"m"}`, jsonobj.ErrNameCase},
		{`{"deep":"d"}`, jsonobj.ErrNameCase},
		{`{"inner":{"Amount":"1"}}`, jsonobj.ErrNameCase},
		{`{"list":[{"amount":"1"},{"aMount":"2"}]}`, jsonobj.ErrNameCase},
		{`{"byKey":{"k":{"AMOUNT":"1"}}}`, jsonobj.ErrNameCase},
		{`{"ptr":{"Amount":"1"}}`, jsonobj.ErrNameCase},
		{`{"name":"n","name":"m"}`, jsonobj.ErrDuplicate},
		{`{"inner":{"amount":"1","amount":"2"}}`, jsonobj.ErrDuplicate},
		{`{"name":`, jsonobj.ErrInvalid},
	} {
		var v outer
		require.ErrorIs(t, jsonobj.Decode([]byte(tc.in), &v), tc.want, tc.in)
	}
	var wrongType outer
	require.Error(t, jsonobj.Decode([]byte(`{"name":1}`), &wrongType), "encoding/json still checks types")
	require.Error(t, jsonobj.Decode([]byte(`{}`), nil))
}

// FuzzDecode: Decode never panics, and whatever it accepts encoding/json
// decodes to the same value.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"name":"n","inner":{"amount":"1"}}`, `{"Name":"n"}`, `{"list":[{"amount":"1"}]}`, `[]`, `{"name":"a","name":"b"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got, want outer
		if jsonobj.Decode(data, &got) != nil {
			return
		}
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("Decode accepted what encoding/json refuses: %v", err)
		}
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(want)
		if string(a) != string(b) {
			t.Fatalf("Decode %s, encoding/json %s", a, b)
		}
	})
}
