package jwe

import (
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
)

// FuzzDecrypt asserts that Decrypt accepts only tokens this test minted,
// byte for byte, and returns exactly their JWS: no mutation of a valid JWE
// (header, key, IV, ciphertext, tag, encoding) yields a result, and every
// rejection carries one of the package's sentinels and never the token.
func FuzzDecrypt(f *testing.F) {
	jws := signedJWT(f)
	k1, k2 := encKey(f), encKey2(f)
	d := newDecrypter(f, Config{Keys: map[string]*rsa.PrivateKey{"k1": k1, "k2": k2}})
	minted := map[string]string{}
	for _, alg := range allAlgs {
		for _, enc := range []string{A256GCM, A128CBCHS256} {
			for kid, k := range map[string]*rsa.PrivateKey{"k1": k1, "k2": k2} {
				tok := mustEncrypt(f, jws, &k.PublicKey, kid, alg, enc)
				minted[tok] = jws
				f.Add(tok)
				ps := strings.Split(tok, ".")
				f.Add(strings.Join([]string{ps[0], ps[1], ps[2], ps[3][:len(ps[3])-1], ps[3][len(ps[3])-1:] + ps[4]}, "."))
				f.Add(ps[0] + "." + ps[1] + "." + ps[4] + "." + ps[3] + "." + ps[2])
				f.Add(tok[:len(tok)-1])
				f.Add(strings.ReplaceAll(tok, "A", "B"))
			}
		}
	}
	// Not signed inside, but properly encrypted: must still be refused.
	unsigned := sealHeader(f, `{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"k1","cty":"JWT"}`, `{"sub":"x"}`)
	f.Add(unsigned)
	f.Add(sealHeader(f, `{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"k1","cty":"JWT","cty":"JWT"}`, jws))
	f.Add(jws)
	f.Add("....")
	f.Add("")
	sentinels := []error{ErrNotJWE, ErrTooLarge, ErrAlgorithm, ErrUnknownKey, ErrDecrypt, ErrContentType, ErrNotSigned}

	f.Fuzz(func(t *testing.T, token string) {
		got, err := d.Decrypt(token)
		if err == nil {
			want, ok := minted[token]
			if !ok {
				t.Fatalf("accepted a token that was never minted: %q", token)
			}
			if got != want {
				t.Fatalf("wrong plaintext for a minted token")
			}
			return
		}
		if got != "" {
			t.Fatalf("result %q with error %v", got, err)
		}
		known := false
		for _, s := range sentinels {
			known = known || errors.Is(err, s)
		}
		if !known {
			t.Fatalf("error without a sentinel: %v", err)
		}
		if len(token) >= 8 && strings.Contains(err.Error(), token) {
			t.Fatalf("error echoes the token: %v", err)
		}
	})
}
