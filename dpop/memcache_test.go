package dpop

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	mathrand "math/rand/v2"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMemoryReplayCache(t *testing.T) {
	clock := newFakeClock()
	c, err := NewMemoryReplayCache(WithCacheClock(clock.Now))
	require.NoError(t, err)
	ctx := context.Background()
	k := NewReplayKey(rfc9449Thumb, "jti-1")

	seen, err := c.Record(ctx, k, clock.Now().Add(10*time.Second))
	require.NoError(t, err)
	assert.False(t, seen)
	seen, err = c.Record(ctx, k, clock.Now().Add(10*time.Second))
	require.NoError(t, err)
	assert.True(t, seen)

	clock.Add(9 * time.Second)
	seen, err = c.Record(ctx, k, clock.Now().Add(10*time.Second))
	require.NoError(t, err)
	assert.True(t, seen, "still live just before expiry")

	clock.Add(2 * time.Second)
	seen, err = c.Record(ctx, k, clock.Now().Add(10*time.Second))
	require.NoError(t, err)
	assert.False(t, seen, "expired entries are forgotten and may be recorded again")

	seen, err = c.Record(ctx, NewReplayKey(rfc9449Thumb, "past"), clock.Now().Add(-time.Second))
	require.NoError(t, err)
	assert.False(t, seen)
}

func TestReplayKeySeparation(t *testing.T) {
	assert.NotEqual(t, NewReplayKey("ab", "c"), NewReplayKey("a", "bc"))
	assert.NotEqual(t, NewReplayKey(rfc9449Thumb, "x"), NewReplayKey(rfc7638Thumb, "x"))
	assert.Equal(t, NewReplayKey(rfc9449Thumb, "x"), NewReplayKey(rfc9449Thumb, "x"))
	long := string(make([]byte, 1000))
	assert.NotEqual(t, NewReplayKey(rfc9449Thumb, long), NewReplayKey(rfc9449Thumb, long+"x"))
}

