// Package jose holds the compact-JWS mechanics that the access-token and
// DPoP-proof verifiers share: splitting and decoding a compact serialization
// once, and verifying a signature only with a key whose type fits the
// algorithm. It never chooses a key itself.
package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"strings"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
)

// Errors returned by this package. Callers wrap them in their own sentinels.
var (
	ErrMalformed      = errors.New("jose: malformed compact serialization")
	ErrAlgorithm      = errors.New("jose: algorithm not allowed")
	ErrKeyType        = errors.New("jose: key does not fit the algorithm")
	ErrSignature      = errors.New("jose: signature is invalid")
	ErrRSAKeyTooSmall = errors.New("jose: RSA key is smaller than 2048 bits")
)

// MinRSABits is the smallest RSA modulus accepted for any signature.
const MinRSABits = 2048

// JWS is one compact JWS, split and base64url-decoded once.
type JWS struct {
	// SigningInput is the ASCII "header.payload" that the signature covers.
	SigningInput string
	// Header and Payload are the decoded JSON bytes.
	Header  []byte
	Payload []byte
	// Signature is the decoded signature.
	Signature []byte
}

// Split parses a compact JWS of exactly three base64url parts, without
// padding. It allocates one buffer for all decoded parts. Each part must be
// the canonical encoding of its bytes (decodeBase64URL): non-zero trailing
// bits, padding and line breaks are refused, so one JWS has exactly one
// spelling and a token cannot be made malleable by re-encoding a part
// (FuzzSplit holds Split to re-encoding to its input).
func Split(compact string) (JWS, error) {
	h, rest, ok := strings.Cut(compact, ".")
	if !ok {
		return JWS{}, ErrMalformed
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(s, '.') >= 0 || h == "" || p == "" || s == "" {
		return JWS{}, ErrMalformed
	}
	nh, np, ns := decodedLen(len(h)), decodedLen(len(p)), decodedLen(len(s))
	buf := make([]byte, nh+np+ns)
	out := JWS{Header: buf[:nh:nh], Payload: buf[nh : nh+np : nh+np], Signature: buf[nh+np:]}
	if !decodeBase64URL(out.Header, h) || !decodeBase64URL(out.Payload, p) || !decodeBase64URL(out.Signature, s) {
		return JWS{}, ErrMalformed
	}
	out.SigningInput = compact[:len(h)+1+len(p)]
	return out, nil
}

// IsCompactJWE reports whether token has the five-part shape of a compact
// JWE (four dots). It does not validate the parts.
func IsCompactJWE(token string) bool {
	return strings.Count(token, ".") == 4
}

// Asymmetric reports whether alg is one of the asymmetric JWS algorithms this
// module can verify. Ed25519 is RFC 9864's fully-specified name for EdDSA
// with an Ed25519 key, the only EdDSA curve supported here, so the two names
// mean the same algorithm.
func Asymmetric(alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
		"ES256", "ES384", "ES512", "EdDSA", "Ed25519":
		return true
	}
	return false
}

// KeyFits reports whether key is of the type and size that alg requires:
// RSA (at least [MinRSABits]) for RS*/PS*, the matching NIST curve for ES*,
// Ed25519 for EdDSA and Ed25519 (RFC 9864), never another curve. It returns
// ErrKeyType or ErrRSAKeyTooSmall otherwise.
func KeyFits(alg string, key crypto.PublicKey) error {
	switch k := key.(type) {
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			if k.N == nil || k.N.BitLen() < MinRSABits {
				return ErrRSAKeyTooSmall
			}
			return nil
		}
	case *ecdsa.PublicKey:
		var want elliptic.Curve
		switch alg {
		case "ES256":
			want = elliptic.P256()
		case "ES384":
			want = elliptic.P384()
		case "ES512":
			want = elliptic.P521()
		}
		if want != nil && k.Curve == want {
			return nil
		}
	case ed25519.PublicKey:
		if (alg == "EdDSA" || alg == "Ed25519") && len(k) == ed25519.PublicKeySize {
			return nil
		}
	}
	return ErrKeyType
}

// method returns golang-jwt's implementation of alg.
func method(alg string) jwt.SigningMethod {
	switch alg {
	case "RS256":
		return jwt.SigningMethodRS256
	case "RS384":
		return jwt.SigningMethodRS384
	case "RS512":
		return jwt.SigningMethodRS512
	case "PS256":
		return jwt.SigningMethodPS256
	case "PS384":
		return jwt.SigningMethodPS384
	case "PS512":
		return jwt.SigningMethodPS512
	case "ES256":
		return jwt.SigningMethodES256
	case "ES384":
		return jwt.SigningMethodES384
	case "ES512":
		return jwt.SigningMethodES512
	case "EdDSA", "Ed25519": // the key is an Ed25519 key (KeyFits)
		return jwt.SigningMethodEdDSA
	case "HS256":
		return jwt.SigningMethodHS256
	}
	return nil
}

