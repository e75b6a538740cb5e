package jsonobj_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/internal/jsonobj"
)

type member struct{ name, value string }

func members(t *testing.T, in string) ([]member, error) {
	t.Helper()
	var out []member
	err := jsonobj.Members([]byte(in), func(name string, v []byte) error {
		out = append(out, member{name, string(v)})
		return nil
	})
	return out, err
}

func TestMembers(t *testing.T) {
	got, err := members(t, ` { "a" : 1 , "b":"x,}", "c":{"d":[1,{"e":"}"}]}, "\u0061":null } `)
	require.NoError(t, err)
	assert.Equal(t, []member{{"a", "1"}, {"b", `"x,}"`}, {"c", `{"d":[1,{"e":"}"}]}`}, {"a", "null"}}, got,
		"names are unescaped, so duplicates can be detected by the caller")

	got, err = members(t, `{}`)
	require.NoError(t, err)
	assert.Empty(t, got)

	for _, bad := range []string{``, `[]`, `"s"`, `{"a":1,}`, `{"a":1} {}`, `{"a"}`} {
		_, err := members(t, bad)
		require.ErrorIs(t, err, jsonobj.ErrInvalid, bad)
	}
}

func TestStringAndNumber(t *testing.T) {
	s, ok := jsonobj.String([]byte(`"a\"b\u00e9"`))
	assert.True(t, ok)
	assert.Equal(t, "a\"bé", s)
	_, ok = jsonobj.String([]byte(`1`))
	assert.False(t, ok)
	f, ok := jsonobj.Number([]byte(`1.5e3`))
	assert.True(t, ok)
	assert.Equal(t, 1500.0, f)
	for _, bad := range []string{`"1"`, `true`, `null`, ``} {
		_, ok = jsonobj.Number([]byte(bad))
		assert.False(t, ok, bad)
	}
}

// FuzzMembers: Members agrees with encoding/json on what is an object, and
// every value it hands out is itself valid JSON.
func FuzzMembers(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":[{"c":"d"}],"e":"\u0066"}`))
	f.Add([]byte(`{"a":"}\"{"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		err := jsonobj.Members(b, func(name string, v []byte) error {
			require.True(t, json.Valid(v), "value %q", v)
			return nil
		})
		var obj map[string]json.RawMessage
		require.Equal(t, json.Unmarshal(b, &obj) == nil && obj != nil, err == nil)
	})
}
