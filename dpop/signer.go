package dpop

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/senderbound/senderbound/internal/jose"
)

// ErrSigner reports that a [Signer] cannot be built or cannot make a proof.
var ErrSigner = errors.New("dpop: cannot sign proof")

// Signer makes DPoP proofs (RFC 9449 §4.2) with a private key: the client
// side of DPoP. The key may live in hardware or a KMS; only its
// [crypto.Signer] interface is used. A Signer is safe for concurrent use
// when its key is.
type Signer struct {
	js     *jose.KeySigner // the key, the algorithm and the signing
	alg    string
	header string // base64url of the JOSE header, then "."
	thumb  string
	now    func() time.Time
}

// SignerOption configures a [Signer].
type SignerOption func(*signerConfig)

type signerConfig struct {
	alg  string
	now  func() time.Time
	errs []error
}

// WithSignerAlgorithm chooses the algorithm where the key allows several:
// for RSA keys PS256 (the default), RS256, PS384, RS384, PS512 or RS512;
// for Ed25519 keys EdDSA (the default, which every verifier knows) or
// Ed25519, its fully-specified name (RFC 9864).
func WithSignerAlgorithm(alg string) SignerOption {
	return func(c *signerConfig) { c.alg = alg }
}

// WithSignerClock sets the clock for iat (default time.Now).
func WithSignerClock(now func() time.Time) SignerOption {
	return func(c *signerConfig) {
		if now == nil {
			c.errs = append(c.errs, fmt.Errorf("nil clock: %w", ErrConfig))
		}
		c.now = now
	}
}

// NewSigner returns a Signer for key. The algorithm follows from the key:
// ES256, ES384 or ES512 for ECDSA P-256, P-384 or P-521; EdDSA for Ed25519;
// PS256 for RSA (2048 bits or more); [WithSignerAlgorithm] chooses another
// where the key allows one.
func NewSigner(key crypto.Signer, opts ...SignerOption) (*Signer, error) {
	cfg := signerConfig{now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	if key == nil {
		return nil, fmt.Errorf("nil key: %w", ErrConfig)
	}
	js, err := jose.NewKeySigner(key, cfg.alg)
	if err != nil {
		// jose's messages name the problem; the sentinel is ours.
		cfg.errs = append(cfg.errs, fmt.Errorf("%w: %w", ErrConfig, err))
	}
	if err := errors.Join(cfg.errs...); err != nil {
		return nil, err
	}
	s := &Signer{js: js, alg: js.Algorithm(), now: cfg.now}
	k, err := jwkOf(key.Public())
	if err != nil {
		return nil, errors.Join(ErrConfig, err)
	}
	s.thumb = k.thumbprint()
	hdr := append([]byte(`{"typ":"dpop+jwt","alg":"`+s.alg+`","jwk":`), k.appendJSON(nil)...)
	hdr = append(hdr, '}')
	s.header = b64.EncodeToString(hdr) + "."
	return s, nil
}

// Thumbprint returns the RFC 7638 thumbprint of the Signer's public key:
// the cnf.jkt of tokens bound to it.
func (s *Signer) Thumbprint() string { return s.thumb }

// Algorithm returns the Signer's JWS algorithm.
func (s *Signer) Algorithm() string { return s.alg }

type proofPayload struct {
	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   int64  `json:"iat"`
	ATH   string `json:"ath,omitempty"`
	Nonce string `json:"nonce,omitempty"`
}

// Proof returns a new proof for a request with method to uri: a fresh jti
// of 128 random bits, iat now, htu = uri without query and fragment, ath
// when accessToken is not empty, and nonce when not empty. uri must be an
// absolute http or https URI without userinfo.
func (s *Signer) Proof(method, uri, accessToken, nonce string) (string, error) {
	if method == "" {
		return "", fmt.Errorf("empty method: %w", ErrSigner)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return "", fmt.Errorf("URI: %w", ErrSigner)
	}
	htu := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}).String()
	if u.User != nil || u.Opaque != "" {
		return "", fmt.Errorf("URI has userinfo or no authority: %w", ErrSigner)
	}
	if _, err := NormalizeURI(htu); err != nil {
		return "", fmt.Errorf("URI: %w", errors.Join(ErrSigner, err))
	}
	p := proofPayload{JTI: rand.Text(), HTM: method, HTU: htu, IAT: s.now().Unix(), Nonce: nonce}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		p.ATH = b64.EncodeToString(sum[:])
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return "", errors.Join(ErrSigner, err)
	}
	input := make([]byte, 0, len(s.header)+b64.EncodedLen(len(payload))+1+b64.EncodedLen(2*132))
	input = append(input, s.header...)
	input = b64.AppendEncode(input, payload)
	sig, err := s.sign(input)
	if err != nil {
		return "", errors.Join(ErrSigner, err)
	}
	input = append(input, '.')
	return string(b64.AppendEncode(input, sig)), nil
}

func (s *Signer) sign(input []byte) ([]byte, error) { return s.js.Sign(input) }
