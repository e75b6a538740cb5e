package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// NonceStatus tells how fresh an accepted nonce is.
type NonceStatus int

const (
	// NonceCurrent: the nonce is from the current period; nothing to do.
	NonceCurrent NonceStatus = iota + 1
	// NonceStale: the nonce is still accepted but will expire soon; the
	// server should send a fresh one in a DPoP-Nonce header.
	NonceStale
)

// NonceSource issues and checks server nonces (RFC 9449 §8, §9).
// Implementations must be safe for concurrent use.
type NonceSource interface {
	// Nonce returns a fresh nonce to hand out now.
	Nonce() (string, error)
	// Check reports whether nonce is one this source issued and still
	// accepts, and how fresh it is. It fails, wrapping [ErrNonce], when the
	// nonce is invalid or expired.
	Check(nonce string) (NonceStatus, error)
}

const (
	minNonceSecret   = 32
	defaultNonceStep = time.Minute
	nonceMACSize     = 16 // bytes of HMAC-SHA256 kept: 128 bits
	nonceDomain      = "senderbound/dpop/nonce/v1\x00"
)

// HMACNonces is a stateless [NonceSource]: a nonce is a time step number and
// an HMAC-SHA256 over it, so any server holding the secret can check a
// nonce that another issued. A nonce is accepted during the step it was made
// in and the next one (so it lives between one and two steps), and it is
// [NonceStale] in that next step. A nonce from the following step is also
// accepted while it is within the clock-skew allowance, for fleets whose
// clocks differ slightly.
//
// Several secrets allow rotation without downtime: the first signs, all
// verify. Roll out a new secret second in the list, then first, then remove
// the old one.
//
// Nonces are 32 base64url characters, within RFC 9449's nonce syntax.
//
// HMACNonces is safe for concurrent use.
type HMACNonces struct {
	secrets [][]byte
	step    time.Duration
	skew    time.Duration
	now     func() time.Time
}

// NonceOption configures [HMACNonces].
type NonceOption func(*nonceConfig)

type nonceConfig struct {
	step, skew time.Duration
	now        func() time.Time
	errs       []error
}

// WithNonceStep sets the length of one time step (default one minute). A
// nonce is accepted for one to two steps.
func WithNonceStep(d time.Duration) NonceOption {
	return func(c *nonceConfig) {
		if d < time.Second {
			c.errs = append(c.errs, fmt.Errorf("nonce step %v is under a second: %w", d, ErrConfig))
		}
		c.step = d
	}
}

// WithNonceClockSkew sets how far ahead another server's clock may be
// (default 5 s).
func WithNonceClockSkew(d time.Duration) NonceOption {
	return func(c *nonceConfig) {
		if d < 0 {
			c.errs = append(c.errs, fmt.Errorf("negative nonce clock skew: %w", ErrConfig))
		}
		c.skew = d
	}
}

// WithNonceClock sets the clock (default time.Now).
func WithNonceClock(now func() time.Time) NonceOption {
	return func(c *nonceConfig) {
		if now == nil {
			c.errs = append(c.errs, fmt.Errorf("nil nonce clock: %w", ErrConfig))
		}
		c.now = now
	}
}

// NewHMACNonces returns a nonce source keyed with secrets: the first signs
// new nonces, all of them verify. Each secret must be at least 32 bytes of
// random data shared by every server of a fleet. The secrets are copied.
//
// An empty secret after the first is skipped: it stands for a slot of the
// configuration that is not in use, such as the second secret outside a
// rotation, so a fleet can always build the list from the same settings. It
// is never used as a key. The first secret signs and must be set; a
// secret that is set but shorter than 32 bytes is refused.
func NewHMACNonces(secrets [][]byte, opts ...NonceOption) (*HMACNonces, error) {
	cfg := nonceConfig{step: defaultNonceStep, skew: defaultClockSkew, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	if len(secrets) == 0 {
		cfg.errs = append(cfg.errs, fmt.Errorf("no nonce secret: %w", ErrConfig))
	}
	n := &HMACNonces{step: cfg.step, skew: cfg.skew, now: cfg.now}
	for i, s := range secrets {
		if i > 0 && len(s) == 0 {
			continue // an unused slot, such as the second secret outside a rotation
		}
		if len(s) < minNonceSecret {
			cfg.errs = append(cfg.errs, fmt.Errorf("nonce secret %d is shorter than %d bytes: %w", i, minNonceSecret, ErrConfig))
		}
		n.secrets = append(n.secrets, append([]byte(nil), s...))
	}
	if err := errors.Join(cfg.errs...); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *HMACNonces) stepAt(t time.Time) uint64 {
	u := t.UnixNano()
	if u < 0 {
		return 0
	}
	return uint64(u) / uint64(n.step)
}

func (n *HMACNonces) mac(secret []byte, step uint64, dst []byte) []byte {
	h := hmac.New(sha256.New, secret)
	var b [len(nonceDomain) + 8]byte
	copy(b[:], nonceDomain)
	binary.BigEndian.PutUint64(b[len(nonceDomain):], step)
	h.Write(b[:])
	return h.Sum(dst)
}

// Nonce implements [NonceSource].
func (n *HMACNonces) Nonce() (string, error) {
	step := n.stepAt(n.now())
	var raw [8 + sha256.Size]byte
	binary.BigEndian.PutUint64(raw[:8], step)
	n.mac(n.secrets[0], step, raw[8:8])
	return b64.EncodeToString(raw[:8+nonceMACSize]), nil
}

// Check implements [NonceSource].
func (n *HMACNonces) Check(nonce string) (NonceStatus, error) {
	var raw [8 + nonceMACSize]byte
	if len(nonce) != b64.EncodedLen(len(raw)) {
		return 0, fmt.Errorf("nonce length: %w", ErrNonce)
	}
	if _, err := b64Strict.Decode(raw[:], []byte(nonce)); err != nil {
		return 0, fmt.Errorf("nonce encoding: %w", ErrNonce)
	}
	step := binary.BigEndian.Uint64(raw[:8])
	now := n.now()
	cur := n.stepAt(now)
	var status NonceStatus
	switch {
	case step == cur:
		status = NonceCurrent
	case step+1 == cur:
		status = NonceStale
	case step == cur+1 && n.stepAt(now.Add(n.skew)) == step:
		status = NonceCurrent
	default:
		return 0, fmt.Errorf("nonce expired or not yet valid: %w", ErrNonce)
	}
	var want [sha256.Size]byte
	ok := false
	for _, s := range n.secrets {
		// Check every secret so that timing does not tell which one matched.
		if hmac.Equal(n.mac(s, step, want[:0])[:nonceMACSize], raw[8:]) {
			ok = true
		}
	}
	if !ok {
		return 0, fmt.Errorf("nonce not issued here: %w", ErrNonce)
	}
	return status, nil
}
