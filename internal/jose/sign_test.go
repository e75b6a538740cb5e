package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeySignerSignsWhatVerifies(t *testing.T) {
	ec256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ec521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	require.NoError(t, err)
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	for _, tc := range []struct {
		key       crypto.Signer
		alg, want string
	}{
		{ec256, "", "ES256"},
		{ec521, "", "ES512"},
		{ed, "", "EdDSA"},
		{ed, "Ed25519", "Ed25519"},
		{rsaKey, "", "PS256"},
		{rsaKey, "RS256", "RS256"},
		{rsaKey, "PS512", "PS512"},
	} {
		s, err := NewKeySigner(tc.key, tc.alg)
		require.NoError(t, err, tc.want)
		assert.Equal(t, tc.want, s.Algorithm())
		input := []byte("eyJhbGciOiJub25lIn0.eyJ4IjoxfQ")
		sig, err := s.Sign(input)
		require.NoError(t, err)
		require.NoError(t, Verify(tc.want, string(input), sig, s.Public()), tc.want)
	}
}

func TestKeySignerRefusesMisfits(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		key crypto.Signer
		alg string
	}{
		"nil key":        {nil, ""},
		"ES384 on P-256": {ec, "ES384"},
		"RS256 on EC":    {ec, "RS256"},
		"small RSA":      {small, ""},
		"HS256 on RSA":   {small, "HS256"},
	} {
		_, err := NewKeySigner(tc.key, tc.alg)
		require.ErrorIs(t, err, ErrSignerConfig, name)
	}
}
