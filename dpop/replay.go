package dpop

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"
)

// ErrReplayed reports that a proof's jti was already used by the same key
// within the proof's acceptance window (RFC 9449 §11.1).
var ErrReplayed = errors.New("dpop: proof replayed")

// ErrReplayCacheUnavailable reports that the [ReplayCache] could not decide
// whether a proof was replayed. Verification fails closed.
var ErrReplayCacheUnavailable = errors.New("dpop: replay cache unavailable")

// ReplayKey identifies one (key, jti) pair in a [ReplayCache]. It is the
// SHA-256 digest of the proof key's thumbprint and the jti, domain-separated,
// so that one client cannot block another client's jti values and so that a
// cache never stores attacker-chosen strings.
type ReplayKey [32]byte

// replayKeyDomain separates replay keys from every other SHA-256 use.
const replayKeyDomain = "senderbound/dpop/replay/v1\x00"

// NewReplayKey returns the replay key for a proof with the given JWK
// thumbprint and jti.
func NewReplayKey(thumbprint, jti string) ReplayKey {
	h := sha256.New()
	var lenbuf [8]byte
	h.Write([]byte(replayKeyDomain))
	// Length-prefix the thumbprint so that ("ab","c") and ("a","bc") differ.
	n := uint64(len(thumbprint))
	for i := range lenbuf {
		lenbuf[i] = byte(n >> (56 - 8*i))
	}
	h.Write(lenbuf[:])
	h.Write([]byte(thumbprint))
	h.Write([]byte(jti))
	var k ReplayKey
	h.Sum(k[:0])
	return k
}

// ReplayCache remembers proofs that were accepted, for as long as they could
// be accepted again (RFC 9449 §11.1). A fleet of servers must share one
// ReplayCache so that a proof replayed to another instance is caught.
//
// Implementations must be safe for concurrent use.
type ReplayCache interface {
	// Record atomically records key until the given time and reports whether it was already
	// recorded and not yet expired. An error means the cache could not decide: callers fail closed.
	Record(ctx context.Context, key ReplayKey, until time.Time) (seen bool, err error)
}
