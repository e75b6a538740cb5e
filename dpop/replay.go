package dpop

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
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
	// domain || uint64 big-endian len(thumbprint) || thumbprint || jti; the
	// length prefix keeps ("ab", "c") apart from ("a", "bc").
	var stack [256]byte
	b := append(stack[:0], replayKeyDomain...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(thumbprint)))
	b = append(b, thumbprint...)
	b = append(b, jti...)
	return sha256.Sum256(b)
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
