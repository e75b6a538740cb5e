package dpopredis_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/dpop/dpopredis"
	"github.com/senderbound/senderbound/dpop/dpopredis/internal/testredis"
)

// testTimeout replaces the default per-call timeout in tests that are not
// about timeouts: a CI machine running many test binaries at once can stall
// a process for longer than the production default.
const testTimeout = 10 * time.Second

// newCache returns a cache on srv's shared client.
func newCache(t testing.TB, srv *testredis.Server, opts ...dpopredis.Option) *dpopredis.ReplayCache {
	t.Helper()
	opts = append([]dpopredis.Option{dpopredis.WithTimeout(testTimeout)}, opts...)
	c, err := dpopredis.New(srv.Client(), opts...)
	require.NoError(t, err)
	return c
}

// newClient returns a fresh client for srv, as another API instance would
// have, closed at the end of the test.
func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func redisKey(prefix string, k dpop.ReplayKey) string {
	return prefix + base64.RawURLEncoding.EncodeToString(k[:])
}

func TestRecord(t *testing.T) {
	srv := testredis.Start(t)
	c := newCache(t, srv)
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	a := dpop.NewReplayKey("thumbprint-a", "jti-1")
	b := dpop.NewReplayKey("thumbprint-a", "jti-2")
	other := dpop.NewReplayKey("thumbprint-b", "jti-1")

	steps := []struct {
		name string
		key  dpop.ReplayKey
		seen bool
	}{
		{"new key", a, false},
		{"same key again", a, true},
		{"same key a third time", a, true},
		{"other jti", b, false},
		{"same jti, other thumbprint", other, false},
		{"other jti again", b, true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			seen, err := c.Record(ctx, s.key, until)
			require.NoError(t, err)
			assert.Equal(t, s.seen, seen)
		})
	}
}

