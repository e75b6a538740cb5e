package jose

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVerifyHotAgreesWithGolangJWT: for RS256, ES256 and EdDSA, the direct
// standard-library verification gives golang-jwt's verdict on good
// signatures, tampered ones, and ES256 signatures whose r or s is zero,
// has leading zero bytes or its high bit set, or has the wrong length.
func TestVerifyHotAgreesWithGolangJWT(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, edk, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	keys := []struct {
		alg       string
		priv, pub any
	}{
		{"RS256", rk, &rk.PublicKey},
		{"ES256", ek, &ek.PublicKey},
		{"EdDSA", edk, edk.Public()},
	}
	for _, k := range keys {
		m := method(k.alg)
		for i := range 40 {
			input := "eyJhbGciOiJ4In0.eyJpIjo" + string(rune('A'+i))
			sig, err := m.Sign(input, k.priv)
			require.NoError(t, err)
			variants := [][]byte{sig, append([]byte{}, sig[:len(sig)-1]...), append(append([]byte{}, sig...), 0)}
			bad := append([]byte{}, sig...)
			bad[i%len(bad)] ^= 1
			variants = append(variants, bad)
			if k.alg == "ES256" {
				zeroR := append([]byte{}, sig...)
				clear(zeroR[:32])
				zeroS := append([]byte{}, sig...)
				clear(zeroS[32:])
				high := append([]byte{}, sig...)
				high[0] |= 0x80
				lead := append([]byte{}, sig...)
				lead[0], lead[32] = 0, 0
				variants = append(variants, zeroR, zeroS, high, lead, make([]byte, 64))
			}
			for j, v := range variants {
				want := m.Verify(input, v, k.pub) == nil
				got, done := verifyHot(k.alg, input, v, k.pub)
				require.True(t, done)
				assert.Equal(t, want, got, "%s sig %d variant %d", k.alg, i, j)
				if j == 0 {
					assert.True(t, got, "%s: a good signature verifies", k.alg)
				}
			}
		}
	}
	_, done := verifyHot("PS256", "a.b", nil, &rk.PublicKey)
	assert.False(t, done, "other algorithms stay with golang-jwt")
	_ = jwt.SigningMethodPS256
}

// TestVerifyHotAllocations pins the allocations of an ES256 and an EdDSA
// verification to those of the standard library itself.
func TestVerifyHotAllocations(t *testing.T) {
	_, edk, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	sig, err := method("EdDSA").Sign("a.b", edk)
	require.NoError(t, err)
	pub := edk.Public()
	assert.Zero(t, testing.AllocsPerRun(50, func() {
		if Verify("EdDSA", "a.b", sig, pub) != nil {
			t.Fatal("bad signature")
		}
	}))
}

// TestSplitRefusesEveryOtherSpelling: a byte outside base64url and "." in
// any part fails, including the \r and \n that Go's decoder would skip,
// padding, and standard-base64 characters.
func TestSplitRefusesEveryOtherSpelling(t *testing.T) {
	good := "eyJhbGciOiJFUzI1NiJ9.e30.AQID"
	_, err := Split(good)
	require.NoError(t, err)
	for _, bad := range []string{"\r", "\n", "\r\n", "=", "+", "/", " ", "\t", "\x00", "\xff", "é"} {
		for _, at := range []int{0, 5, 21, 24, len(good)} {
			s := good[:at] + bad + good[at:]
			_, err := Split(s)
			assert.ErrorIs(t, err, ErrMalformed, "%q at %d", bad, at)
		}
	}
}
