package jwks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// held returns the resolved issuer k holds for issuer.
func held(t *testing.T, k *Keys, issuer string) *issuerKeys {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	el, ok := k.dynamic[issuer]
	require.True(t, ok, "%s is held", issuer)
	return el.Value.(*issuerKeys)
}

// TestBackgroundRetryRespectsTheGlobalCap: once request-driven loads of
// resolved issuers have used the global cap, a held resolved issuer's
// background retry fetches nothing (and says why) until the cap allows.
func TestBackgroundRetryRespectsTheGlobalCap(t *testing.T) {
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	const a = "https://a.example/"
	k, err := New(t.Context(), WithResolver(func(context.Context, string) (string, error) { return srv.URL, nil }, 1),
		WithRefreshRateLimit(time.Hour), WithRefreshInterval(time.Hour), WithLogger(discard))
	require.NoError(t, err)
	defer k.Close()

	for range 2 { // the cap of a bound of 1: two request-driven loads
		_, err := k.Key(t.Context(), a, "kid", "RS256")
		require.ErrorIs(t, err, ErrUnavailable)
		NewRefreshWindow(k, a)
	}
	require.EqualValues(t, 2, fetches.Load())
	ik := held(t, k, a)
	ik.sem <- struct{}{}
	k.backgroundLoad(ik.ctx, ik)
	<-ik.sem
	assert.EqualValues(t, 2, fetches.Load(), "no fetch past the cap")
	assert.ErrorIs(t, ik.status().LastError, errFetchCap)

	NewFetchCapWindow(k)
	ik.sem <- struct{}{}
	k.backgroundLoad(ik.ctx, ik)
	<-ik.sem
	assert.EqualValues(t, 3, fetches.Load(), "the next window's retry fetches")
}

// TestReheldTenantWaitsAWindowFromItsLastAttempt: a resolved tenant held
// again with keys is refreshed when its keys are due, but never sooner than
// one rate-limit window after its last attempt: one whose last success is
// old but whose last attempt failed a minute ago waits the rest of the
// window from that attempt, not from the success.
func TestReheldTenantWaitsAWindowFromItsLastAttempt(t *testing.T) {
	const refresh, window = 10 * time.Minute, time.Hour
	k, err := New(t.Context(), WithResolver(func(context.Context, string) (string, error) { return "", nil }, 1),
		WithRefreshInterval(refresh), WithRefreshRateLimit(window), WithLogger(discard))
	require.NoError(t, err)
	defer k.Close()
	tests := []struct {
		name                  string
		loadedAgo, triedAgo   time.Duration
		wantAtLeast, wantMost time.Duration
	}{
		{"old success, attempt a minute ago", 2 * time.Hour, time.Minute, window - 2*time.Minute, window - time.Minute},
		{"old success, old attempt", 2 * time.Hour, 2 * time.Hour, 0, 0},
		{"recent success", time.Minute, time.Minute, window - 2*time.Minute, window - time.Minute},
		{"success due, attempt a window ago", refresh + time.Minute, window, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ik := k.newIssuerKeys("https://tenant.example/", "https://tenant.example/jwks")
			ik.store.idx.Store(&index{})
			now := time.Now()
			ik.loadedAt, ik.triedAt = now.Add(-tt.loadedAgo), now.Add(-tt.triedAgo)
			d := k.firstDelay(ik)
			assert.GreaterOrEqual(t, d, tt.wantAtLeast)
			assert.LessOrEqual(t, d, tt.wantMost)
		})
	}
}
