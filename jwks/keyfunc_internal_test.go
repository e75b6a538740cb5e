package jwks

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var discard = slog.New(slog.DiscardHandler)

// spyKeyfunc counts the KeyRead calls on a keyfunc's storage.
type spyKeyfunc struct {
	inner keyfunc.Keyfunc
	reads *atomic.Int64
}

func (s spyKeyfunc) Keyfunc(t *jwt.Token) (any, error)          { return s.inner.Keyfunc(t) }
func (s spyKeyfunc) KeyfuncCtx(ctx context.Context) jwt.Keyfunc { return s.inner.KeyfuncCtx(ctx) }
func (s spyKeyfunc) Storage() jwkset.Storage                    { return spyStorage{s.inner.Storage(), s.reads} }
func (s spyKeyfunc) VerificationKeySet(ctx context.Context) (jwt.VerificationKeySet, error) {
	return s.inner.VerificationKeySet(ctx)
}

type spyStorage struct {
	jwkset.Storage
	reads *atomic.Int64
}

func (s spyStorage) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	s.reads.Add(1)
	return s.Storage.KeyRead(ctx, kid)
}

// countingJWKS serves testJWKS and counts fetches.
func countingJWKS(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	body := testJWKS(t)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestUnknownKidGoesThroughKeyfunc: the refresh caused by an unknown kid is
// keyfunc's (its storage's KeyRead, its HTTP client, its limiter), one per
// issuer and window: many random kids on issuer A cause one fetch of A and
// none of B. Without the issuer's keyfunc nothing is refreshed.
func TestUnknownKidGoesThroughKeyfunc(t *testing.T) {
	srvA, fetchesA := countingJWKS(t)
	srvB, fetchesB := countingJWKS(t)
	const a, b = "https://a.example/", "https://b.example/"
	k, err := New(t.Context(), WithIssuerJWKS(a, srvA.URL), WithIssuerJWKS(b, srvB.URL),
		WithRefreshRateLimit(time.Hour), WithLogger(discard))
	require.NoError(t, err)
	defer k.Close()
	require.NotNil(t, k.static[a].kf)
	require.NotSame(t, k.static[a].store, k.static[b].store, "one keyfunc and store per issuer")
	var reads atomic.Int64
	ik := k.static[a]
	ik.sem <- struct{}{}
	ik.kf = spyKeyfunc{ik.kf, &reads}
	<-ik.sem

	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			_, err := k.Key(t.Context(), a, fmt.Sprintf("random-%d", i), "RS256")
			assert.ErrorIs(t, err, ErrKeyNotFound)
		})
	}
	wg.Wait()
	assert.EqualValues(t, 1, reads.Load(), "one lookup through keyfunc's storage")
	assert.EqualValues(t, 2, fetchesA.Load(), "initial load and one refresh")
	assert.EqualValues(t, 1, fetchesB.Load(), "nothing for the other issuer")

	ik.sem <- struct{}{}
	ik.kf = nil
	<-ik.sem
	NewRefreshWindow(k, a)
	_, err = k.Key(t.Context(), a, "another", "RS256")
	require.ErrorIs(t, err, ErrKeyNotFound)
	assert.EqualValues(t, 2, fetchesA.Load(), "the refresh is keyfunc's: none without it")
}

// TestLimiterNeverInDebt: with a wait longer than the window (so keyfunc's
// limiter could hold many reservations), a flood of unknown kids whose
// requests are all cancelled mid-wait leaves the limiter able to grant the
// next window's refresh on time.
func TestLimiterNeverInDebt(t *testing.T) {
	srv, fetches := countingJWKS(t)
	const iss = "https://a.example/"
	const window = 50 * time.Millisecond
	k, err := New(t.Context(), WithIssuerJWKS(iss, srv.URL), WithRefreshRateLimit(window),
		WithRateLimitWait(time.Second), WithLogger(discard))
	require.NoError(t, err)
	defer k.Close()
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() { _, _ = k.Key(ctx, iss, fmt.Sprintf("random-%d", i), "RS256") })
	}
	require.Eventually(t, func() bool { return fetches.Load() >= 2 }, 5*time.Second, time.Millisecond)
	cancel()
	wg.Wait()
	// The unknown-kid refresh under way runs on, detached from the
	// cancelled requests; its reservation is used or cancelled when it ends.
	require.Eventually(t, func() bool { return len(k.static[iss].sem) == 0 }, 5*time.Second, time.Millisecond)
	tokens := k.static[iss].limiter.TokensAt(time.Now().Add(window))
	assert.GreaterOrEqual(t, tokens, 0.99, "one window from now the limiter has its token")
}
