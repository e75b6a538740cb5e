package jose

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzDecodeBase64URL holds decodeBase64URL to the standard library's
// strict, unpadded base64url decoder: the same verdict and the same bytes
// on every input without CR or LF (which encoding/base64 skips), and a
// refusal of every input with one.
func FuzzDecodeBase64URL(f *testing.F) {
	for _, s := range []string{"", "A", "AA", "AQ", "AAA", "AAE", "AAAA", "eyJhbGciOiJSUzI1NiJ9", "a-_b", "ab+/", "AA==", "AA\nAA", "AA\rA", "\xff\xff", "0w", "00"} {
		f.Add(s)
	}
	std := base64.RawURLEncoding.Strict()
	f.Fuzz(func(t *testing.T, s string) {
		dst := make([]byte, decodedLen(len(s)))
		ok := decodeBase64URL(dst, s)
		if strings.ContainsAny(s, "\r\n") {
			require.False(t, ok, "%q", s)
			return
		}
		want, err := std.DecodeString(s)
		require.Equal(t, err == nil, ok, "%q", s)
		if ok {
			require.Equal(t, want, dst, "%q", s)
		}
	})
}

// TestDecodeBase64URLRefuses: each way out of the canonical encoding is
// refused on its own, in the last group of four as in the middle.
func TestDecodeBase64URLRefuses(t *testing.T) {
	for _, s := range []string{
		"A", "AAAAA", // 4k+1 characters
		"AB", "AAB", "AAAAAB", // non-zero bits after the last byte
		"AA==", "AAA=", // padding
		"AA+A", "AA/A", "AAAA+AAA", // base64 (not base64url) characters
		"AA\nA", "AAAA\r\nAAAA", // line breaks
		"AA A", "AA\x00A", "AA\xffA", "A.AA",
	} {
		dst := make([]byte, decodedLen(len(s)))
		assert.False(t, decodeBase64URL(dst, s), "%q", s)
	}
	dst := make([]byte, 6)
	require.True(t, decodeBase64URL(dst, "AQIDBAUG"))
	assert.Equal(t, []byte{1, 2, 3, 4, 5, 6}, dst)
}
