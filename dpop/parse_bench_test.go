package dpop

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkParseProof measures reading a proof's header, claims and JWK:
// the "header and payload reading" line of the DPoP cost budget.
func BenchmarkParseProof(b *testing.B) {
	header := []byte(`{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}}`)
	claims := []byte(`{"jti":"e1j3V_bKic8-LAEB","htm":"GET","htu":"https://api.example/resource","iat":1796000000,"ath":"fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"}`)
	b.ReportAllocs()
	for b.Loop() {
		h, err := parseHeader(header)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := parseClaims(claims); err != nil {
			b.Fatal(err)
		}
		if _, err := parseJWK(h.jwk); err != nil {
			b.Fatal(err)
		}
	}
}

// TestKeyCacheRemembersOnlyWhatItRead: a JWK text is read once; the same
// key spelt differently is read again, gives the same thumbprint, and a
// text that fails to read is never remembered (it fails every time).
func TestKeyCacheRemembersOnlyWhatItRead(t *testing.T) {
	c := newKeyCache()
	good := []byte(`{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`)
	_, ok := c.get(good)
	require.False(t, ok)
	k, err := parseJWK(good)
	require.NoError(t, err)
	key, err := k.publicKey()
	require.NoError(t, err)
	c.put(good, keyEntry{thumbprint: k.thumbprint(), key: key})
	e, ok := c.get(good)
	require.True(t, ok)
	require.Equal(t, k.thumbprint(), e.thumbprint)
	spaced := []byte(` ` + string(good))
	_, ok = c.get(spaced)
	require.False(t, ok, "another spelling is another text")
	_, ok = c.get(make([]byte, keyCacheMaxJWK+1))
	require.False(t, ok)
}
