package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"math/big"

	"github.com/senderbound/senderbound/internal/jsonobj"
)

var (
	b64       = base64.RawURLEncoding
	b64Strict = base64.RawURLEncoding.Strict()
)

// jwk holds the public members of a JWK that this package uses, each as the
// exact string the JWK carried.
type jwk struct {
	kty, crv, x, y, n, e string
}

// jwkRead is a JWK as jwkTable reads it: a member of the wrong type or a
// private member does not stop the reading (a duplicate does), so that
// parseJWK reports the most telling of the errors.
type jwkRead struct {
	jwk
	seen             uint8 // of the public members, 1 << jwkMember's index
	private, badType bool
}

// jwkString returns a Read storing the string member at bit.
func jwkString(name string, bit uint8, field func(*jwk) *string) jsonobj.Member[jwkRead] {
	return jsonobj.Member[jwkRead]{Name: name, Read: func(r *jwkRead, v []byte) bool {
		s, ok := jsonobj.StringView(v)
		r.badType = r.badType || !ok
		*field(&r.jwk) = s
		r.seen |= bit
		return true
	}}
}

func jwkPrivate(name string) jsonobj.Member[jwkRead] {
	return jsonobj.Member[jwkRead]{Name: name, Read: func(r *jwkRead, _ []byte) bool { r.private = true; return true }}
}

// jwkTable reads the public members of a JWK this package uses and notes
// private ones (RFC 7517 / RFC 7518 §6). The strings share the decoded
// proof's memory.
var jwkTable = jsonobj.NewTable(jsonobj.IgnoreUnknown,
	jwkString("kty", 1, func(k *jwk) *string { return &k.kty }),
	jwkString("crv", 2, func(k *jwk) *string { return &k.crv }),
	jwkString("x", 4, func(k *jwk) *string { return &k.x }),
	jwkString("y", 8, func(k *jwk) *string { return &k.y }),
	jwkString("n", 16, func(k *jwk) *string { return &k.n }),
	jwkString("e", 32, func(k *jwk) *string { return &k.e }),
	jwkPrivate("d"), jwkPrivate("p"), jwkPrivate("q"), jwkPrivate("dp"),
	jwkPrivate("dq"), jwkPrivate("qi"), jwkPrivate("oth"), jwkPrivate("k"),
)

// parseJWK reads the members of a JWK object. It fails with ErrPrivateKey
// when the object holds any private member (RFC 7517 / RFC 7518 §6: d, p, q,
// dp, dq, qi, oth, and k of symmetric keys), with ErrMalformed when raw is
// not a JSON object or repeats a member, and with ErrKey when a member has
// the wrong type or the key type is not supported.
func parseJWK(raw []byte) (jwk, error) {
	var r jwkRead
	_, err := jwkTable.Read(raw, &r)
	switch {
	case err != nil:
		return jwk{}, fmt.Errorf("jwk: %w", ErrMalformed)
	case r.private:
		return jwk{}, ErrPrivateKey
	case r.badType:
		return jwk{}, fmt.Errorf("jwk member is not a string: %w", ErrKey)
	}
	k, seen := r.jwk, r.seen
	var need uint8
	switch k.kty {
	case "EC":
		need = 1 | 2 | 4 | 8
		if k.crv != "P-256" && k.crv != "P-384" && k.crv != "P-521" {
			return jwk{}, fmt.Errorf("unsupported EC curve: %w", ErrKey)
		}
	case "RSA":
		need = 1 | 16 | 32
	case "OKP":
		need = 1 | 2 | 4
		if k.crv != "Ed25519" {
			return jwk{}, fmt.Errorf("unsupported OKP curve: %w", ErrKey)
		}
	default:
		return jwk{}, fmt.Errorf("unsupported key type: %w", ErrKey)
	}
	if seen&need != need {
		return jwk{}, fmt.Errorf("jwk lacks a required member: %w", ErrKey)
	}
	return k, nil
}

// thumbprint returns the RFC 7638 thumbprint of k: the required members in
// lexicographic order, without whitespace. The member values need no JSON
// escaping: crv and kty come from a fixed set and the others are checked to
// be base64url before a key is accepted.
func (k *jwk) thumbprint() string {
	var stack [160]byte
	sum := sha256.Sum256(k.appendJSON(stack[:0]))
	return b64.EncodeToString(sum[:])
}

// appendJSON appends the JSON object of k's required members, in the order
// and form of RFC 7638 §3.
func (k *jwk) appendJSON(b []byte) []byte {
	switch k.kty {
	case "EC":
		b = append(b, `{"crv":"`...)
		b = append(b, k.crv...)
		b = append(b, `","kty":"EC","x":"`...)
		b = append(b, k.x...)
		b = append(b, `","y":"`...)
		b = append(b, k.y...)
	case "RSA":
		b = append(b, `{"e":"`...)
		b = append(b, k.e...)
		b = append(b, `","kty":"RSA","n":"`...)
		b = append(b, k.n...)
	case "OKP":
		b = append(b, `{"crv":"`...)
		b = append(b, k.crv...)
		b = append(b, `","kty":"OKP","x":"`...)
		b = append(b, k.x...)
	}
	return append(b, `"}`...)
}

