package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// ErrSignerConfig reports a key and algorithm that cannot sign together.
var ErrSignerConfig = errors.New("jose: key cannot sign with this algorithm")

// KeySigner makes JWS signatures with a crypto.Signer (a key in memory,
// in hardware or in a KMS): the algorithm follows from the key, or is
// chosen among those the key allows. It is safe for concurrent use when
// its key is.
type KeySigner struct {
	key    crypto.Signer
	alg    string
	opts   crypto.SignerOpts
	ecSize int // bytes of r and of s for ES*, else 0
}

// NewKeySigner returns a KeySigner for key. The algorithm follows from the
// key: ES256, ES384 or ES512 for ECDSA P-256, P-384 or P-521; EdDSA for
// Ed25519; PS256 for RSA (2048 bits or more). alg, when not empty, chooses
// another where the key allows one: RS256, PS384, RS384, PS512 or RS512
// for RSA; Ed25519 (RFC 9864) for Ed25519 keys.
func NewKeySigner(key crypto.Signer, alg string) (*KeySigner, error) {
	if key == nil {
		return nil, fmt.Errorf("nil key: %w", ErrSignerConfig)
	}
	s := &KeySigner{key: key}
	var errs []error
	switch pub := key.Public().(type) {
	case *ecdsa.PublicKey:
		switch pub.Curve.Params().Name {
		case "P-256":
			s.alg, s.opts, s.ecSize = "ES256", crypto.SHA256, 32
		case "P-384":
			s.alg, s.opts, s.ecSize = "ES384", crypto.SHA384, 48
		case "P-521":
			s.alg, s.opts, s.ecSize = "ES512", crypto.SHA512, 66
		}
		if alg != "" && alg != s.alg {
			errs = append(errs, fmt.Errorf("algorithm %q does not fit the key: %w", alg, ErrSignerConfig))
		}
	case ed25519.PublicKey:
		s.alg, s.opts = "EdDSA", crypto.Hash(0)
		switch alg {
		case "", "EdDSA":
		case "Ed25519":
			s.alg = alg
		default:
			errs = append(errs, fmt.Errorf("algorithm %q does not fit the key: %w", alg, ErrSignerConfig))
		}
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			errs = append(errs, fmt.Errorf("RSA key under 2048 bits: %w", ErrSignerConfig))
		}
		if alg == "" {
			alg = "PS256"
		}
		hashes := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}
		h, ok := hashes[alg[min(2, len(alg)):]]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("algorithm %q does not fit an RSA key: %w", alg, ErrSignerConfig))
		case alg[:2] == "PS":
			s.opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
		case alg[:2] == "RS":
			s.opts = h
		default:
			errs = append(errs, fmt.Errorf("algorithm %q does not fit an RSA key: %w", alg, ErrSignerConfig))
		}
		s.alg = alg
	}
	if s.alg == "" {
		errs = append(errs, fmt.Errorf("unsupported key type %T: %w", key.Public(), ErrSignerConfig))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Algorithm returns the JWS algorithm.
func (s *KeySigner) Algorithm() string { return s.alg }

// Public returns the public key.
func (s *KeySigner) Public() crypto.PublicKey { return s.key.Public() }

// Sign returns the JWS signature of input (the signing input, header and
// payload in base64url joined by ".").
func (s *KeySigner) Sign(input []byte) ([]byte, error) {
	digest := input
	switch s.opts.HashFunc() {
	case crypto.SHA256:
		d := sha256.Sum256(input)
		digest = d[:]
	case crypto.SHA384:
		d := sha512.Sum384(input)
		digest = d[:]
	case crypto.SHA512:
		d := sha512.Sum512(input)
		digest = d[:]
	}
	sig, err := s.key.Sign(rand.Reader, digest, s.opts)
	if err != nil || s.ecSize == 0 {
		return sig, err
	}
	// crypto.Signer gives ECDSA signatures in ASN.1; JWS wants r || s.
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(sig, &rs); err != nil || len(rest) != 0 ||
		rs.R.Sign() <= 0 || rs.S.Sign() <= 0 || rs.R.BitLen() > 8*s.ecSize || rs.S.BitLen() > 8*s.ecSize {
		return nil, errors.New("jose: key returned an invalid ECDSA signature")
	}
	out := make([]byte, 2*s.ecSize)
	rs.R.FillBytes(out[:s.ecSize])
	rs.S.FillBytes(out[s.ecSize:])
	return out, nil
}

// Key returns the signing key.
func (s *KeySigner) Key() crypto.Signer { return s.key }
