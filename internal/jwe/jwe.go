package jwe

import (
	"crypto"
	"crypto/rsa"
	_ "crypto/sha256" // RSA-OAEP-256
	_ "crypto/sha512" // RSA-OAEP-384, RSA-OAEP-512
	"errors"
	"fmt"
	"strings"

	gojose "github.com/go-jose/go-jose/v4"

	"github.com/senderbound/senderbound/internal/jose"
)

// Errors returned by this package, wrapped with context; check them with
// [errors.Is].
var (
	// ErrNotJWE means the token is not a well-formed compact JWE: not five
	// base64url parts, non-canonical base64url, or a protected header that
	// is not a JSON object with unique member names.
	ErrNotJWE = errors.New("jwe: not a compact JWE")
	// ErrTooLarge means the token is longer than the configured maximum.
	// Nothing was decoded.
	ErrTooLarge = errors.New("jwe: token too large")
	// ErrAlgorithm means the header's alg or enc is not allowed, or the
	// header asks for something this package refuses (zip, crit, or a
	// header-supplied key: jwk, jku, x5c, x5u).
	ErrAlgorithm = errors.New("jwe: algorithm not allowed")
	// ErrUnknownKey means the header's kid names no configured key (or the
	// header has no kid while several keys are configured and none is
	// registered under the empty kid).
	ErrUnknownKey = errors.New("jwe: unknown decryption key")
	// ErrDecrypt means decryption failed: wrong key, or a tampered
	// encrypted key, IV, ciphertext, tag or protected header. It never says
	// which, so that it cannot serve as a padding or tag oracle.
	ErrDecrypt = errors.New("jwe: decryption failed")
	// ErrContentType means the protected header's cty is not "JWT".
	ErrContentType = errors.New("jwe: content type is not JWT")
	// ErrNotSigned means the decrypted payload is not a signed compact JWS
	// (for example plain JSON claims, or a JWS with alg "none").
	ErrNotSigned = errors.New("jwe: payload is not a signed JWT")
	// ErrConfig means a [Config] or an [Encrypt] argument is unusable.
	ErrConfig = errors.New("jwe: invalid configuration")
)

// Key management and content encryption algorithms (RFC 7518 §4, §5 and the
// IANA JOSE registry for RSA-OAEP-384 and RSA-OAEP-512).
const (
	RSAOAEP256 = "RSA-OAEP-256"
	RSAOAEP384 = "RSA-OAEP-384"
	RSAOAEP512 = "RSA-OAEP-512"

	A128GCM      = "A128GCM"
	A192GCM      = "A192GCM"
	A256GCM      = "A256GCM"
	A128CBCHS256 = "A128CBC-HS256"
	A192CBCHS384 = "A192CBC-HS384"
	A256CBCHS512 = "A256CBC-HS512"
)

// DefaultMaxSize is the default limit on the length of a compact JWE. A
// nested access token with a few dozen permissions, wrapped for a 4096-bit
// key, stays well below it.
const DefaultMaxSize = 16 << 10

// keyAlgHash maps each supported key management algorithm to its OAEP hash
// (the MGF1 hash is the same, as the algorithm names require).
var keyAlgHash = map[string]crypto.Hash{
	RSAOAEP256: crypto.SHA256,
	RSAOAEP384: crypto.SHA384,
	RSAOAEP512: crypto.SHA512,
}

// encParams holds the lengths RFC 7518 §5 fixes for each content
// encryption: content key, IV and authentication tag, in bytes.
type encParams struct{ keyLen, ivLen, tagLen int }

var encs = map[string]encParams{
	A128GCM:      {16, 12, 16},
	A192GCM:      {24, 12, 16},
	A256GCM:      {32, 12, 16},
	A128CBCHS256: {32, 16, 16},
	A192CBCHS384: {48, 16, 24},
	A256CBCHS512: {64, 16, 32},
}