// publicKey converts k into a Go public key, checking that every member is
// canonical base64url of the right length (RFC 7518 §6.2.1, §6.3.1) and that
// an EC point lies on its curve. It does not apply size policy to RSA keys.
func (k *jwk) publicKey() (crypto.PublicKey, error) {
	switch k.kty {
	case "EC":
		var curve elliptic.Curve
		var size int
		switch k.crv {
		case "P-256":
			curve, size = elliptic.P256(), 32
		case "P-384":
			curve, size = elliptic.P384(), 48
		case "P-521":
			curve, size = elliptic.P521(), 66
		}
		buf := make([]byte, 1+2*size)
		buf[0] = 4
		if b64.DecodedLen(len(k.x)) != size || b64.DecodedLen(len(k.y)) != size {
			return nil, fmt.Errorf("EC coordinate length: %w", ErrKey)
		}
		if _, err := b64Strict.Decode(buf[1:1+size], []byte(k.x)); err != nil {
			return nil, fmt.Errorf("EC x: %w", ErrKey)
		}
		if _, err := b64Strict.Decode(buf[1+size:], []byte(k.y)); err != nil {
			return nil, fmt.Errorf("EC y: %w", ErrKey)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, buf)
		if err != nil {
			return nil, fmt.Errorf("EC point: %w", ErrKey)
		}
		return pub, nil
	case "RSA":
		n, err := b64Strict.DecodeString(k.n)
		if err != nil || len(n) == 0 || n[0] == 0 {
			return nil, fmt.Errorf("RSA modulus: %w", ErrKey)
		}
		e, err := b64Strict.DecodeString(k.e)
		if err != nil || len(e) == 0 || e[0] == 0 || len(e) > 4 {
			return nil, fmt.Errorf("RSA exponent: %w", ErrKey)
		}
		var exp int
		for _, c := range e {
			exp = exp<<8 | int(c)
		}
		if exp < 3 || exp > 1<<31-1 || exp%2 == 0 {
			return nil, fmt.Errorf("RSA exponent: %w", ErrKey)
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}, nil
	case "OKP":
		if b64.DecodedLen(len(k.x)) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519 key length: %w", ErrKey)
		}
		x, err := b64Strict.DecodeString(k.x)
		if err != nil {
			return nil, fmt.Errorf("Ed25519 key: %w", ErrKey)
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, ErrKey
}

// Thumbprint returns the RFC 7638 JWK thumbprint (base64url of SHA-256) of
// key, which must be an *ecdsa.PublicKey on P-256, P-384 or P-521, an
// *rsa.PublicKey or an ed25519.PublicKey. This is the value of a DPoP-bound
// token's cnf.jkt.
func Thumbprint(key crypto.PublicKey) (string, error) {
	k, err := jwkOf(key)
	if err != nil {
		return "", err
	}
	return k.thumbprint(), nil
}

// jwkOf returns the public JWK members of key.
func jwkOf(key crypto.PublicKey) (jwk, error) {
	var k jwk
	switch pub := key.(type) {
	case *ecdsa.PublicKey:
		if pub == nil || pub.Curve == nil {
			return k, fmt.Errorf("nil EC key: %w", ErrKey)
		}
		var size int
		switch pub.Curve {
		case elliptic.P256():
			k.crv, size = "P-256", 32
		case elliptic.P384():
			k.crv, size = "P-384", 48
		case elliptic.P521():
			k.crv, size = "P-521", 66
		default:
			return k, fmt.Errorf("unsupported EC curve: %w", ErrKey)
		}
		point, err := pub.Bytes()
		if err != nil || len(point) != 1+2*size {
			return k, fmt.Errorf("invalid EC key: %w", ErrKey)
		}
		k.kty = "EC"
		k.x = b64.EncodeToString(point[1 : 1+size])
		k.y = b64.EncodeToString(point[1+size:])
	case *rsa.PublicKey:
		if pub == nil || pub.N == nil || pub.N.Sign() <= 0 || pub.E <= 0 {
			return k, fmt.Errorf("invalid RSA key: %w", ErrKey)
		}
		k.kty = "RSA"
		k.n = b64.EncodeToString(pub.N.Bytes())
		k.e = b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return k, fmt.Errorf("invalid Ed25519 key: %w", ErrKey)
		}
		k.kty, k.crv = "OKP", "Ed25519"
		k.x = b64.EncodeToString(pub)
	default:
		return k, fmt.Errorf("unsupported key type %T: %w", key, ErrKey)
	}
	return k, nil
}

// ThumbprintJWK returns the RFC 7638 thumbprint of the public JWK in jwkJSON.
// It fails with [ErrPrivateKey] when the JWK holds private members, with
// [ErrKey] for an unsupported or invalid key, and with [ErrMalformed] when
// jwkJSON is not one JSON object without repeated members.
func ThumbprintJWK(jwkJSON []byte) (string, error) {
	k, err := parseJWK(jwkJSON)
	if err != nil {
		return "", err
	}
	if _, err := k.publicKey(); err != nil {
		return "", err
	}
	return k.thumbprint(), nil
}

// MatchThumbprint reports whether the thumbprints a and b are equal, in time
// that depends only on their lengths.
func MatchThumbprint(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var v byte
	for i := 0; i < len(a); i++ {
		v |= a[i] ^ b[i]
	}
	return subtle.ConstantTimeByteEq(v, 0) == 1
}