func TestRecordConcurrentSameKey(t *testing.T) {
	srv := testredis.Start(t)
	c := newCache(t, srv)
	key := dpop.NewReplayKey("thumbprint", "jti")
	until := time.Now().Add(time.Minute)

	const n = 100
	var (
		start    = make(chan struct{})
		wg       sync.WaitGroup
		notSeen  atomic.Int32
		failures atomic.Int32
	)
	for range n {
		wg.Go(func() {
			<-start
			seen, err := c.Record(context.Background(), key, until)
			if err != nil {
				failures.Add(1)
				return
			}
			if !seen {
				notSeen.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	require.Zero(t, failures.Load())
	assert.Equal(t, int32(1), notSeen.Load(), "exactly one caller may see the key as new")
}

func TestRecordTTLEndsAtUntil(t *testing.T) {
	srv := testredis.Start(t)
	ctx := context.Background()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newCache(t, srv, dpopredis.WithClock(func() time.Time { return now }))
	rdb := srv.Client()

	tests := []struct {
		name    string
		until   time.Time
		wantTTL time.Duration
	}{
		{"whole seconds", now.Add(90 * time.Second), 90 * time.Second},
		{"milliseconds", now.Add(1500 * time.Millisecond), 1500 * time.Millisecond},
		{"sub-millisecond rounds up", now.Add(2*time.Second + 100*time.Microsecond), 2*time.Second + time.Millisecond},
		{"until in the past keeps the minimum", now.Add(-time.Hour), dpopredis.MinTTL},
		{"until now keeps the minimum", now, dpopredis.MinTTL},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := dpop.NewReplayKey("thumbprint", string(rune('a'+i)))
			start := time.Now()
			seen, err := c.Record(ctx, key, tt.until)
			require.NoError(t, err)
			require.False(t, seen)
			pttl, err := rdb.PTTL(ctx, redisKey(dpopredis.DefaultKeyPrefix, key)).Result()
			elapsed := time.Since(start)
			require.NoError(t, err)
			if tt.wantTTL == dpopredis.MinTTL {
				// Gone already (-2) or about to go; never without expiry (-1).
				assert.True(t, pttl == -2 || (pttl >= 0 && pttl <= dpopredis.MinTTL), "PTTL = %v", pttl)
				return
			}
			// The TTL started at wantTTL when Redis ran SET, somewhere within
			// elapsed; Redis reports whole milliseconds, rounded.
			assert.LessOrEqual(t, pttl, tt.wantTTL)
			assert.GreaterOrEqual(t, pttl, tt.wantTTL-elapsed-time.Millisecond, "TTL must end at until")
		})
	}
}

func TestRecordSeenDoesNotExtend(t *testing.T) {
	srv := testredis.Start(t)
	ctx := context.Background()
	now := time.Now()
	c := newCache(t, srv, dpopredis.WithClock(func() time.Time { return now }))
	key := dpop.NewReplayKey("thumbprint", "jti")

	seen, err := c.Record(ctx, key, now.Add(time.Minute))
	require.NoError(t, err)
	require.False(t, seen)
	seen, err = c.Record(ctx, key, now.Add(time.Hour))
	require.NoError(t, err)
	require.True(t, seen)
	pttl, err := srv.Client().PTTL(ctx, redisKey(dpopredis.DefaultKeyPrefix, key)).Result()
	require.NoError(t, err)
	assert.LessOrEqual(t, pttl, time.Minute, "a replay must not extend the first record")
}

func TestRecordExpires(t *testing.T) {
	srv := testredis.Start(t)
	ctx := context.Background()
	c := newCache(t, srv)
	key := dpop.NewReplayKey("thumbprint", "jti")
	rkey := redisKey(dpopredis.DefaultKeyPrefix, key)

	seen, err := c.Record(ctx, key, time.Now().Add(300*time.Millisecond))
	require.NoError(t, err)
	require.False(t, seen)

	// Wait (bounded) for Redis to expire the key: about 300 ms normally; the
	// bound only matters when the test fails.
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := srv.Client().Exists(ctx, rkey).Result()
		require.NoError(t, err)
		if n == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "key did not expire")
		<-tick.C
	}
	seen, err = c.Record(ctx, key, time.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.False(t, seen, "after expiry the key is new again")
}

func TestRecordKeyPrefix(t *testing.T) {
	srv := testredis.Start(t)
	ctx := context.Background()
	rdb := srv.Client()
	key := dpop.NewReplayKey("thumbprint", "jti")
	until := time.Now().Add(time.Minute)

	tests := []struct {
		name   string
		opts   []dpopredis.Option
		prefix string
	}{
		{"default", nil, dpopredis.DefaultKeyPrefix},
		{"custom", []dpopredis.Option{dpopredis.WithKeyPrefix("api-1:replay:")}, "api-1:replay:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, srv, tt.opts...)
			seen, err := c.Record(ctx, key, until)
			require.NoError(t, err)
			require.False(t, seen, "caches with different prefixes do not share keys")
			want := redisKey(tt.prefix, key)
			keys, err := rdb.Keys(ctx, tt.prefix+"*").Result()
			require.NoError(t, err)
			assert.Equal(t, []string{want}, keys)
			assert.Len(t, want, len(tt.prefix)+43, "keys have a fixed size")
		})
	}
}

// TestTwoInstancesShareRedis models two API instances, each with its own
// client and cache, behind one Redis: a proof accepted by one is a replay at
// the other.
func TestTwoInstancesShareRedis(t *testing.T) {
	srv := testredis.Start(t)
	ctx := context.Background()
	instance1, err := dpopredis.New(newClient(t, srv.Addr()), dpopredis.WithTimeout(testTimeout))
	require.NoError(t, err)
	instance2, err := dpopredis.New(newClient(t, srv.Addr()), dpopredis.WithTimeout(testTimeout))
	require.NoError(t, err)
	until := time.Now().Add(time.Minute)

	k1 := dpop.NewReplayKey("thumbprint", "jti-1")
	seen, err := instance1.Record(ctx, k1, until)
	require.NoError(t, err)
	require.False(t, seen)
	seen, err = instance2.Record(ctx, k1, until)
	require.NoError(t, err)
	assert.True(t, seen, "instance 2 must see the proof instance 1 accepted")

	k2 := dpop.NewReplayKey("thumbprint", "jti-2")
	seen, err = instance2.Record(ctx, k2, until)
	require.NoError(t, err)
	require.False(t, seen)
	seen, err = instance1.Record(ctx, k2, until)
	require.NoError(t, err)
	assert.True(t, seen, "and the other way round")
}