// Config configures a [Decrypter].
type Config struct {
	// Keys are the resource server's RSA decryption keys by kid. Configure
	// several at once to rotate: the old key stays until every token
	// encrypted to it has expired. The key under the empty kid "" decrypts
	// tokens whose header has no kid; when exactly one key is configured it
	// also decrypts them, whatever its kid (see [Decrypter.Decrypt]).
	Keys map[string]*rsa.PrivateKey
	// KeyAlgorithms allowed in the header's alg. Only the RSA-OAEP family
	// with SHA-2 is accepted here. Default: RSA-OAEP-256, RSA-OAEP-384,
	// RSA-OAEP-512.
	KeyAlgorithms []string
	// ContentEncryptions allowed in the header's enc: A128GCM, A192GCM,
	// A256GCM, A128CBC-HS256, A192CBC-HS384, A256CBC-HS512. Default:
	// A256GCM, A128CBC-HS256.
	ContentEncryptions []string
	// MaxSize is the longest compact JWE accepted, checked before any
	// decoding. Default [DefaultMaxSize].
	MaxSize int
	// AllowMissingContentType accepts a header without cty. RFC 7519 §5.2
	// requires cty "JWT" on nested JWTs, but issuers that omit it exist; the
	// payload is still required to be a signed compact JWS. A cty with any
	// other value is always refused.
	AllowMissingContentType bool
}

// Decrypter decrypts nested JWT access tokens: a signed JWT inside a compact
// JWE whose content key is wrapped with RSA-OAEP. It is immutable after
// [NewDecrypter] and safe for concurrent use.
type Decrypter struct {
	keys      map[string]decryptionKey
	only      *decryptionKey // the single configured key, if there is one
	keyAlgs   map[string]bool
	encs      map[string]bool
	maxSize   int
	allowNoCT bool
}

// decryptionKey is one configured key in the two forms go-jose needs: the
// bare key for RSA-OAEP-256, which it implements, and an
// [gojose.OpaqueKeyDecrypter] per SHA-384/512 variant, which it does not.
type decryptionKey struct {
	priv *rsa.PrivateKey
	by   map[string]any // alg → key argument for JSONWebEncryption.Decrypt
}

