package dpopredis_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/dpop/dpopredis"
	"github.com/senderbound/senderbound/dpop/dpopredis/internal/testredis"
)

// settableClock is a clock a test moves, safe for concurrent use.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *settableClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// ageKeys makes d pass for every key in Redis without waiting: each TTL
// shrinks by d, and a key whose TTL runs out is deleted, as Redis would
// have expired it.
func ageKeys(t *testing.T, srv *testredis.Server, d time.Duration) {
	t.Helper()
	ctx := context.Background()
	rc := srv.Client()
	keys, err := rc.Keys(ctx, dpopredis.DefaultKeyPrefix+"*").Result()
	require.NoError(t, err)
	for _, k := range keys {
		ttl, err := rc.PTTL(ctx, k).Result()
		require.NoError(t, err)
		require.Positive(t, ttl, "every key expires")
		if ttl <= d {
			require.NoError(t, rc.Del(ctx, k).Err())
			continue
		}
		require.NoError(t, rc.PExpire(ctx, k, ttl-d).Err())
	}
}

// TestReplayRefusedByALaggingInstance: instance B's clock is 3 s behind A's
// (inside the default 5 s skew allowance). A proof that A accepted is
// refused by B for as long as B's clock could accept it, even after A's
// own clock has moved past the proof's window.
func TestReplayRefusedByALaggingInstance(t *testing.T) {
	srv := testredis.Start(t)
	start := time.Now().Truncate(time.Second)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	u, err := url.Parse(resource)
	require.NoError(t, err)
	req := dpop.Request{Method: "GET", URL: u}

	// Just after A's entry would have expired (iat + 65 s by A's clock), at
	// B's last acceptable moment (iat + 65 s by B's clock, 68 s by A's), and
	// just before it.
	for _, after := range []time.Duration{65*time.Second + 500*time.Millisecond, 68*time.Second - time.Millisecond, 68 * time.Second} {
		t.Run(after.String(), func(t *testing.T) {
			require.NoError(t, srv.Client().FlushAll(context.Background()).Err())
			a := &settableClock{t: start}
			b := &settableClock{t: start.Add(-3 * time.Second)}
			va := newFleetVerifier(t, srv, a.Now)
			vb := newFleetVerifier(t, srv, b.Now)

			signer, err := dpop.NewSigner(key, dpop.WithSignerClock(a.Now))
			require.NoError(t, err)
			p, err := signer.Proof("GET", resource, "", "")
			require.NoError(t, err)
			_, err = va.Verify(context.Background(), p, req)
			require.NoError(t, err)

			a.Add(after)
			b.Add(after)
			ageKeys(t, srv, after)
			_, err = va.Verify(context.Background(), p, req)
			require.ErrorIs(t, err, dpop.ErrIssuedAt, "A: too old by its clock")
			_, err = vb.Verify(context.Background(), p, req)
			require.ErrorIs(t, err, dpop.ErrReplayed, "B: still in the window by its clock, so the entry must live")
		})
	}
}

// newFleetVerifier is one instance's verifier on the shared Redis, with its
// own client and clock.
func newFleetVerifier(t *testing.T, srv *testredis.Server, now func() time.Time) *dpop.Verifier {
	t.Helper()
	rc, err := dpopredis.New(newClient(t, srv.Addr()), dpopredis.WithTimeout(testTimeout), dpopredis.WithClock(now))
	require.NoError(t, err)
	v, err := dpop.NewVerifier(dpop.WithReplayCache(rc), dpop.WithClock(now))
	require.NoError(t, err)
	return v
}
