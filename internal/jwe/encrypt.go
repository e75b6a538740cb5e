package jwe

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"

	josecipher "github.com/go-jose/go-jose/v4/cipher"

	"github.com/senderbound/senderbound/internal/jose"
)

// Encrypt wraps the signed compact JWS jws in a compact JWE for pub, as an
// issuer of nested JWT access tokens does. The protected header is
// {"alg":alg,"enc":enc,"kid":kid,"cty":"JWT"}, without kid when kid is
// empty. alg is RSA-OAEP-256, RSA-OAEP-384 or RSA-OAEP-512; enc is one of
// the content encryptions that [Config] lists.
//
// It is meant for tests and test issuers; a resource server only decrypts.
// It refuses a jws that [Decrypter.Decrypt] would refuse ([ErrNotSigned]),
// an unsupported alg or enc ([ErrAlgorithm]) and a missing or smaller than
// 2048-bit key ([ErrConfig]).
//
// The whole construction is done here rather than with go-jose's encrypter,
// because go-jose v4 cannot wrap keys with RSA-OAEP-384/512 and its
// key-encrypter hook cannot be implemented outside go-jose; the tests
// decrypt its output with go-jose and decrypt go-jose's and Node.js's
// output with [Decrypter].
func Encrypt(jws string, pub *rsa.PublicKey, kid, alg, enc string) (string, error) {
	if err := checkSignedJWS([]byte(jws)); err != nil {
		return "", err
	}
	if pub == nil || pub.N == nil {
		return "", fmt.Errorf("%w: no public key", ErrConfig)
	}
	if pub.N.BitLen() < jose.MinRSABits {
		return "", fmt.Errorf("%w: %w", ErrConfig, jose.ErrRSAKeyTooSmall)
	}
	if _, ok := keyAlgHash[alg]; !ok {
		return "", fmt.Errorf("%w: key management algorithm", ErrAlgorithm)
	}
	if _, ok := encs[enc]; !ok {
		return "", fmt.Errorf("%w: content encryption", ErrAlgorithm)
	}
	hdr, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Enc string `json:"enc"`
		Kid string `json:"kid,omitempty"`
		Cty string `json:"cty"`
	}{alg, enc, kid, "JWT"})
	if err != nil {
		return "", err
	}
	return seal(pub, hdr, alg, enc, []byte(jws))
}

// seal builds a compact JWE (RFC 7516 §5.1) with the protected header hdr
// taken verbatim, wrapping a fresh content key with RSA-OAEP under alg's
// hash and encrypting plaintext with enc. Tests call it directly to build
// tokens that Encrypt refuses to.
func seal(pub *rsa.PublicKey, hdr []byte, alg, enc string, plaintext []byte) (string, error) {
	p, ok := encs[enc]
	h, ok2 := keyAlgHash[alg]
	if !ok || !ok2 {
		return "", ErrAlgorithm
	}
	cek := make([]byte, p.keyLen)
	rand.Read(cek)
	ek, err := rsa.EncryptOAEP(h.New(), rand.Reader, pub, cek, nil)
	if err != nil {
		return "", fmt.Errorf("jwe: wrapping the content key: %w", err)
	}
	var aead cipher.AEAD
	if p.ivLen == 12 { // AES-GCM, RFC 7518 §5.3
		block, err := aes.NewCipher(cek)
		if err != nil {
			return "", err
		}
		if aead, err = cipher.NewGCM(block); err != nil {
			return "", err
		}
	} else if aead, err = josecipher.NewCBCHMAC(cek, aes.NewCipher); err != nil { // RFC 7518 §5.2
		return "", err
	}
	iv := make([]byte, p.ivLen)
	rand.Read(iv)
	protected := b64.EncodeToString(hdr)
	sealed := aead.Seal(nil, iv, plaintext, []byte(protected)) // AAD: RFC 7516 §5.1 step 14
	ct, tag := sealed[:len(sealed)-p.tagLen], sealed[len(sealed)-p.tagLen:]
	return protected + "." + b64.EncodeToString(ek) + "." + b64.EncodeToString(iv) + "." +
		b64.EncodeToString(ct) + "." + b64.EncodeToString(tag), nil
}