// NewDecrypter checks c and returns a Decrypter. It reports every problem
// at once (joined; each wraps [ErrConfig] and, where it fits,
// [ErrAlgorithm] or [jose.ErrRSAKeyTooSmall]): no keys, a nil, invalid or
// smaller than 2048-bit key, a key algorithm outside the RSA-OAEP SHA-2
// family (never RSA1_5, dir or AES key wrap), an unknown content encryption,
// a negative MaxSize. The keys are copied; c is not modified.
func NewDecrypter(c Config) (*Decrypter, error) {
	var errs []error
	d := &Decrypter{
		keys:      make(map[string]decryptionKey, len(c.Keys)),
		keyAlgs:   map[string]bool{},
		encs:      map[string]bool{},
		maxSize:   c.MaxSize,
		allowNoCT: c.AllowMissingContentType,
	}
	if len(c.Keys) == 0 {
		errs = append(errs, fmt.Errorf("%w: no decryption keys", ErrConfig))
	}
	for kid, k := range c.Keys {
		if err := checkPrivateKey(k); err != nil {
			errs = append(errs, fmt.Errorf("%w: key %q: %w", ErrConfig, kid, err))
			continue
		}
		cp := *k // never modify the caller's key
		cp.Precompute()
		dk := decryptionKey{priv: &cp, by: map[string]any{RSAOAEP256: &cp}}
		for _, alg := range []string{RSAOAEP384, RSAOAEP512} {
			dk.by[alg] = oaepKey{priv: &cp, alg: alg, hash: keyAlgHash[alg]}
		}
		d.keys[kid] = dk
	}
	if len(d.keys) == 1 && len(c.Keys) == 1 {
		for _, dk := range d.keys {
			d.only = &dk
		}
	}

	keyAlgs := c.KeyAlgorithms
	if len(keyAlgs) == 0 {
		keyAlgs = []string{RSAOAEP256, RSAOAEP384, RSAOAEP512}
	}
	for _, a := range keyAlgs {
		if _, ok := keyAlgHash[a]; !ok {
			errs = append(errs, fmt.Errorf("%w: key algorithm %q: %w", ErrConfig, a, ErrAlgorithm))
			continue
		}
		d.keyAlgs[a] = true
	}
	contentEncs := c.ContentEncryptions
	if len(contentEncs) == 0 {
		contentEncs = []string{A256GCM, A128CBCHS256}
	}
	for _, e := range contentEncs {
		if _, ok := encs[e]; !ok {
			errs = append(errs, fmt.Errorf("%w: content encryption %q: %w", ErrConfig, e, ErrAlgorithm))
			continue
		}
		d.encs[e] = true
	}
	switch {
	case c.MaxSize < 0:
		errs = append(errs, fmt.Errorf("%w: negative MaxSize", ErrConfig))
	case c.MaxSize == 0:
		d.maxSize = DefaultMaxSize
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return d, nil
}

func checkPrivateKey(k *rsa.PrivateKey) error {
	if k == nil || k.N == nil {
		return errors.New("nil key")
	}
	if k.N.BitLen() < jose.MinRSABits {
		return jose.ErrRSAKeyTooSmall
	}
	if err := k.Validate(); err != nil {
		return errors.New("invalid RSA private key")
	}
	return nil
}

// Decrypt decrypts the compact JWE token and returns the nested compact JWS
// (the signed JWT) that it carries. It does not verify the JWS: the caller
// does, as for any access token.
//
// In order, and before any RSA operation: the length is checked against
// MaxSize ([ErrTooLarge]); the token must be five canonical base64url parts
// whose protected header is a JSON object without duplicate members
// ([ErrNotJWE]); alg and enc must be allowed, and zip, crit, jwk, jku, x5c
// and x5u must be absent ([ErrAlgorithm]); cty must be "JWT", compared
// case-insensitively, with or without the "application/" prefix (RFC 7515
// §4.1.10) ([ErrContentType]); the kid must name a configured key
// ([ErrUnknownKey]); the IV and tag must have the lengths enc fixes, and
// the encrypted key the length of the key's modulus ([ErrDecrypt]).
//
// Key choice: a header kid (the empty string when absent) selects
// Keys[kid]. A header without kid is also accepted when exactly one key is
// configured. Several keys are never tried in turn: that would multiply the
// RSA work an unauthenticated request can cause, and kid is how Auth0 and
// others announce rotation.
//
// Then the content key is unwrapped and the content decrypted and
// authenticated; any failure is [ErrDecrypt], without detail. Finally the
// plaintext must be a three-part compact JWS whose header alg is a string
// other than "none" ([ErrNotSigned]).
//
// Error texts never contain the token.
func (d *Decrypter) Decrypt(token string) (string, error) {
	// RFC 7516 §5.2 steps 1-2, after the size limit.
	if len(token) > d.maxSize {
		return "", ErrTooLarge
	}
	parts, ok := split5(token)
	if !ok {
		return "", fmt.Errorf("%w: want five non-empty canonical base64url parts", ErrNotJWE)
	}
	rawHeader, err := b64.DecodeString(parts[0])
	if err != nil {
		return "", fmt.Errorf("%w: protected header is not base64url", ErrNotJWE)
	}
	h, err := parseObject(rawHeader)
	if err != nil {
		return "", fmt.Errorf("%w: protected header: %w", ErrNotJWE, err)
	}

	// RFC 7516 §5.2 steps 3-5: understand and allow every header parameter.
	alg, _, err := stringMember(h, "alg")
	if err != nil || !d.keyAlgs[alg] {
		return "", fmt.Errorf("%w: key management algorithm", ErrAlgorithm)
	}
	enc, _, err := stringMember(h, "enc")
	if err != nil || !d.encs[enc] {
		return "", fmt.Errorf("%w: content encryption", ErrAlgorithm)
	}
	for _, name := range [...]string{"zip", "crit", "jwk", "jku", "x5c", "x5u"} {
		if _, has := h[name]; has {
			return "", fmt.Errorf("%w: header parameter %q is not accepted", ErrAlgorithm, name)
		}
	}
	// RFC 7519 §5.2: a nested JWT's cty is "JWT".
	cty, has, err := stringMember(h, "cty")
	switch {
	case err != nil:
		return "", fmt.Errorf("%w: cty is not a string", ErrContentType)
	case !has && !d.allowNoCT:
		return "", fmt.Errorf("%w: cty is missing", ErrContentType)
	case has && !isJWTContentType(cty):
		return "", fmt.Errorf("%w: cty is not JWT", ErrContentType)
	}
	kid, hasKID, err := stringMember(h, "kid")
	if err != nil {
		return "", fmt.Errorf("%w: kid is not a string", ErrUnknownKey)
	}
	key, ok := d.keys[kid]
	if !ok {
		if hasKID || d.only == nil {
			return "", ErrUnknownKey
		}
		key = *d.only
	}

	// Exact IV and tag lengths: go-jose accepts a tag longer than enc's and
	// treats the excess as ciphertext, so the same JWE could be sent as
	// several strings (which matters for DPoP's ath, computed over the
	// string).
	p := encs[enc]
	if b64.DecodedLen(len(parts[2])) != p.ivLen || b64.DecodedLen(len(parts[4])) != p.tagLen {
		return "", ErrDecrypt
	}
	// An RSA ciphertext is exactly as long as the modulus (RFC 8017
	// §7.1.2): rsa.DecryptOAEP also takes one whose leading zero bytes were
	// dropped, another spelling of the same JWE.
	if b64.DecodedLen(len(parts[1])) != key.priv.Size() {
		return "", ErrDecrypt
	}

	obj, err := gojose.ParseEncryptedCompact(token,
		[]gojose.KeyAlgorithm{gojose.KeyAlgorithm(alg)},
		[]gojose.ContentEncryption{gojose.ContentEncryption(enc)})
	if err != nil {
		return "", fmt.Errorf("%w: unparsable", ErrNotJWE)
	}
	// RFC 7516 §5.2 steps 6-16. go-jose's errors are dropped on purpose: one
	// generic error for key unwrap, key size, padding and tag failures.
	plain, err := obj.Decrypt(key.by[alg])
	if err != nil {
		return "", ErrDecrypt
	}
	if err := checkSignedJWS(plain); err != nil {
		return "", err
	}
	return string(plain), nil
}

// isJWTContentType reports whether cty names the JWT media type: "JWT",
// compared case-insensitively, optionally as "application/jwt"
// (RFC 7515 §4.1.10 lets the "application/" prefix be omitted).
func isJWTContentType(cty string) bool {
	if len(cty) > len("application/") && strings.EqualFold(cty[:len("application/")], "application/") {
		cty = cty[len("application/"):]
	}
	return strings.EqualFold(cty, "JWT")
}

// checkSignedJWS requires b to be a three-part compact JWS whose header has
// a string alg other than "none". The signature is the caller's to verify.
func checkSignedJWS(b []byte) error {
	jws, err := jose.Split(string(b))
	if err != nil {
		return fmt.Errorf("%w: not a three-part compact JWS", ErrNotSigned)
	}
	h, err := parseObject(jws.Header)
	if err != nil {
		return fmt.Errorf("%w: JWS header: %w", ErrNotSigned, err)
	}
	alg, _, err := stringMember(h, "alg")
	if err != nil || alg == "" || strings.EqualFold(alg, "none") {
		return fmt.Errorf("%w: JWS alg", ErrNotSigned)
	}
	return nil
}

// oaepKey unwraps content keys with RSA-OAEP and one SHA-2 hash for both
// OAEP and MGF1. go-jose v4 implements only the SHA-1 and SHA-256 variants;
// this fills in RSA-OAEP-384 and RSA-OAEP-512 through its
// [gojose.OpaqueKeyDecrypter] hook, so that go-jose still does parsing,
// content-key size checks and content decryption.
type oaepKey struct {
	priv *rsa.PrivateKey
	alg  string
	hash crypto.Hash
}

var errOAEP = errors.New("jwe: key unwrap failed")

// DecryptKey implements [gojose.OpaqueKeyDecrypter].
func (k oaepKey) DecryptKey(encryptedKey []byte, h gojose.Header) ([]byte, error) {
	if h.Algorithm != k.alg {
		return nil, errOAEP
	}
	cek, err := rsa.DecryptOAEP(k.hash.New(), nil, k.priv, encryptedKey, nil)
	if err != nil {
		return nil, errOAEP
	}
	return cek, nil
}
