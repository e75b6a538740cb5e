package jsonobj

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDecodeLeadingWhiteSpace: white space before a value does not turn the
// exact-name checks off, at the top or inside.
func TestDecodeLeadingWhiteSpace(t *testing.T) {
	type inner struct {
		Role string `json:"role"`
	}
	var v struct {
		Role  string  `json:"role"`
		Inner inner   `json:"inner"`
		List  []inner `json:"list"`
	}
	for _, data := range []string{
		" {\"ROLE\":\"admin\"}",
		"\n\t{\"role\":\"user\",\"role\":\"admin\"}",
		`{"inner": {"ROLE":"admin"}}`,
		`{"list": [ {"ROLE":"admin"}]}`,
	} {
		assert.Error(t, Decode([]byte(data), &v), "%q", data)
	}
	require.NoError(t, Decode([]byte(" {\"role\":\"user\", \"inner\": {\"role\":\"x\"}}\n"), &v))
	assert.Equal(t, "user", v.Role)
	assert.Equal(t, "x", v.Inner.Role)
}

// node embeds itself, as encoding/json allows.
type node struct {
	*node
	X int `json:"x"`
}

// TestDecodeSelfEmbedding: a type that embeds itself is decoded, not walked
// until the stack overflows.
func TestDecodeSelfEmbedding(t *testing.T) {
	var n node
	require.NoError(t, Decode([]byte(`{"x":1}`), &n))
	assert.Equal(t, 1, n.X)
	assert.Nil(t, n.node, "nothing names the embedded field")
	assert.ErrorIs(t, Decode([]byte(`{"X":1}`), &n), ErrNameCase)
}