func TestRecordRedisDown(t *testing.T) {
	srv := testredis.Start(t)
	c := newCache(t, srv)
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	key := dpop.NewReplayKey("thumbprint", "jti")

	seen, err := c.Record(ctx, key, until)
	require.NoError(t, err)
	require.False(t, seen)

	srv.Stop()
	// go-redis retries a refused connection with backoff until the deadline;
	// the production default keeps this short.
	short := newCache(t, srv, dpopredis.WithTimeout(dpopredis.DefaultTimeout))
	for i, k := range []dpop.ReplayKey{key, dpop.NewReplayKey("thumbprint", "other")} {
		seen, err := short.Record(ctx, k, until)
		require.ErrorIs(t, err, dpop.ErrReplayCacheUnavailable, "key %d", i)
		assert.False(t, seen, "an error never comes with seen=true either; callers must look at err")
	}

	srv.Restart() // an empty Redis: persistence is off in tests
	seen, err = c.Record(ctx, key, until)
	require.NoError(t, err, "the cache works again when Redis returns")
	assert.False(t, seen)
	seen, err = c.Record(ctx, key, until)
	require.NoError(t, err)
	assert.True(t, seen)
}

// blackHole returns the address of a listener that accepts connections and
// never answers.
func blackHole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().String()
}

func TestRecordDeadlines(t *testing.T) {
	addr := blackHole(t)
	key := dpop.NewReplayKey("thumbprint", "jti")
	until := time.Now().Add(time.Minute)

	tests := []struct {
		name    string
		timeout time.Duration // WithTimeout
		ctx     func() (context.Context, context.CancelFunc)
		within  time.Duration
		wantErr error
	}{
		{
			name:    "per-call timeout",
			timeout: 100 * time.Millisecond,
			ctx:     func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			within:  2 * time.Second,
			wantErr: context.DeadlineExceeded,
		},
		{
			name:    "request deadline earlier than the timeout",
			timeout: time.Minute,
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 100*time.Millisecond)
			},
			within:  2 * time.Second,
			wantErr: context.DeadlineExceeded,
		},
		{
			name:    "request already cancelled",
			timeout: time.Minute,
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx, cancel
			},
			within:  2 * time.Second,
			wantErr: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := dpopredis.New(newClient(t, addr), dpopredis.WithTimeout(tt.timeout))
			require.NoError(t, err)
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			seen, err := c.Record(ctx, key, until)
			elapsed := time.Since(start)
			require.ErrorIs(t, err, dpop.ErrReplayCacheUnavailable)
			assert.ErrorIs(t, err, tt.wantErr)
			assert.False(t, seen)
			assert.Less(t, elapsed, tt.within)
		})
	}
}

// fakeUniversal is a UniversalClient whose options New cannot read.
type fakeUniversal struct{ redis.UniversalClient }

func TestNewInvalid(t *testing.T) {
	noCtxTimeout := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = noCtxTimeout.Close() })
	noCtxCluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	t.Cleanup(func() { _ = noCtxCluster.Close() })
	good := newClient(t, "127.0.0.1:1")
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = ring.Close() })

	tests := []struct {
		name   string
		client redis.UniversalClient
		opts   []dpopredis.Option
		errs   int // problems reported
	}{
		{"nil client", nil, nil, 1},
		{"client without ContextTimeoutEnabled", noCtxTimeout, nil, 1},
		{"cluster client without ContextTimeoutEnabled", noCtxCluster, nil, 1},
		{"empty prefix", good, []dpopredis.Option{dpopredis.WithKeyPrefix("")}, 1},
		{"long prefix", good, []dpopredis.Option{dpopredis.WithKeyPrefix(string(make([]byte, 257)))}, 1},
		{"zero timeout", good, []dpopredis.Option{dpopredis.WithTimeout(0)}, 1},
		{"negative timeout", good, []dpopredis.Option{dpopredis.WithTimeout(-time.Second)}, 1},
		{"nil clock", good, []dpopredis.Option{dpopredis.WithClock(nil)}, 1},
		{"no replica to wait for", good, []dpopredis.Option{dpopredis.WithReplicaAck(0, 100*time.Millisecond)}, 1},
		{"replica acknowledgement without timeout", good, []dpopredis.Option{dpopredis.WithReplicaAck(1, 0)}, 1},
		{"replica acknowledgement timeout not under the round trip's", good, []dpopredis.Option{
			dpopredis.WithTimeout(time.Second), dpopredis.WithReplicaAck(1, time.Second),
		}, 1},
		{"replica acknowledgement on a client of unknown type", fakeUniversal{good}, []dpopredis.Option{dpopredis.WithReplicaAck(1, 100*time.Millisecond)}, 1},
		{"replica acknowledgement on a Ring", ring, []dpopredis.Option{dpopredis.WithReplicaAck(1, 100*time.Millisecond)}, 1},
		{"everything at once", nil, []dpopredis.Option{
			dpopredis.WithKeyPrefix(""), dpopredis.WithTimeout(0), dpopredis.WithClock(nil), dpopredis.WithReplicaAck(-1, -1),
		}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := dpopredis.New(tt.client, tt.opts...)
			require.ErrorIs(t, err, dpopredis.ErrInvalidConfig)
			assert.Nil(t, c)
			var joined interface{ Unwrap() []error }
			require.True(t, errors.As(err, &joined))
			assert.Len(t, joined.Unwrap(), tt.errs)
		})
	}

	t.Run("valid", func(t *testing.T) {
		for _, client := range []redis.UniversalClient{good, fakeUniversal{good}} {
			c, err := dpopredis.New(client,
				dpopredis.WithKeyPrefix("p:"), dpopredis.WithTimeout(time.Second), dpopredis.WithClock(time.Now))
			require.NoError(t, err)
			assert.NotNil(t, c)
		}
		cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}, ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = cluster.Close() })
		for _, client := range []redis.UniversalClient{good, cluster} {
			c, err := dpopredis.New(client, dpopredis.WithReplicaAck(1, 100*time.Millisecond))
			require.NoError(t, err)
			assert.NotNil(t, c)
		}
	})
}

