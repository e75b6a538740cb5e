package middleware_test

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// faultGuard builds a Guard on a jwks.Keys of its own for iss (at jwksURL),
// so that each test chooses the refresh settings. Close the returned keys
// before checking for leaks.
func faultGuard(t *testing.T, issuer, jwksURL string, opts ...jwks.Option) (*middleware.Guard, *jwks.Keys) {
	t.Helper()
	keys, err := jwks.New(context.Background(), append([]jwks.Option{jwks.WithIssuerJWKS(issuer, jwksURL)}, opts...)...)
	require.NoError(t, err)
	g, err := middleware.New(keys, middleware.WithAudience(audience))
	require.NoError(t, err)
	return g, keys
}

// TestKeyServerFaultsAtStart: whatever way the issuer fails while the API
// starts, requests fail closed with 503 and Retry-After (never 2xx, never a
// 401 that blames the client), and the API recovers on its own once the
// issuer answers, without a restart.
func TestKeyServerFaultsAtStart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault oauthtest.Fault
	}{
		{"unreachable (503)", oauthtest.Fault{Down: true}},
		{"500s", oauthtest.Fault{Status: http.StatusInternalServerError}},
		{"invalid JSON", oauthtest.Fault{Garbage: true}},
		{"slow beyond the timeout", oauthtest.Fault{Delay: 5 * time.Second}},
		{"body over the size limit", oauthtest.Fault{Oversized: 2 << 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			iss, err := oauthtest.NewIssuer()
			require.NoError(t, err)
			defer iss.Close()
			iss.SetFault(tc.fault)
			g, keys := faultGuard(t, iss.Issuer(), iss.JWKSURL(),
				jwks.WithHTTPTimeout(200*time.Millisecond), jwks.WithRefreshRateLimit(20*time.Millisecond),
				jwks.WithRateLimitWait(50*time.Millisecond))
			defer func() { require.NoError(t, keys.Close()) }()
			tok := mint(t, iss, oauthtest.Token{})

			start := time.Now()
			a := serve(g, bearer(tok))
			assert.Equal(t, http.StatusServiceUnavailable, a.status)
			assert.Less(t, time.Since(start), 2*time.Second, "bounded by the HTTP timeout")
			w := httptest.NewRecorder()
			g.Handler(http.NotFoundHandler()).ServeHTTP(w, bearer(tok))
			assert.Equal(t, "5", w.Header().Get("Retry-After"))
			_, err = g.Check(bearer(tok))
			require.ErrorIs(t, err, middleware.ErrUnavailable)
			require.ErrorIs(t, err, jwks.ErrUnavailable)

			iss.SetFault(oauthtest.Fault{})
			require.Eventually(t, func() bool { return serve(g, bearer(tok)).status == http.StatusOK },
				10*time.Second, 25*time.Millisecond, "recovers on its own")
		})
	}
}

// TestKeyServerFaultsAfterStart: once keys are loaded, an issuer that fails
// does not stop known keys from verifying (the last good set is kept), and a
// token with an unknown kid is refused as the token's fault (401).
func TestKeyServerFaultsAfterStart(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	iss, err := oauthtest.NewIssuer()
	require.NoError(t, err)
	defer iss.Close()
	g, keys := faultGuard(t, iss.Issuer(), iss.JWKSURL(),
		jwks.WithHTTPTimeout(200*time.Millisecond), jwks.WithRefreshRateLimit(time.Millisecond),
		jwks.WithRateLimitWait(50*time.Millisecond), jwks.WithRefreshInterval(10*time.Millisecond))
	defer func() { require.NoError(t, keys.Close()) }()
	tok := mint(t, iss, oauthtest.Token{})
	require.Equal(t, http.StatusOK, serve(g, bearer(tok)).status)
	other := handMade(t, jwt.SigningMethodRS256, iss.PrivateKey(iss.CurrentKeyID()),
		map[string]any{"kid": "no-such-kid"}, goodClaims(iss))

	for _, f := range []oauthtest.Fault{{Down: true}, {Status: 500}, {Garbage: true}, {Delay: time.Second}} {
		iss.SetFault(f)
		before := iss.JWKSFetches()
		require.Eventually(t, func() bool { return iss.JWKSFetches() > before+1 }, 5*time.Second, 5*time.Millisecond,
			"background refreshes hit the faulty issuer")
		assert.Equal(t, http.StatusOK, serve(g, bearer(tok)).status, "fault %+v: last good keys kept", f)
		_, err := g.Check(bearer(other))
		require.ErrorIs(t, err, middleware.ErrUnknownKey, "fault %+v", f)
	}
	iss.SetFault(oauthtest.Fault{})
}

