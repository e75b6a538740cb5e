package dpop

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"time"
)

// Default sizing of a [MemoryReplayCache].
//
// A proof stays in the cache for as long as it could be accepted by this
// server or by a fleet member whose clock lags it by up to skew: from its
// verification until iat + window + 2·skew, and iat may lie up to skew in
// the future, so an entry lives at most window + 3·skew (75 s with the
// [Verifier] defaults). One CPU verifies at most about 20,000 ES256
// signatures per second (about 50 µs each, measured with
// BenchmarkFloorECDSAVerify on a 2020s server core; faster algorithms are
// not faster than that by much, EdDSA aside, and every DPoP request also
// carries an access token to verify). So one instance cannot fill more than
//
//	GOMAXPROCS × 20,000 proofs/s × 75 s = GOMAXPROCS × 1.5 million entries
//
// in one window, and a cache of that capacity is never full under honest or
// hostile load that the instance can actually serve. An entry takes 16 bytes
// in tables that grow, by doubling, only when they are nearly full, so 18 to
// 40 bytes per live entry (see TestMemoryReplayCacheBytesPerEntry and
// BenchmarkMemoryReplayCacheSteady): at most about 60 MB per CPU, and memory
// is only taken as entries arrive.
const (
	maxProofsPerCPUSecond = 20_000
	defaultEntryLifetime  = defaultIATWindow + 3*defaultClockSkew
	maxReplayShards       = 128 // a power of two
	minPerShard           = 64
	replayBucketSlots     = 8 // a bucket is two cache lines
	minReplayBuckets      = 8 // a shard's first table
)

// defaultReplayCapacity is the capacity for entries that live up to lifetime.
func defaultReplayCapacity(lifetime time.Duration) int {
	n := float64(runtime.GOMAXPROCS(0)) * maxProofsPerCPUSecond * lifetime.Seconds()
	if n > math.MaxInt32 {
		return math.MaxInt32
	}
	return max(int(n), 1024)
}

// MemoryReplayCache is a [ReplayCache] for one process.
//
// It is split into shards, each with its own lock and its own hash table.
// An entry is 16 bytes: a 96-bit prefix of the [ReplayKey] and a 32-bit
// expiry in seconds, rounded up. Each key may sit in one of two buckets of
// eight entries, chosen by a hash with a per-cache random seed (so that
// clients cannot aim their keys at one bucket), and goes to the one holding
// fewer live entries; a check reads those two buckets and nothing else. An
// expired entry is overwritten in place by the next key that lands in its
// bucket, so steady traffic needs no sweeping. When both buckets of a new
// key are full of live entries, one of those entries moves to its other
// bucket if that has room, and only if none can does the shard's table
// double, so tables grow when they are about 90 % full.
//
// When the cache is full of live entries, Record fails with
// [ErrReplayCacheFull] rather than forget a live entry: forgetting would
// let a proof be replayed.
//
// Expiry follows the wall clock as it reads, in whole seconds counted from
// 68 years before the cache was made, so times before the start are kept
// as faithfully as times after it. The clock may step back or forward by
// any amount after the start: an entry stays live for as long as the clock
// reads before its until, and the [Verifier], which checks iat with the
// same clock, accepts the proof only while the clock reads no later than
// that. After a step back, entries live correspondingly longer (and take
// room for longer). A clock reading more than 68 years from the start
// makes Record fail with [ErrReplayCacheUnavailable]; the cache never skips
// a record. Like every store whose entries expire, it cannot keep an entry
// that it has already dropped: a clock that goes past an entry's until and
// later steps back before it again may find the slot reused.
//
// A MemoryReplayCache is safe for concurrent use. It starts no goroutines.
type MemoryReplayCache struct {
	shards    []replayShard
	mask      uint64
	seed      maphash.Seed
	perShard  int       // live entries a shard may hold
	maxBucket int       // buckets a shard's table may grow to
	base      time.Time // second 0 of the 32-bit expiry clock, 2³¹ s before the start
	now       func() time.Time
	// testHash, set only by tests, replaces the seeded hash so that a test
	// lays out its tables the same way on every run.
	testHash func(lo uint64, hi uint32) uint64
}

// replayEntry is one slot of a shard's table. exp is 0 in an empty slot;
// otherwise the entry is live while the clock is before exp.
type replayEntry struct {
	lo  uint64
	hi  uint32
	exp uint32
}