// BenchmarkRecord measures one Record of a new key (the path every accepted
// proof takes) against a loopback redis-server, beside the in-process
// dpop.MemoryReplayCache for scale.
func BenchmarkRecord(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		// The memory cache holds what one instance can verify in an entry's
		// lifetime and refuses more, so its clock runs at the design rate
		// (20,000 proofs per CPU per second): one step per Record.
		var seq atomic.Uint64
		base := time.Now()
		step := 50 * time.Microsecond / time.Duration(runtime.GOMAXPROCS(0))
		clock := func() time.Time { return base.Add(time.Duration(seq.Load()) * step) }
		mem, err := dpop.NewMemoryReplayCache(dpop.WithCacheClock(clock))
		require.NoError(b, err)
		benchmarkRecord(b, mem, &seq, func(i uint64) time.Time {
			return base.Add(time.Duration(i)*step + 70*time.Second)
		})
	})
	until := time.Now().Add(time.Minute)
	b.Run("redis", func(b *testing.B) {
		var seq atomic.Uint64
		benchmarkRecord(b, newCache(b, testredis.Start(b)), &seq, func(uint64) time.Time { return until })
	})
	// A master with one replica, without and with WithReplicaAck: the cost
	// of waiting for the replica's acknowledgement.
	primary := testredis.Start(b)
	testredis.StartReplica(b, primary)
	b.Run("redis-replica", func(b *testing.B) {
		var seq atomic.Uint64
		benchmarkRecord(b, newCache(b, primary), &seq, func(uint64) time.Time { return until })
	})
	b.Run("redis-replica-ack", func(b *testing.B) {
		var seq atomic.Uint64
		c := newCache(b, primary, dpopredis.WithReplicaAck(1, time.Second), dpopredis.WithKeyPrefix("acked:"))
		benchmarkRecord(b, c, &seq, func(uint64) time.Time { return until })
	})
	// Three masters through go-redis's ClusterClient.
	b.Run("cluster", func(b *testing.B) {
		var seq atomic.Uint64
		c, err := dpopredis.New(testredis.StartCluster(b, 3, 0).Client(), dpopredis.WithTimeout(testTimeout))
		require.NoError(b, err)
		benchmarkRecord(b, c, &seq, func(uint64) time.Time { return until })
	})
}

func benchmarkRecord(b *testing.B, c dpop.ReplayCache, seq *atomic.Uint64, until func(i uint64) time.Time) {
	ctx := context.Background()
	record := func(b *testing.B) {
		i := seq.Add(1)
		seen, err := c.Record(ctx, seqKey(i), until(i))
		if err != nil || seen {
			b.Errorf("Record = %v, %v; want false, nil", seen, err)
		}
	}
	b.Run("sequential", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			record(b)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				record(b)
			}
		})
	})
}

// seqKey returns a distinct replay key for i without hashing.
func seqKey(i uint64) dpop.ReplayKey {
	var k dpop.ReplayKey
	binary.BigEndian.PutUint64(k[:], i)
	return k
}
