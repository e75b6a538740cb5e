package jwe_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/senderbound/senderbound/internal/jwe"
)

// A resource server decrypts a nested access token, then verifies the JWS
// it returns as it would any signed access token. DPoP's ath is computed
// over the encrypted token as sent, not over the JWS.
func ExampleDecrypter_Decrypt() {
	encKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	d, err := jwe.NewDecrypter(jwe.Config{
		Keys: map[string]*rsa.PrivateKey{"enc-2025": encKey},
	})
	if err != nil {
		panic(err)
	}

	// What the issuer does (here with a stand-in for a signed JWT).
	b64 := base64.RawURLEncoding
	jws := b64.EncodeToString([]byte(`{"alg":"RS256","typ":"at+jwt"}`)) + "." +
		b64.EncodeToString([]byte(`{"sub":"user"}`)) + "." + b64.EncodeToString([]byte("signature"))
	token, _ := jwe.Encrypt(jws, &encKey.PublicKey, "enc-2025", jwe.RSAOAEP256, jwe.A256GCM)

	inner, err := d.Decrypt(token)
	fmt.Println(inner == jws, err)

	_, err = d.Decrypt(jws) // a plain JWS is not a JWE
	fmt.Println(errors.Is(err, jwe.ErrNotJWE))
	// Output:
	// true <nil>
	// true
}

// Rotation: the old key stays configured until its tokens have expired.
func ExampleNewDecrypter() {
	oldKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	newKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, err := jwe.NewDecrypter(jwe.Config{
		Keys:               map[string]*rsa.PrivateKey{"enc-2024": oldKey, "enc-2025": newKey},
		KeyAlgorithms:      []string{jwe.RSAOAEP256, "RSA1_5"},
		ContentEncryptions: []string{jwe.A256GCM},
	})
	fmt.Println(errors.Is(err, jwe.ErrAlgorithm))
	// Output:
	// true
}