type replayBucket [replayBucketSlots]replayEntry

type replayShard struct {
	mu      sync.Mutex
	buckets []replayBucket // a power of two of them, nil before first use
	used    int            // slots with exp != 0, live or expired
	_       [24]byte       // one shard per cache line
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
// GOMAXPROCS × 20,000 × 75 (entries one instance can verify within the
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
	// A shard holding perShard live entries fills its largest table to
	// between 25 % and 50 %; with random keys, the first key that finds no
	// room (both buckets full of live entries, none of which can move)
	// appears at about 90 % (TestMemoryReplayCacheFillsTables).
	maxBucket := 1 << bits.Len(uint(2*per-1)) / replayBucketSlots
	c := &MemoryReplayCache{
		shards:    make([]replayShard, n),
		mask:      uint64(n - 1),
		seed:      maphash.MakeSeed(),
		perShard:  per,
		maxBucket: max(maxBucket, 1),
		now:       cfg.now,
	}
	// The clock counts seconds from 2³¹ s (68 years) before the cache's
	// start, so that the wall clock may step back as far as it may step
	// forward and every time is still compared as it reads. Truncate drops
	// the monotonic reading: times are compared as the wall clock reads them,
	// as the verifier's iat check does.
	c.base = cfg.now().Add(-(1 << 31) * time.Second).Truncate(time.Second)
	return c, nil
}

// seconds converts t to the cache's 32-bit clock, rounding up when ceil.
// ok is false when t lies outside the clock's range, [base+1s, base+2³²−1s):
// 0 marks an empty slot, and a time that does not fit cannot be compared.
func (c *MemoryReplayCache) seconds(t time.Time, ceil bool) (s uint32, ok bool) {
	d := t.Sub(c.base) // saturates far outside the range, which stays outside
	if d < time.Second {
		return 0, false
	}
	n := d / time.Second
	if ceil && d%time.Second != 0 {
		n++
	}
	if n >= math.MaxUint32 {
		return math.MaxUint32 - 1, false
	}
	return uint32(n), true
}

// hash returns the table hash of an entry's key. The low bits pick the
// shard, the bits above them the two buckets.
func (c *MemoryReplayCache) hash(lo uint64, hi uint32) uint64 {
	if c.testHash != nil {
		return c.testHash(lo, hi)
	}
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], lo)
	binary.LittleEndian.PutUint32(b[8:], hi)
	return maphash.Comparable(c.seed, b)
}

// errClockRange reports a clock reading that the cache cannot represent.
var errClockRange = fmt.Errorf("%w: the clock is more than 68 years from the cache's start", ErrReplayCacheUnavailable)

// Record implements [ReplayCache]: an entry is live while the cache's
// clock reads before until (rounded up to a whole second). It fails with
// [ErrReplayCacheFull], or with [ErrReplayCacheUnavailable] when the clock
// reads a time the cache cannot represent (about 68 years before or after
// its start).
func (c *MemoryReplayCache) Record(_ context.Context, key ReplayKey, until time.Time) (bool, error) {
	now, ok := c.seconds(c.now(), false)
	if !ok {
		return false, errClockRange
	}
	// An until beyond the range lives to its end; one before it is already
	// over (now is at least base+1s), so it is not recorded.
	exp, _ := c.seconds(until, true)
	lo := binary.LittleEndian.Uint64(key[:8])
	hi := binary.LittleEndian.Uint32(key[8:12])
	h := c.hash(lo, hi)
	sh := &c.shards[h&c.mask]

	sh.mu.Lock()
	seen, err := c.record(sh, lo, hi, h, now, exp)
	sh.mu.Unlock()
	return seen, err
}

// bucketsOf returns the two buckets where an entry with hash h may sit in
// a table of the given buckets (possibly the same bucket twice).
func bucketsOf(buckets []replayBucket, h uint64) (*replayBucket, *replayBucket) {
	m := uint64(len(buckets) - 1)
	return &buckets[(h>>8)&m], &buckets[(h>>36)&m]
}

