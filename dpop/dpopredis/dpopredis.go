package dpopredis

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/senderbound/senderbound/dpop"
)

// DefaultKeyPrefix is the prefix of every key the cache writes, unless
// [WithKeyPrefix] sets another.
const DefaultKeyPrefix = "senderbound:dpop:jti:"

// DefaultTimeout bounds each Redis round trip, unless [WithTimeout] sets
// another. A replay check sits on the request path; a Redis that does not
// answer within this time is treated as unavailable.
const DefaultTimeout = 250 * time.Millisecond

// MinTTL is the shortest time a key is kept: Redis refuses a zero TTL, and a
// key whose until has already passed is still checked and recorded, briefly.
const MinTTL = time.Millisecond

// maxKeyPrefix bounds the prefix so that keys stay small.
const maxKeyPrefix = 256

// encodedKeyLen is the length of a base64url-encoded [dpop.ReplayKey].
var encodedKeyLen = base64.RawURLEncoding.EncodedLen(len(dpop.ReplayKey{}))

// ErrInvalidConfig reports a [New] call with a missing client or an invalid
// option.
var ErrInvalidConfig = errors.New("dpopredis: invalid configuration")

// ReplayCache is a [dpop.ReplayCache] kept in Redis, so that every instance
// of a fleet sees the proofs that any instance accepted.
//
// A ReplayCache is safe for concurrent use. It does not own the Redis
// client: close the client when the cache is no longer used.
type ReplayCache struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	now     func() time.Time

	ackReplicas int           // WithReplicaAck's n; 0: no WAIT
	ackTimeout  time.Duration // WithReplicaAck's timeout
}

var _ dpop.ReplayCache = (*ReplayCache)(nil)

type config struct {
	prefix  string
	timeout time.Duration
	now     func() time.Time

	ackSet      bool
	ackReplicas int
	ackTimeout  time.Duration
}

// Option configures [New].
type Option func(*config)

// WithKeyPrefix sets the prefix of the cache's Redis keys (default
// [DefaultKeyPrefix]). Instances that must see each other's proofs use the
// same prefix. It must be non-empty and at most 256 bytes. On Redis Cluster,
// do not put a hash tag ({…}) in it: that would send every key to one slot.
func WithKeyPrefix(p string) Option {
	return func(c *config) { c.prefix = p }
}

// WithTimeout bounds each Redis round trip (default [DefaultTimeout]). The
// deadline of the context given to [ReplayCache.Record] applies as well;
// the earlier one wins.
func WithTimeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

// WithClock sets the clock used to turn Record's until into a TTL (default
// time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithReplicaAck makes Record wait, after it stored a new key, until at
// least n replicas of the key's master acknowledge the write (Redis WAIT n
// timeout), and fail closed, with an error wrapping
// [dpop.ErrReplayCacheUnavailable], when fewer did within timeout. Without
// it (the default), Record returns as soon as the master stored the key, and
// a failover in the next moments can lose it (see the package
// documentation, "Failover and restarts").
//
// n must be at least 1, and timeout positive and shorter than the round-trip
// timeout ([WithTimeout]), which bounds the SET and the WAIT together. The
// client must be a [*redis.Client] (single node, or Sentinel through
// [redis.NewFailoverClient]) or a [*redis.ClusterClient]: the WAIT must run
// on the connection that wrote the key, on the key's master, so Record sends
// both as one pipeline to that master. On a Cluster this bypasses go-redis's
// redirections: while a slot moves (resharding, failover), its keys fail
// closed until the client has reloaded the slot map, which Record requests
// after any error.
func WithReplicaAck(n int, timeout time.Duration) Option {
	return func(c *config) { c.ackSet, c.ackReplicas, c.ackTimeout = true, n, timeout }
}

