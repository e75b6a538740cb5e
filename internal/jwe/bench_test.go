package jwe

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/senderbound/senderbound/internal/jose"
)

// BenchmarkDecrypt compares one nested-token decryption (RSA-OAEP-256,
// A256GCM, 2048-bit key) with its RSA private-key operation alone and with
// the RS256 signature verification that follows it.
func BenchmarkDecrypt(b *testing.B) {
	jws := signedJWT(b)
	k := encKey(b)
	d := newDecrypter(b, Config{})
	tok := mustEncrypt(b, jws, &k.PublicKey, "k1", RSAOAEP256, A256GCM)
	b.Logf("JWS %d bytes, JWE %d bytes", len(jws), len(tok))

	b.Run("Decrypt/RSA-OAEP-256+A256GCM", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.Decrypt(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rsa.DecryptOAEP", func(b *testing.B) {
		ek := parts(b, tok)[1]
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rsa.DecryptOAEP(sha256.New(), nil, k, ek, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rsa.VerifyPKCS1v15/RS256", func(b *testing.B) {
		s, err := jose.Split(jws)
		if err != nil {
			b.Fatal(err)
		}
		pub := &signKey(b).PublicKey
		b.ReportAllocs()
		for b.Loop() {
			h := sha256.Sum256([]byte(s.SigningInput))
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], s.Signature); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reject/unknown kid", func(b *testing.B) {
		bad := mustEncrypt(b, jws, &k.PublicKey, "k9", RSAOAEP256, A256GCM)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.Decrypt(bad); err == nil {
				b.Fatal("accepted")
			}
		}
	})
	b.Run("reject/too large", func(b *testing.B) {
		big := strings.Repeat("A", DefaultMaxSize+1)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.Decrypt(big); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}
