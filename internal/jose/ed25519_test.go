package jose_test

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/internal/jose"
)

// TestEd25519NameFitsEd25519KeysOnly: RFC 9864's fully-specified name Ed25519
// is an asymmetric algorithm beside EdDSA, and fits an Ed25519 key only.
func TestEd25519NameFitsEd25519KeysOnly(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	input := "eyJhbGciOiJFZDI1NTE5In0.e30"
	sig := ed25519.Sign(priv, []byte(input))

	for _, alg := range []string{"EdDSA", "Ed25519"} {
		assert.True(t, jose.Asymmetric(alg), alg)
		require.NoError(t, jose.KeyFits(alg, pub), alg)
		require.NoError(t, jose.Verify(alg, input, sig, pub), alg)
		bad := append([]byte(nil), sig...)
		bad[0] ^= 1
		require.ErrorIs(t, jose.Verify(alg, input, bad, pub), jose.ErrSignature, alg)
	}
	for _, alg := range []string{"ed25519", "ED25519", "Ed448", "EdDSA25519"} {
		assert.False(t, jose.Asymmetric(alg), alg)
		require.ErrorIs(t, jose.Verify(alg, input, sig, pub), jose.ErrAlgorithm, alg)
	}

	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ed448ish := ed25519.PublicKey(make([]byte, 57)) // an Ed448 key's length
	for name, key := range map[string]any{
		"P-256 key":            &ec.PublicKey,
		"X25519 key":           x.PublicKey(),
		"X25519 key bytes":     ed25519.PublicKey(x.PublicKey().Bytes()[:31]),
		"Ed448-sized key":      ed448ish,
		"RSA key":              &rk.PublicKey,
		"Ed25519 private key":  priv,
		"raw bytes of the key": []byte(pub),
	} {
		for _, alg := range []string{"EdDSA", "Ed25519"} {
			require.ErrorIs(t, jose.KeyFits(alg, key), jose.ErrKeyType, "%s with %s", alg, name)
			require.ErrorIs(t, jose.Verify(alg, input, sig, key), jose.ErrKeyType, "%s with %s", alg, name)
		}
	}
	// An Ed25519 key fits no other algorithm.
	for _, alg := range []string{"ES256", "RS256", "PS256"} {
		require.ErrorIs(t, jose.KeyFits(alg, pub), jose.ErrKeyType, alg)
	}
}