// New returns a ReplayCache that stores its keys through client, which may be
// a single-node, Sentinel (failover) or Cluster client, for example from
// [redis.NewUniversalClient].
//
// The client must honour context deadlines: when its options have a
// ContextTimeoutEnabled field, New requires it to be true, because otherwise
// go-redis waits for its own ReadTimeout (3s by default) however short the
// request's deadline is. New reports every problem at once, each wrapping
// [ErrInvalidConfig].
func New(client redis.UniversalClient, opts ...Option) (*ReplayCache, error) {
	cfg := config{prefix: DefaultKeyPrefix, timeout: DefaultTimeout, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	var errs []error
	if client == nil {
		errs = append(errs, fmt.Errorf("%w: nil Redis client", ErrInvalidConfig))
	} else if ok, known := contextTimeoutEnabled(client); known && !ok {
		errs = append(errs, fmt.Errorf("%w: the Redis client must be built with ContextTimeoutEnabled: true so that deadlines bound each call", ErrInvalidConfig))
	}
	if cfg.prefix == "" {
		errs = append(errs, fmt.Errorf("%w: empty key prefix", ErrInvalidConfig))
	}
	if len(cfg.prefix) > maxKeyPrefix {
		errs = append(errs, fmt.Errorf("%w: key prefix longer than %d bytes", ErrInvalidConfig, maxKeyPrefix))
	}
	if cfg.timeout <= 0 {
		errs = append(errs, fmt.Errorf("%w: timeout %v is not positive", ErrInvalidConfig, cfg.timeout))
	}
	if cfg.now == nil {
		errs = append(errs, fmt.Errorf("%w: nil clock", ErrInvalidConfig))
	}
	if cfg.ackSet {
		if cfg.ackReplicas < 1 {
			errs = append(errs, fmt.Errorf("%w: replica acknowledgements %d: must be at least 1", ErrInvalidConfig, cfg.ackReplicas))
		}
		if cfg.ackTimeout <= 0 {
			// WAIT n 0 would block until n replicas answer, forever if they never do.
			errs = append(errs, fmt.Errorf("%w: replica acknowledgement timeout %v is not positive", ErrInvalidConfig, cfg.ackTimeout))
		} else if cfg.ackTimeout >= cfg.timeout {
			errs = append(errs, fmt.Errorf("%w: replica acknowledgement timeout %v must be shorter than the round-trip timeout %v", ErrInvalidConfig, cfg.ackTimeout, cfg.timeout))
		}
		switch client.(type) {
		case nil, *redis.Client, *redis.ClusterClient:
		default:
			errs = append(errs, fmt.Errorf("%w: replica acknowledgement needs a *redis.Client or *redis.ClusterClient, not %T", ErrInvalidConfig, client))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c := &ReplayCache{client: client, prefix: cfg.prefix, timeout: cfg.timeout, now: cfg.now}
	if cfg.ackSet {
		c.ackReplicas = cfg.ackReplicas
		// WAIT counts whole milliseconds; round up so as not to wait less.
		c.ackTimeout = (cfg.ackTimeout + time.Millisecond - 1).Truncate(time.Millisecond)
	}
	return c, nil
}

// contextTimeoutEnabled reports the client's ContextTimeoutEnabled option,
// and whether the client's type is one whose options New can read.
func contextTimeoutEnabled(client redis.UniversalClient) (enabled, known bool) {
	switch c := client.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled, true
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled, true
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled, true
	}
	return false, false
}

// Record records key until the given time and reports whether it was
// already recorded and not yet expired, in one atomic round trip:
//
//	SET <prefix><base64url(key)> 1 NX PX <until - now>
//
// The TTL is measured from this process's clock, so Redis's own clock does
// not matter; it is rounded up to whole milliseconds, and is at least
// [MinTTL] even when until is not after now (the key is still checked).
//
// Record never reports "not seen" unless Redis confirmed that it stored the
// key. Every error (Redis unreachable, timeout, cancelled context, an
// unexpected reply) wraps [dpop.ErrReplayCacheUnavailable], and the caller
// must fail closed.
func (c *ReplayCache) Record(ctx context.Context, key dpop.ReplayKey, until time.Time) (bool, error) {
	ttl := until.Sub(c.now())
	if ttl < MinTTL {
		ttl = MinTTL
	}
	// Round up so that the key outlives until rather than falling short of it.
	ttl = (ttl + time.Millisecond - 1).Truncate(time.Millisecond)

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if c.ackReplicas > 0 {
		return c.recordAcked(ctx, c.redisKey(key), ttl)
	}
	status, err := c.client.SetArgs(ctx, c.redisKey(key), "1", redis.SetArgs{Mode: "NX", TTL: ttl}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		// NX refused to overwrite a live key: this key was recorded before.
		return true, nil
	case err != nil:
		return false, fmt.Errorf("%w: %w", dpop.ErrReplayCacheUnavailable, err)
	case status != "OK":
		return false, fmt.Errorf("%w: unexpected reply to SET", dpop.ErrReplayCacheUnavailable)
	}
	return false, nil
}

// recordAcked is Record with [WithReplicaAck]: SET NX and WAIT, pipelined
// on one connection to the key's master, so that WAIT counts the replicas
// that acknowledged this SET.
func (c *ReplayCache) recordAcked(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	master, err := c.master(ctx, key)
	if err != nil {
		return false, fmt.Errorf("%w: %w", dpop.ErrReplayCacheUnavailable, err)
	}
	pipe := master.Pipeline()
	set := pipe.SetArgs(ctx, key, "1", redis.SetArgs{Mode: "NX", TTL: ttl})
	// Pipeliner has no Wait method.
	wait := pipe.Do(ctx, "wait", c.ackReplicas, c.ackTimeout.Milliseconds())
	// Each command's own result is checked below.
	_, _ = pipe.Exec(ctx)

	status, err := set.Result()
	switch {
	case errors.Is(err, redis.Nil):
		// Recorded before: a replay, whatever the replicas say.
		return true, nil
	case err != nil:
		c.reloadSlots(ctx)
		return false, fmt.Errorf("%w: %w", dpop.ErrReplayCacheUnavailable, err)
	case status != "OK":
		return false, fmt.Errorf("%w: unexpected reply to SET", dpop.ErrReplayCacheUnavailable)
	}
	acked, err := wait.Int64()
	if err != nil {
		c.reloadSlots(ctx)
		return false, fmt.Errorf("%w: WAIT: %w", dpop.ErrReplayCacheUnavailable, err)
	}
	if acked < int64(c.ackReplicas) {
		// The master has the key, but a failover now could lose it.
		return false, fmt.Errorf("%w: %d of %d replicas acknowledged the write within %v",
			dpop.ErrReplayCacheUnavailable, acked, c.ackReplicas, c.ackTimeout)
	}
	return false, nil
}

// master returns the client of the master that holds key.
func (c *ReplayCache) master(ctx context.Context, key string) (*redis.Client, error) {
	switch client := c.client.(type) {
	case *redis.Client:
		return client, nil
	case *redis.ClusterClient:
		return client.MasterForKey(ctx, key)
	}
	return nil, fmt.Errorf("unsupported client %T", c.client) // New refuses it
}

// reloadSlots asks a Cluster client to reload its slot map in the
// background, after an error that may come from a failover or a moved slot.
func (c *ReplayCache) reloadSlots(ctx context.Context) {
	if cc, ok := c.client.(*redis.ClusterClient); ok {
		cc.ReloadState(ctx)
	}
}

// redisKey returns the Redis key for key: the prefix and the base64url
// encoding of the (already hashed, fixed-size) replay key.
func (c *ReplayCache) redisKey(key dpop.ReplayKey) string {
	var b strings.Builder
	b.Grow(len(c.prefix) + encodedKeyLen)
	b.WriteString(c.prefix)
	var enc [43]byte // base64.RawURLEncoding.EncodedLen(32)
	base64.RawURLEncoding.Encode(enc[:], key[:])
	b.Write(enc[:])
	return b.String()
}
