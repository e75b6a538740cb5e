package dpop

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"runtime"
	"sync"
	"time"
)

// Default sizing of a [MemoryReplayCache].
//
// A proof stays in the cache for as long as it could be accepted: from its
// verification until iat + window + skew, and iat may lie up to skew in the
// future, so an entry lives at most window + 2·skew (70 s with the
// [Verifier] defaults). One CPU verifies at most about 20,000 ES256
// signatures per second (about 50 µs each, measured with
// BenchmarkFloorECDSAVerify on a 2020s server core; faster algorithms are
// not faster than that by much, EdDSA aside, and every DPoP request also
// carries an access token to verify). So one instance cannot fill more than
//
//	GOMAXPROCS × 20,000 proofs/s × 70 s = GOMAXPROCS × 1.4 million entries
//
// in one window, and a cache of that capacity is never full under honest or
// hostile load that the instance can actually serve. At under 50 bytes per
// entry (see TestMemoryReplayCacheBytesPerEntry) that is at most about 70 MB
// per CPU, and memory is only taken as entries arrive.
const (
	maxProofsPerCPUSecond = 20_000
	defaultEntryLifetime  = defaultIATWindow + 2*defaultClockSkew
	maxReplayShards       = 128 // a power of two
	minPerShard           = 64
	replaySweepPerRecord  = 2 // expired entries looked at per new entry
)

// defaultReplayCapacity is the capacity for entries that live up to lifetime.
func defaultReplayCapacity(lifetime time.Duration) int {
	n := float64(runtime.GOMAXPROCS(0)) * maxProofsPerCPUSecond * lifetime.Seconds()
	if n > math.MaxInt32 {
		return math.MaxInt32
	}
	return max(int(n), 1024)
}

// MemoryReplayCache is a [ReplayCache] for one process. It is split into
// shards, each with its own lock; an entry takes under 50 bytes (a 16-byte
// prefix of the [ReplayKey] and a 32-bit expiry in seconds, rounded up).
// Expired entries are removed a few at a time as new ones arrive, and all at
// once when a shard fills. When the cache is full of live entries, Record
// fails with [ErrReplayCacheFull] rather than forget a live entry: forgetting
// would let a proof be replayed.
//
// A MemoryReplayCache is safe for concurrent use. It starts no goroutines.
type MemoryReplayCache struct {
	shards   []replayShard
	mask     uint64
	seed     maphash.Seed
	perShard int
	base     time.Time // second 0 of the 32-bit expiry clock
	now      func() time.Time
}

type replayShard struct {
	mu     sync.Mutex
	m      map[[16]byte]uint32
	minExp uint32 // no entry expires before this second
	_      [40]byte
}

// MemoryOption configures a [MemoryReplayCache].
type MemoryOption func(*memoryConfig)

type memoryConfig struct {
	capacity int
	now      func() time.Time
	errs     []error
}

// WithCapacity sets how many live entries the cache holds at most (roughly:
// the limit applies per shard, with some slack for uneven spreading). The
// default is described at [NewMemoryReplayCache].
func WithCapacity(n int) MemoryOption {
	return func(c *memoryConfig) {
		if n <= 0 {
			c.errs = append(c.errs, fmt.Errorf("capacity %d is not positive: %w", n, ErrConfig))
		}
		c.capacity = n
	}
}

// WithCacheClock sets the clock the cache uses to decide which entries have
// expired. It must be the clock that computes the times passed to Record.
func WithCacheClock(now func() time.Time) MemoryOption {
	return func(c *memoryConfig) {
		if now == nil {
			c.errs = append(c.errs, fmt.Errorf("nil clock: %w", ErrConfig))
		}
		c.now = now
	}
}

// NewMemoryReplayCache returns an empty cache. Its default capacity is
// GOMAXPROCS × 20,000 × 70 (entries one instance can verify within the
// longest life of an entry under the [Verifier] defaults; see the sizing note
// in the source), at least 1024.
func NewMemoryReplayCache(opts ...MemoryOption) (*MemoryReplayCache, error) {
	cfg := memoryConfig{capacity: defaultReplayCapacity(defaultEntryLifetime), now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	if err := errors.Join(cfg.errs...); err != nil {
		return nil, err
	}
	n := 1
	for n < maxReplayShards && cfg.capacity/(2*n) >= minPerShard {
		n *= 2
	}
	per := cfg.capacity / n
	if n > 1 {
		per += per/8 + 8 // slack: keys spread unevenly over shards
	}
	c := &MemoryReplayCache{
		shards:   make([]replayShard, n),
		mask:     uint64(n - 1),
		seed:     maphash.MakeSeed(),
		perShard: per,
		now:      cfg.now,
	}
	c.base = cfg.now().Add(-time.Second).Truncate(time.Second)
	for i := range c.shards {
		c.shards[i].m = make(map[[16]byte]uint32)
		c.shards[i].minExp = math.MaxUint32
	}
	return c, nil
}

// seconds converts t to the cache's 32-bit clock, rounding up when ceil.
func (c *MemoryReplayCache) seconds(t time.Time, ceil bool) uint32 {
	d := t.Sub(c.base)
	if d <= 0 {
		return 0
	}
	s := d / time.Second
	if ceil && d%time.Second != 0 {
		s++
	}
	if s >= math.MaxUint32 {
		return math.MaxUint32 - 1
	}
	return uint32(s)
}

// Record implements [ReplayCache]: an entry is live while the time is
// before until (rounded up to a whole second). It fails only with
// [ErrReplayCacheFull].
func (c *MemoryReplayCache) Record(_ context.Context, key ReplayKey, until time.Time) (bool, error) {
	var k [16]byte
	copy(k[:], key[:16])
	sh := &c.shards[maphash.Comparable(c.seed, k)&c.mask]
	now := c.seconds(c.now(), false)
	exp := c.seconds(until, true)

	sh.mu.Lock()
	defer sh.mu.Unlock()
	old, ok := sh.m[k]
	if ok && now < old {
		return true, nil
	}
	if exp <= now {
		return false, nil // nothing to remember: it could not be accepted again
	}
	if !ok {
		if now >= sh.minExp { // else nothing can have expired yet
			sh.sweep(now, replaySweepPerRecord)
		}
		if len(sh.m) >= c.perShard {
			if now >= sh.minExp {
				sh.sweep(now, -1)
			}
			if len(sh.m) >= c.perShard {
				return false, ErrReplayCacheFull
			}
		}
	}
	sh.m[k] = exp
	sh.minExp = min(sh.minExp, exp)
	return false, nil
}

// sweep looks at up to n entries (all when n < 0), starting at a random one,
// and deletes those expired at now. A full sweep also recomputes minExp.
func (sh *replayShard) sweep(now uint32, n int) {
	if n < 0 {
		sh.minExp = math.MaxUint32
	}
	for k, e := range sh.m {
		if now >= e {
			delete(sh.m, k)
		} else if n < 0 {
			sh.minExp = min(sh.minExp, e)
		}
		if n--; n == 0 {
			return
		}
	}
}

// Len returns the number of entries held, live or not yet swept.
func (c *MemoryReplayCache) Len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}
