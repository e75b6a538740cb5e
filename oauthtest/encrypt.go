package oauthtest

import (
	"crypto/rsa"

	"github.com/senderbound/senderbound/internal/jwe"
)

// MintEncrypted mints t like [Issuer.Mint] and wraps the signed JWT in a
// compact JWE for the resource server's RSA key, as Auth0 does for APIs
// with token encryption on: key management alg (RSA-OAEP-256, RSA-OAEP-384
// or RSA-OAEP-512), content encryption enc (A256GCM, A128CBC-HS256, …),
// the key's kid, and cty "JWT".
func (i *Issuer) MintEncrypted(t Token, to *rsa.PublicKey, kid, alg, enc string) (string, error) {
	signed, err := i.Mint(t)
	if err != nil {
		return "", err
	}
	return jwe.Encrypt(signed, to, kid, alg, enc)
}