func TestMemoryReplayCacheFull(t *testing.T) {
	clock := newFakeClock()
	c, err := NewMemoryReplayCache(WithCapacity(100), WithCacheClock(clock.Now))
	require.NoError(t, err)
	ctx := context.Background()
	until := clock.Now().Add(time.Minute)
	for i := range 100 {
		seen, err := c.Record(ctx, NewReplayKey("t", strconv.Itoa(i)), until)
		require.NoError(t, err)
		require.False(t, seen)
	}
	_, err = c.Record(ctx, NewReplayKey("t", "one more"), until)
	require.ErrorIs(t, err, ErrReplayCacheFull)
	// Live entries were not evicted to make room.
	for i := range 100 {
		seen, err := c.Record(ctx, NewReplayKey("t", strconv.Itoa(i)), until)
		require.NoError(t, err)
		require.True(t, seen)
	}
	// Once they expire there is room again.
	clock.Add(time.Minute + time.Second)
	seen, err := c.Record(ctx, NewReplayKey("t", "one more"), clock.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.False(t, seen)
	for i := range 99 {
		seen, err := c.Record(ctx, NewReplayKey("t", "new"+strconv.Itoa(i)), clock.Now().Add(time.Minute))
		require.NoError(t, err)
		require.False(t, seen)
	}
	assert.LessOrEqual(t, c.Len(), 100)
}

func TestMemoryReplayCacheSweeps(t *testing.T) {
	clock := newFakeClock()
	c, err := NewMemoryReplayCache(WithCapacity(1<<16), WithCacheClock(clock.Now))
	require.NoError(t, err)
	ctx := context.Background()
	// Steady traffic with a 10 s lifetime: the cache holds about the live
	// entries, not everything ever recorded.
	for i := range 200_000 {
		if i%1000 == 0 {
			clock.Add(time.Second)
		}
		_, err := c.Record(ctx, NewReplayKey("t", strconv.Itoa(i)), clock.Now().Add(10*time.Second))
		require.NoError(t, err)
	}
	assert.Less(t, c.Len(), 3*11_000)
}

func TestNewMemoryReplayCacheOptions(t *testing.T) {
	_, err := NewMemoryReplayCache(WithCapacity(0), WithCacheClock(nil))
	require.ErrorIs(t, err, ErrConfig)
}

// TestMemoryReplayCacheBytesPerEntry measures the heap taken by one million
// live entries: the target is under 100 bytes each.
func TestMemoryReplayCacheBytesPerEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a million entries")
	}
	const n = 1_000_000
	clock := newFakeClock()
	keys := make([]ReplayKey, n)
	for i := range keys {
		rand.Read(keys[i][:])
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c, err := NewMemoryReplayCache(WithCapacity(n+n/4), WithCacheClock(clock.Now))
	require.NoError(t, err)
	until := clock.Now().Add(time.Minute)
	for _, k := range keys {
		if _, err := c.Record(context.Background(), k, until); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.1f bytes per live entry at %d entries", per, n)
	assert.Less(t, per, 100.0)
	assert.Equal(t, n, c.Len())
	runtime.KeepAlive(c)
	runtime.KeepAlive(keys)
}

func BenchmarkMemoryReplayCache(b *testing.B) {
	// Every operation records a new key that stays live: room for all.
	c, err := NewMemoryReplayCache(WithCapacity(max(b.N+b.N/4, 1024)))
	require.NoError(b, err)
	until := time.Now().Add(time.Minute)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		// Unique keys without a shared counter: a random half per goroutine
		// and a local count, so the goroutines share no cache line (a real
		// verifier has no such counter either).
		var k ReplayKey
		rand.Read(k[8:])
		var i uint64
		for pb.Next() {
			i++
			binary.LittleEndian.PutUint64(k[:8], i)
			if _, err := c.Record(context.Background(), k, until); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMemoryReplayCacheSteady measures Record in steady state: a fake
// clock advances per proof so that entries expire and are swept as new ones
// arrive, as on a busy server; each entry lives 70 s (the default window
// plus twice the skew). At the design peak of 20,000 proofs per second
// (50 µs per proof) about 1.4 million entries are live; at 2,000 per second,
// 140,000.
func BenchmarkMemoryReplayCacheSteady(b *testing.B) {
	for _, rate := range []int{2_000, 20_000} {
		b.Run(fmt.Sprintf("%d-proofs-per-second", rate), func(b *testing.B) {
			step := time.Second / time.Duration(rate)
			start := time.Unix(1_800_000_000, 0)
			var ops atomic.Int64
			clock := func() time.Time { return start.Add(time.Duration(ops.Load()) * step) }
			c, err := NewMemoryReplayCache(WithCacheClock(clock))
			require.NoError(b, err)
			var k ReplayKey
			for i := range 70 * rate { // fill to the steady state before timing
				binary.LittleEndian.PutUint64(k[:8], uint64(i))
				ops.Add(1)
				_, err := c.Record(context.Background(), k, clock().Add(70*time.Second))
				require.NoError(b, err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				// A random key half per goroutine and a local count; the
				// shared clock advances in batches of 64 proofs, so the
				// goroutines do not contend on a counter per operation.
				var k ReplayKey
				rand.Read(k[8:])
				var i uint64
				for pb.Next() {
					i++
					binary.LittleEndian.PutUint64(k[:8], i)
					if i%64 == 0 {
						ops.Add(64)
					}
					if _, err := c.Record(context.Background(), k, clock().Add(70*time.Second)); err != nil {
						b.Fatal(err)
					}
				}
			})
			live, slots := c.census(clock())
			b.ReportMetric(float64(live), "live-entries")
			b.ReportMetric(float64(slots*int(unsafe.Sizeof(replayEntry{})))/float64(live), "table-B/live-entry")
		})
	}
}

// census counts the live entries of c at now and the slots of its tables.
func (c *MemoryReplayCache) census(now time.Time) (live, slots int) {
	t, _ := c.seconds(now, false)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		slots += len(sh.buckets) * replayBucketSlots
		for j := range sh.buckets {
			for _, e := range &sh.buckets[j] {
				if e.exp > t {
					live++
				}
			}
		}
		sh.mu.Unlock()
	}
	return live, slots
}

// TestMemoryReplayCacheMatchesModel checks the cache against a plain map
// under churn: new and repeated keys with mixed lifetimes while the clock
// advances, so that tables grow, entries move between their two buckets,
// expired slots are reused and full sweeps run. A live key must always be
// reported as seen, and an expired one never.
//
// The load comes close to the capacity on purpose (so that sweeps run), and
// with a random hash seed a shard would now and then overflow and fail with
// ErrReplayCacheFull (once in about 1,650 runs), as a full cache should. The
// test therefore fixes the hash: the keys, the clock and the layout are the
// same on every run, and so is the outcome.
func TestMemoryReplayCacheMatchesModel(t *testing.T) {
	clock := newFakeClock()
	c, err := NewMemoryReplayCache(WithCapacity(1<<14), WithCacheClock(clock.Now))
	require.NoError(t, err)
	c.testHash = fixedHash
	ctx := context.Background()
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	model := map[ReplayKey]time.Time{} // key -> expiry, rounded up to the second
	var keys []ReplayKey
	for i := range 300_000 {
		if i%500 == 0 {
			clock.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
		}
		var k ReplayKey
		if len(keys) > 0 && rng.IntN(4) == 0 {
			k = keys[rng.IntN(len(keys))]
		} else {
			binary.LittleEndian.PutUint64(k[:8], rng.Uint64())
			binary.LittleEndian.PutUint64(k[8:16], rng.Uint64())
			keys = append(keys, k)
			if len(keys) > 50_000 {
				keys = keys[len(keys)-50_000:]
			}
		}
		now := clock.Now()
		until := now.Add(time.Duration(rng.IntN(20_000)-1_000) * time.Millisecond)
		seen, err := c.Record(ctx, k, until)
		require.NoError(t, err)
		exp, ok := model[k]
		live := ok && now.Before(exp)
		require.Equal(t, live, seen, "operation %d", i)
		// The cache counts whole seconds: an entry lives until its expiry
		// rounded up.
		up := until.Truncate(time.Second)
		if up.Before(until) {
			up = up.Add(time.Second)
		}
		if !live && now.Before(up) {
			model[k] = up
		}
	}
	live, _ := c.census(clock.Now())
	want := 0
	for _, exp := range model {
		if clock.Now().Before(exp) {
			want++
		}
	}
	assert.Equal(t, want, live)
}

// fixedHash is a hash without a random seed, for tests that must lay out
// the same table on every run: splitmix64's finalizer over the key prefix.
func fixedHash(lo uint64, hi uint32) uint64 {
	z := lo ^ uint64(hi)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// TestMemoryReplayCacheFillsTables checks that a table takes new keys until
// it is nearly full before it needs to grow: with one move of an entry to
// its other bucket, the first key that finds no room comes at about 90 %;
// without moves it would come at about 70 %.
func TestMemoryReplayCacheFillsTables(t *testing.T) {
	const buckets = 4096
	c, err := NewMemoryReplayCache(WithCapacity(1 << 30))
	require.NoError(t, err)
	c.maxBucket = buckets // no growing: stop at the first key without room
	sh := &replayShard{buckets: make([]replayBucket, buckets)}
	rng := mathrand.New(mathrand.NewPCG(3, 4))
	n := 0
	for {
		lo, hi := rng.Uint64(), rng.Uint32()
		_, err := c.record(sh, lo, hi, c.hash(lo, hi), 1, 100)
		if err != nil {
			require.ErrorIs(t, err, ErrReplayCacheFull)
			break
		}
		n++
	}
	load := float64(n) / (buckets * replayBucketSlots)
	t.Logf("first key without room at %.1f %% full", 100*load)
	assert.Greater(t, load, 0.85)
}