// TestRevocationTakesEffect: a key that leaves the JWKS stops verifying at
// the next refresh, even for a token that is in the verified-token cache.
func TestRevocationTakesEffect(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	iss, err := oauthtest.NewIssuer()
	require.NoError(t, err)
	defer iss.Close()
	g, keys := faultGuard(t, iss.Issuer(), iss.JWKSURL(), jwks.WithRefreshInterval(20*time.Millisecond))
	defer func() { require.NoError(t, keys.Close()) }()
	tok := mint(t, iss, oauthtest.Token{})
	require.Equal(t, http.StatusOK, serve(g, bearer(tok)).status)
	require.Equal(t, http.StatusOK, serve(g, bearer(tok)).status, "now from the token cache")
	iss.Revoke(iss.CurrentKeyID())
	require.Eventually(t, func() bool {
		_, err := g.Check(bearer(tok))
		return errors.Is(err, middleware.ErrUnknownKey)
	}, 10*time.Second, 10*time.Millisecond, "revoked key refused after the periodic refresh")
	assert.Equal(t, http.StatusUnauthorized, serve(g, bearer(tok)).status)
}

// TestFlappingKeySets: the JWKS alternates between two disjoint key sets.
// After each switch, tokens signed with the served set verify and tokens
// signed with the other are refused; nothing answers 5xx.
func TestFlappingKeySets(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	a, err := oauthtest.NewIssuer()
	require.NoError(t, err)
	defer a.Close()
	b, err := oauthtest.NewIssuer()
	require.NoError(t, err)
	defer b.Close()
	var serveB atomic.Bool
	flap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src := a
		if serveB.Load() {
			src = b
		}
		resp, err := http.Get(src.JWKSURL())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(w, resp.Body)
	}))
	defer flap.Close()
	g, keys := faultGuard(t, a.Issuer(), flap.URL, jwks.WithRefreshRateLimit(time.Millisecond),
		jwks.WithRateLimitWait(time.Second))
	defer func() { require.NoError(t, keys.Close()) }()

	tokA := mint(t, a, oauthtest.Token{})
	// Signed with b's current key, but claiming a's issuer (the flapping
	// JWKS serves b's keys under a's name).
	tokB := handMade(t, jwt.SigningMethodRS256, b.PrivateKey(b.CurrentKeyID()),
		map[string]any{"kid": b.CurrentKeyID()}, goodClaims(a))

	for round := range 6 {
		useB := round%2 == 1
		serveB.Store(useB)
		good, bad := tokA, tokB
		if useB {
			good, bad = tokB, tokA
		}
		// The token of the served set names a kid the API may not hold yet:
		// the unknown kid triggers a refresh that picks up the switch.
		require.Equal(t, http.StatusOK, serve(g, bearer(good)).status, "round %d", round)
		require.Equal(t, http.StatusUnauthorized, serve(g, bearer(bad)).status, "round %d", round)
	}
}

// TestKidStorm: a flood of random kids causes at most one JWKS fetch per
// rate-limit window for the issuer, every request is refused as 401, and
// none is held up for longer than the rate-limit wait plus a margin.
func TestKidStorm(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	iss, err := oauthtest.NewIssuer()
	require.NoError(t, err)
	defer iss.Close()
	const wait = 50 * time.Millisecond
	g, keys := faultGuard(t, iss.Issuer(), iss.JWKSURL(), jwks.WithRefreshRateLimit(time.Hour),
		jwks.WithRateLimitWait(wait), jwks.WithHTTPTimeout(time.Second))
	defer func() { require.NoError(t, keys.Close()) }()
	good := mint(t, iss, oauthtest.Token{})
	require.Equal(t, http.StatusOK, serve(g, bearer(good)).status)
	before := iss.JWKSFetches()

	requests := 800
	if testing.Short() {
		requests = 200
	}
	priv := iss.PrivateKey(iss.CurrentKeyID())
	toks := make([]string, requests)
	for i := range toks {
		toks[i] = handMade(t, jwt.SigningMethodRS256, priv,
			map[string]any{"kid": "storm-" + strconv.FormatUint(rand.Uint64(), 36)}, goodClaims(iss))
	}
	var (
		mu      sync.Mutex
		maxLat  time.Duration
		refused atomic.Int32
		next    atomic.Int32
		wg      sync.WaitGroup
	)
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= requests {
					return
				}
				start := time.Now()
				a := serve(g, bearer(toks[i]))
				lat := time.Since(start)
				if a.status == http.StatusUnauthorized {
					refused.Add(1)
				}
				mu.Lock()
				maxLat = max(maxLat, lat)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	fetches := iss.JWKSFetches() - before
	t.Logf("%d random-kid requests: %d JWKS fetches, max latency %v", requests, fetches, maxLat)
	assert.Equal(t, int32(requests), refused.Load(), "every random kid refused with 401")
	assert.LessOrEqual(t, fetches, 1, "at most one fetch in the rate-limit window")
	// One request may do the fetch (a loopback round trip); every other one
	// waits at most `wait` for the limiter. The margin absorbs -race and a
	// loaded CI machine.
	assert.Less(t, maxLat, wait+time.Second)
	assert.Equal(t, http.StatusOK, serve(g, bearer(good)).status, "known keys unaffected by the storm")
}
