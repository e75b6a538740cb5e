// Package jwe decrypts nested JWT access tokens: a signed JWT (a compact
// JWS) inside a compact JWE whose content key is wrapped with the resource
// server's RSA public key, as Auth0 issues them when an API has JSON Web
// Encryption turned on ([RFC 7516], [RFC 7519 §5.2], [Auth0 JWE]).
//
// Key management is RSA-OAEP-256, RSA-OAEP-384 or RSA-OAEP-512 only (never
// RSA1_5, dir or AES key wrap); content encryption is AES-GCM or
// AES-CBC-HMAC-SHA2 ([RFC 7518 §5]). The kid in the protected header selects
// one of several configured keys, so that a key can be rotated while tokens
// encrypted to the old one are still alive. Parsing and content decryption
// are go-jose's; the RSA-OAEP-384/512 key unwrap, which go-jose v4 lacks,
// is done here with crypto/rsa through go-jose's opaque key decrypter hook.
//
// [Decrypter.Decrypt] returns the inner compact JWS unverified: the caller
// verifies it exactly as it verifies a plain signed access token (issuer
// keys, alg allow-list, iss, aud, exp, typ, cnf).
//
// # DPoP and the token as sent
//
// A DPoP proof's ath claim ([RFC 9449 §4.2]) is the base64url SHA-256 hash
// of the access token as it appears in the request's Authorization header.
// For an encrypted token that is the JWE string, not the JWS inside it: the
// client never sees the JWS. The binding, on the other hand, comes from the
// decrypted, verified inner claims: cnf.jkt (or cnf["x5t#S256"] for mTLS)
// is read from the JWS payload. A verifier therefore keeps the original
// string for ath and uses the decrypted JWS only for claims.
//
// The token string is also what ath pins, so this package accepts exactly
// one string form per JWE: canonical base64url in all five parts, the exact
// IV and tag lengths of enc, an encrypted key exactly as long as the RSA
// modulus (leading zero bytes kept), and a protected header without
// duplicate members. A JWE is thus not malleable into another string that decrypts
// to the same JWS.
//
// # Cost
//
// Every JWE that passes the header checks costs one RSA private-key
// operation: about 1.6-2 ms for a 2048-bit key, 20-30 times the cost of
// verifying an RS256 signature (see BenchmarkDecrypt). All cheap checks
// (size, shape, alg, enc, cty, kid, IV and tag lengths) run first, and
// several keys are never tried in turn for one token.
//
// [RFC 7516]: https://www.rfc-editor.org/rfc/rfc7516
// [RFC 7519 §5.2]: https://www.rfc-editor.org/rfc/rfc7519#section-5.2
// [RFC 7518 §5]: https://www.rfc-editor.org/rfc/rfc7518#section-5
// [RFC 9449 §4.2]: https://www.rfc-editor.org/rfc/rfc9449#section-4.2
// [Auth0 JWE]: https://auth0.com/docs/secure/tokens/access-tokens/json-web-encryption
package jwe
