package jwe

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEncryptedKeyMustBeModulusLength: the RSA-OAEP encrypted key must be
// exactly as long as the modulus. rsa.DecryptOAEP also takes a ciphertext
// with its leading zero bytes dropped, which would give a JWE a second
// spelling (and DPoP's ath pins the spelling).
func TestEncryptedKeyMustBeModulusLength(t *testing.T) {
	jws := signedJWT(t)
	d := newDecrypter(t, Config{})
	size := encKey(t).Size()
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			// About one encryption in 256 starts with a zero byte.
			var tok string
			var p [5][]byte
			for range 10_000 {
				tok = mustEncrypt(t, jws, &encKey(t).PublicKey, "k1", alg, A256GCM)
				if p = parts(t, tok); p[1][0] == 0 {
					break
				}
			}
			require.Zero(t, p[1][0], "no encrypted key with a leading zero byte found")
			require.Len(t, p[1], size)
			got, err := d.Decrypt(tok)
			require.NoError(t, err, "the full-length spelling is accepted")
			assert.Equal(t, jws, got)

			short := p
			short[1] = p[1][1:]
			_, err = d.Decrypt(join(short))
			require.ErrorIs(t, err, ErrDecrypt, "leading zero dropped")

			long := p
			long[1] = append([]byte{0}, p[1]...)
			_, err = d.Decrypt(join(long))
			require.ErrorIs(t, err, ErrDecrypt, "a zero byte added")
		})
	}
}