// record does Record's work on one shard, with its lock held.
func (c *MemoryReplayCache) record(sh *replayShard, lo uint64, hi uint32, h uint64, now, exp uint32) (bool, error) {
	if sh.buckets == nil {
		if exp <= now {
			return false, nil
		}
		sh.buckets = make([]replayBucket, min(minReplayBuckets, c.maxBucket))
	}
	for {
		b1, b2 := bucketsOf(sh.buckets, h)
		live1, free1 := scanBucket(b1, lo, hi, now)
		if live1 < 0 {
			return true, nil
		}
		live2, free2 := scanBucket(b2, lo, hi, now)
		if live2 < 0 {
			return true, nil
		}
		if exp <= now {
			return false, nil // nothing to remember: it could not be accepted again
		}
		b, free := b1, free1
		if live2 < live1 {
			b, free = b2, free2
		}
		if free < 0 { // both buckets hold only live entries
			if c.relocate(sh, b1, now) || c.relocate(sh, b2, now) {
				continue
			}
			if len(sh.buckets) < c.maxBucket {
				c.grow(sh, now)
				continue
			}
			return false, ErrReplayCacheFull
		}
		e := &b[free]
		if e.exp == 0 {
			if sh.used >= c.perShard {
				if c.sweep(sh, now) >= c.perShard {
					return false, ErrReplayCacheFull
				}
				continue // the sweep may have emptied the chosen slot
			}
			sh.used++
		}
		*e = replayEntry{lo: lo, hi: hi, exp: exp}
		return false, nil
	}
}

// scanBucket reports the number of live entries in b and a slot free for a
// new entry (an expired one by preference, so that the table fills no
// further, else an empty one; -1 if none). live is -1 if the key is live in b.
func scanBucket(b *replayBucket, lo uint64, hi uint32, now uint32) (live, free int) {
	free = -1
	for i := range b {
		e := &b[i]
		switch {
		case e.exp > now:
			if e.lo == lo && e.hi == hi {
				return -1, -1
			}
			live++
		case e.exp != 0:
			free = i
		case free < 0:
			free = i
		}
	}
	return live, free
}

// relocate moves one entry of the full bucket b to its other bucket, if
// one of them has room there, and reports whether it did.
func (c *MemoryReplayCache) relocate(sh *replayShard, b *replayBucket, now uint32) bool {
	for i := range b {
		e := &b[i]
		x1, x2 := bucketsOf(sh.buckets, c.hash(e.lo, e.hi))
		alt := x1
		if alt == b {
			alt = x2
		}
		if alt == b { // both choices of this entry are b
			continue
		}
		if _, free := scanBucket(alt, e.lo, e.hi, now); free >= 0 {
			if alt[free].exp == 0 {
				sh.used++
			}
			alt[free] = *e
			*e = replayEntry{}
			sh.used--
			return true
		}
	}
	return false
}

// sweep empties the expired slots of sh and returns how many remain used.
func (c *MemoryReplayCache) sweep(sh *replayShard, now uint32) int {
	used := 0
	for i := range sh.buckets {
		b := &sh.buckets[i]
		for j := range b {
			switch e := &b[j]; {
			case e.exp > now:
				used++
			case e.exp != 0:
				*e = replayEntry{}
			}
		}
	}
	sh.used = used
	return used
}

// grow doubles the table of sh, dropping its expired entries. An entry in
// bucket i of n moves to bucket i or i+n of 2n, whichever its hash picks at
// the same choice (first or second) as now, so a new bucket only receives
// entries of one old bucket and cannot overflow, and both tables are read
// and written in order.
func (c *MemoryReplayCache) grow(sh *replayShard, now uint32) {
	n := len(sh.buckets)
	t := make([]replayBucket, 2*n)
	m := uint64(2*n - 1)
	used := 0
	for i := range sh.buckets {
		var fill [2]int // entries put in t[i] and t[i+n]
		for _, e := range &sh.buckets[i] {
			if e.exp <= now {
				continue
			}
			h := c.hash(e.lo, e.hi)
			j := (h >> 8) & m
			if int(j)%n != i { // the entry sits at its second choice
				j = (h >> 36) & m
			}
			half := int(j) / n
			t[j][fill[half]] = e
			fill[half]++
			used++
		}
	}
	sh.buckets = t
	sh.used = used
}

// Len returns the number of entries held, live or expired but not yet
// overwritten.
func (c *MemoryReplayCache) Len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += sh.used
		sh.mu.Unlock()
	}
	return n
}
