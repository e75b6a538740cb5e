package dpop

import (
	"context"
	"crypto/elliptic"
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// highS returns the other valid ES256 signature of a compact JWS: (r, n−s)
// for (r, s). Both verify; only the string differs.
func highS(t *testing.T, compact string) string {
	t.Helper()
	i := strings.LastIndexByte(compact, '.')
	sig, err := b64Strict.DecodeString(compact[i+1:])
	require.NoError(t, err)
	require.Len(t, sig, 64)
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(elliptic.P256().Params().N, s)
	twin := append([]byte(nil), sig...)
	s.FillBytes(twin[32:])
	return compact[:i+1] + b64u(twin)
}

// TestHighSTwinProofIsAReplay: an ES256 proof's twin with the other valid
// signature is the same proof to the replay cache, whose key is the proof
// key's thumbprint and the jti, never the proof's bytes.
func TestHighSTwinProofIsAReplay(t *testing.T) {
	testKeys(t)
	clock := newFakeClock()
	s, err := NewSigner(ecKey, WithSignerClock(clock.Now))
	require.NoError(t, err)
	req := testRequest()
	req.JKT = s.Thumbprint()
	for _, twinFirst := range []bool{false, true} {
		v := newTestVerifier(t, clock)
		proof, err := s.Proof("GET", testHTU, testToken, "")
		require.NoError(t, err)
		twin := highS(t, proof)
		require.NotEqual(t, proof, twin)
		first, second := proof, twin
		if twinFirst {
			first, second = twin, proof
		}
		p, err := v.Verify(context.Background(), first, req)
		require.NoError(t, err, "either signature verifies")
		_, err = v.Verify(context.Background(), second, req)
		require.ErrorIs(t, err, ErrReplayed, "twin first: %v", twinFirst)
		assert.Equal(t, NewReplayKey(s.Thumbprint(), p.ID), NewReplayKey(p.Thumbprint, p.ID))
	}
	t.Run("the twin verifies on its own", func(t *testing.T) {
		v := newTestVerifier(t, clock)
		proof, err := s.Proof("GET", testHTU, testToken, "")
		require.NoError(t, err)
		_, err = v.Verify(context.Background(), highS(t, proof), req)
		require.NoError(t, err)
	})
}

// flipUnusedBit returns s with the lowest bit of its last base64url
// character set: for a 32-byte value the last character has two unused
// low bits, so the decoded bytes are the same and only the spelling
// differs.
func flipUnusedBit(t *testing.T, s string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, s[len(s)-1])
	require.GreaterOrEqual(t, i, 0)
	require.Zero(t, i&1, "canonical input")
	return s[:len(s)-1] + string(alphabet[i|1])
}

// TestNonCanonicalECCoordinatesRefused: an EC JWK whose x or y has
// non-zero unused bits in its last character is refused, both by
// ThumbprintJWK and in a proof's jwk (each spelling would have its own
// thumbprint for the same key).
func TestNonCanonicalECCoordinatesRefused(t *testing.T) {
	testKeys(t)
	var base map[string]string
	require.NoError(t, json.Unmarshal([]byte(rfc9449JWK), &base))
	for _, member := range []string{"x", "y"} {
		jwk := map[string]string{}
		for k, v := range base {
			jwk[k] = v
		}
		jwk[member] = flipUnusedBit(t, jwk[member])
		b, err := json.Marshal(jwk)
		require.NoError(t, err)
		_, err = ThumbprintJWK(b)
		require.ErrorIs(t, err, ErrKey, member)
	}
	// P-384 and P-521 coordinates (48 and 66 bytes) fill their last
	// character: only P-256 has spare bits.
	for _, member := range []string{"x", "y"} {
		jwk := jwkMap(t, ecKey.Public())
		jwk[member] = flipUnusedBit(t, jwk[member].(string))
		v := newTestVerifier(t, newFakeClock())
		_, err := v.Verify(context.Background(), handProof(t, ecKey, "ES256", func(h, c map[string]any) { h["jwk"] = jwk }), testRequest())
		require.ErrorIs(t, err, ErrKey, member)
	}
}