// Verify checks sig over signingInput with key under alg. The key must fit
// alg (see [KeyFits]); HS256 needs a []byte key and is only reached when the
// caller passes one deliberately.
func Verify(alg, signingInput string, sig []byte, key any) error {
	m := method(alg)
	if m == nil || alg == "none" {
		return ErrAlgorithm
	}
	if alg == "HS256" {
		if _, ok := key.([]byte); !ok {
			return ErrKeyType
		}
	} else if err := KeyFits(alg, key); err != nil {
		return err
	}
	if verified, done := verifyHot(alg, signingInput, sig, key); done {
		if !verified {
			return ErrSignature
		}
		return nil
	}
	if err := m.Verify(signingInput, sig, key); err != nil {
		return ErrSignature
	}
	return nil
}

// verifyHot verifies the algorithms that carry nearly every token and proof
// (RS256, ES256, EdDSA) with the standard library directly, and reports
// done = false for every other algorithm, which golang-jwt's signing
// methods verify. It replaces one step of golang-jwt's, and only for
// allocations: golang-jwt hashes through a hash.Hash (two allocations),
// copies the signing input for Ed25519, and builds two big.Ints for ECDSA
// that crypto/ecdsa turns back into ASN.1 bytes; here the digest stays on
// the stack and the ASN.1 signature is written into a stack buffer. The
// checks are golang-jwt's: the key fits alg (checked by Verify before),
// an ES256 signature is exactly 64 bytes, r and s are positive (ecdsa.Verify
// refuses zero), and the verification itself is the standard library's.
func verifyHot(alg, signingInput string, sig []byte, key any) (verified, done bool) {
	input := unsafe.Slice(unsafe.StringData(signingInput), len(signingInput)) // read only
	switch alg {
	case "RS256":
		k := key.(*rsa.PublicKey) // KeyFits
		d := sha256.Sum256(input)
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) == nil, true
	case "ES256":
		k := key.(*ecdsa.PublicKey) // KeyFits
		if len(sig) != 64 {
			return false, true
		}
		var buf [72]byte
		der, ok := appendECDSASignature(buf[:0], sig[:32], sig[32:])
		if !ok {
			return false, true
		}
		d := sha256.Sum256(input)
		return ecdsa.VerifyASN1(k, d[:], der), true
	case "EdDSA", "Ed25519":
		return ed25519.Verify(key.(ed25519.PublicKey), input, sig), true // KeyFits
	}
	return false, false
}

// appendECDSASignature appends the DER SEQUENCE of the INTEGERs r and s
// (big-endian, unsigned, at most 32 bytes each) as crypto/ecdsa encodes
// it; false when r or s is zero.
func appendECDSASignature(b, r, s []byte) ([]byte, bool) {
	r, s = bytesTrimZeros(r), bytesTrimZeros(s)
	if len(r) == 0 || len(s) == 0 {
		return nil, false
	}
	intLen := func(x []byte) int { return 2 + len(x) + int(x[0]>>7) }
	b = append(b, 0x30, byte(intLen(r)+intLen(s)))
	for _, x := range [2][]byte{r, s} {
		b = append(b, 0x02, byte(len(x)+int(x[0]>>7)))
		if x[0]&0x80 != 0 {
			b = append(b, 0)
		}
		b = append(b, x...)
	}
	return b, true
}

func bytesTrimZeros(x []byte) []byte {
	for len(x) > 0 && x[0] == 0 {
		x = x[1:]
	}
	return x
}

// DepthWithin reports whether the JSON text b nests objects and arrays no
// deeper than limit. It scans bytes only (strings are skipped, escapes
// honoured), so it is cheap enough to run before any decoding.
func DepthWithin(b []byte, limit int) bool {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			if depth++; depth > limit {
				return false
			}
		case '}', ']':
			depth--
		}
	}
	return true
}

// SHA256 returns the SHA-256 digest of s without copying s: access tokens
// are hashed on every request (cache key, DPoP ath), and a []byte
// conversion would allocate a copy of the whole token each time.
func SHA256(s string) [32]byte {
	// sha256.Sum256 only reads its argument and does not retain it.
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(s), len(s)))
}
