package dpop

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// edProof makes a proof signed with edKey whose header says alg and
// carries jwk (edKey's public JWK when nil), without golang-jwt, which
// knows only the name EdDSA.
func edProof(t *testing.T, alg string, jwk map[string]any) string {
	t.Helper()
	if jwk == nil {
		jwk = jwkMap(t, edKey.Public())
	}
	h := map[string]any{"typ": "dpop+jwt", "alg": alg, "jwk": jwk}
	c := map[string]any{"jti": rand.Text(), "htm": "GET", "htu": testHTU, "iat": testNow.Unix(), "ath": testATH}
	hj, err := json.Marshal(h)
	require.NoError(t, err)
	cj, err := json.Marshal(c)
	require.NoError(t, err)
	input := b64u(hj) + "." + b64u(cj)
	return input + "." + b64u(ed25519.Sign(edKey, []byte(input)))
}

// TestEd25519ProofsUnderBothNames: proofs labelled with RFC 9864's
// fully-specified name Ed25519 are accepted beside EdDSA, by default.
func TestEd25519ProofsUnderBothNames(t *testing.T) {
	testKeys(t)
	assert.Contains(t, DefaultAlgorithms, "EdDSA")
	assert.Contains(t, DefaultAlgorithms, "Ed25519")
	thumb, err := Thumbprint(edKey.Public())
	require.NoError(t, err)
	req := testRequest()
	req.JKT = thumb

	for _, alg := range []string{"EdDSA", "Ed25519"} {
		t.Run(alg+"/by hand", func(t *testing.T) {
			v := newTestVerifier(t, newFakeClock())
			p, err := v.Verify(context.Background(), edProof(t, alg, nil), req)
			require.NoError(t, err)
			assert.Equal(t, alg, p.Algorithm)
			assert.Equal(t, thumb, p.Thumbprint)
		})
		t.Run(alg+"/Signer", func(t *testing.T) {
			clock := newFakeClock()
			v := newTestVerifier(t, clock)
			s, err := NewSigner(edKey, WithSignerAlgorithm(alg), WithSignerClock(clock.Now))
			require.NoError(t, err)
			assert.Equal(t, alg, s.Algorithm())
			proof, err := s.Proof("GET", testHTU, testToken, "")
			require.NoError(t, err)
			p, err := v.Verify(context.Background(), proof, req)
			require.NoError(t, err)
			assert.Equal(t, alg, p.Algorithm)
		})
	}
	t.Run("Signer default stays EdDSA", func(t *testing.T) {
		s, err := NewSigner(edKey)
		require.NoError(t, err)
		assert.Equal(t, "EdDSA", s.Algorithm())
	})
	t.Run("Signer refuses names that do not fit the key", func(t *testing.T) {
		for _, tc := range []struct {
			key crypto.Signer
			alg string
		}{{edKey, "ES256"}, {edKey, "ed25519"}, {edKey, "Ed448"}, {ecKey, "Ed25519"}, {rsaKey, "Ed25519"}} {
			_, err := NewSigner(tc.key, WithSignerAlgorithm(tc.alg))
			require.ErrorIs(t, err, ErrConfig, "%s with %T", tc.alg, tc.key)
		}
	})
	t.Run("each name is allowed on its own", func(t *testing.T) {
		v := newTestVerifier(t, newFakeClock(), WithAlgorithms("EdDSA"))
		_, err := v.Verify(context.Background(), edProof(t, "Ed25519", nil), req)
		require.ErrorIs(t, err, ErrAlgorithm)
		v = newTestVerifier(t, newFakeClock(), WithAlgorithms("Ed25519"))
		_, err = v.Verify(context.Background(), edProof(t, "EdDSA", nil), req)
		require.ErrorIs(t, err, ErrAlgorithm)
		_, err = v.Verify(context.Background(), edProof(t, "Ed25519", nil), req)
		require.NoError(t, err)
	})
	t.Run("never with another curve", func(t *testing.T) {
		x := jwkMap(t, edKey.Public())["x"].(string)
		for name, jwk := range map[string]map[string]any{
			"Ed448 key":  {"kty": "OKP", "crv": "Ed448", "x": b64u(make([]byte, 57))},
			"X25519 key": {"kty": "OKP", "crv": "X25519", "x": x},
			"P-256 key":  jwkMap(t, ecKey.Public()),
			"RSA key":    jwkMap(t, rsaKey.Public()),
			"no crv":     {"kty": "OKP", "x": x},
		} {
			for _, alg := range []string{"Ed25519", "EdDSA"} {
				_, err := newTestVerifier(t, newFakeClock()).Verify(context.Background(), edProof(t, alg, jwk), testRequest())
				require.ErrorIs(t, err, ErrKey, "%s with %s", alg, name)
			}
		}
	})
}
