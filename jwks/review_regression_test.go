package jwks_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/oauthtest"
	"github.com/senderbound/senderbound/observe"
)

// TestChurnWithFailingRefreshKeepsTheRateLimit: tenants churning through
// the resolver bound while their refreshes fail cause at most one fetch per
// tenant per window (the refresh interval is shorter than the window, so
// every re-held tenant's keys are due). Before the fix every re-held tenant whose keys were
// older than the refresh interval was fetched at once, outside its limiter
// and the global cap (60 fetches for 60 requests).
func TestChurnWithFailingRefreshKeepsTheRateLimit(t *testing.T) {
	tenants := []*oauthtest.Issuer{newIssuer(t), newIssuer(t), newIssuer(t)}
	byIssuer := map[string]*oauthtest.Issuer{}
	for _, iss := range tenants {
		byIssuer[iss.Issuer()] = iss
	}
	const refresh = time.Millisecond
	k := newKeys(t, newClock(), jwks.WithRefreshInterval(refresh),
		jwks.WithResolver(func(_ context.Context, issuer string) (string, error) {
			if iss, ok := byIssuer[issuer]; ok {
				return iss.JWKSURL(), nil
			}
			return "", errors.New("not a tenant")
		}, 2))
	for _, iss := range tenants {
		_, err := k.Key(t.Context(), iss.Issuer(), iss.CurrentKeyID(), "RS256")
		require.NoError(t, err)
	}
	for _, iss := range tenants {
		iss.SetFault(oauthtest.Fault{Down: true})
	}
	time.Sleep(2 * refresh) // every tenant's keys are now older than the interval
	for i := range 60 {
		iss := tenants[i%3]
		_, err := k.Key(t.Context(), iss.Issuer(), iss.CurrentKeyID(), "RS256")
		require.NoError(t, err, "the last good keys stay")
		// Give a re-held tenant's refresh goroutine the chance to run (the
		// assertion holds however the goroutines are scheduled).
		time.Sleep(time.Millisecond)
	}
	require.NoError(t, k.Close())
	total := 0
	for _, iss := range tenants {
		total += iss.JWKSFetches()
	}
	// 3 initial loads, then at most one refresh per tenant in the 1h window.
	assert.LessOrEqual(t, total, 6)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRedirectToPlaintextRefused: an https JWKS or discovery URL that
// redirects to http on a host that is not loopback is not followed; the
// caller's redirect policy still runs and its client is not modified.
func TestRedirectToPlaintextRefused(t *testing.T) {
	srv := newJWKSServer(t, jwksJSON(t, jwkSpec{kid: "a", alg: "RS256", pub: testRSA(t)}))
	for _, tc := range []struct {
		name string
		opt  jwks.Option
	}{
		{"jwks", jwks.WithIssuerJWKS("https://idp.example/", "https://idp.example/jwks.json")},
		{"discovery", jwks.WithIssuer("https://idp.example/")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var plain, userPolicy atomic.Int64
			tr := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if r.URL.Scheme == "https" {
					return &http.Response{StatusCode: http.StatusFound, Header: http.Header{"Location": {"http://192.0.2.2" + r.URL.Path}}, Body: http.NoBody, Request: r}, nil
				}
				plain.Add(1)
				u, _ := url.Parse(srv.URL())
				r2 := r.Clone(r.Context())
				r2.URL.Host, r2.Host = u.Host, u.Host
				return http.DefaultTransport.RoundTrip(r2)
			})
			client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
				userPolicy.Add(1)
				return nil
			}}
			k := newKeys(t, newClock(), jwks.WithHTTPClient(client), tc.opt)
			_, err := k.Key(t.Context(), "https://idp.example/", "a", "RS256")
			require.ErrorIs(t, err, jwks.ErrUnavailable)
			assert.Zero(t, plain.Load(), "no plaintext request")
			assert.Zero(t, userPolicy.Load(), "the refused hop never reaches the caller's policy")
			assert.IsType(t, roundTripFunc(nil), client.Transport, "the caller's client is not modified")
		})
	}
}

// TestRedirectPolicyWrapped: allowed hops go through the caller's redirect
// policy, which can still refuse them.
func TestRedirectPolicyWrapped(t *testing.T) {
	srv := newJWKSServer(t, jwksJSON(t, jwkSpec{kid: "a", alg: "RS256", pub: testRSA(t)}))
	redirect := httptest.NewServer(http.RedirectHandler(srv.URL(), http.StatusFound))
	t.Cleanup(redirect.Close)
	var calls atomic.Int64
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		calls.Add(1)
		return errors.New("no redirects here")
	}}
	k := newKeys(t, newClock(), jwks.WithHTTPClient(client), jwks.WithIssuerJWKS("https://idp.example/", redirect.URL+"/jwks.json"))
	_, err := k.Key(t.Context(), "https://idp.example/", "a", "RS256")
	require.ErrorIs(t, err, jwks.ErrUnavailable)
	assert.Positive(t, calls.Load())
	assert.Zero(t, srv.fetches.Load())
}

// TestCancelledRequestDoesNotSpendTheUnknownKidRefresh: a request whose
// context ends during the unknown-kid refresh stops waiting, but the
// refresh goes on, so a rotated key is found. Before the fix the fetch was
// cancelled with the request and the window's refresh was spent.
func TestCancelledRequestDoesNotSpendTheUnknownKidRefresh(t *testing.T) {
	iss := newIssuer(t)
	k := newKeys(t, newClock(), jwks.WithRateLimitWait(0), jwks.WithIssuerJWKS(iss.Issuer(), iss.JWKSURL()))
	_, err := k.Key(t.Context(), iss.Issuer(), iss.CurrentKeyID(), "RS256")
	require.NoError(t, err)
	newKid, err := iss.AddKey("RS256")
	require.NoError(t, err)
	iss.SetFault(oauthtest.Fault{Delay: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	_, err = k.Key(ctx, iss.Issuer(), "random-kid", "RS256")
	require.ErrorIs(t, err, jwks.ErrKeyNotFound)
	require.Eventually(t, func() bool {
		_, err := k.Key(t.Context(), iss.Issuer(), newKid, "RS256")
		return err == nil
	}, 5*time.Second, 5*time.Millisecond, "the detached refresh loaded the rotated key")
	assert.Equal(t, 2, iss.JWKSFetches())
}

// TestNoLoadAfterClose: after Close, neither a retry of an issuer without
// keys nor an unknown kid fetches anything or changes any state.
func TestNoLoadAfterClose(t *testing.T) {
	down, up := newIssuer(t), newIssuer(t)
	down.SetFault(oauthtest.Fault{Down: true})
	var events atomic.Int64
	o := &observe.Observer{Refresh: func(context.Context, observe.Refresh) { events.Add(1) }}
	clk := newClock()
	k := newKeys(t, clk, jwks.WithObserver(o), jwks.WithIssuerJWKS(down.Issuer(), down.JWKSURL()), jwks.WithIssuerJWKS(up.Issuer(), up.JWKSURL()))
	require.NoError(t, k.Close())
	status, eventsBefore := k.Status(), events.Load()
	clk.Advance(time.Minute)
	downBefore, upBefore := down.JWKSFetches(), up.JWKSFetches()
	jwks.NewRefreshWindow(k, down.Issuer())
	jwks.NewRefreshWindow(k, up.Issuer())
	_, err := k.Key(t.Context(), down.Issuer(), "x", "RS256")
	require.ErrorIs(t, err, jwks.ErrUnavailable)
	_, err = k.Key(t.Context(), up.Issuer(), "unknown", "RS256")
	require.ErrorIs(t, err, jwks.ErrKeyNotFound)
	assert.Equal(t, downBefore, down.JWKSFetches())
	assert.Equal(t, upBefore, up.JWKSFetches())
	assert.Equal(t, eventsBefore, events.Load(), "no load attempt reported")
	assert.Equal(t, status, k.Status(), "no load attempt recorded")
	_, err = k.Key(t.Context(), up.Issuer(), up.CurrentKeyID(), "RS256")
	require.NoError(t, err, "the loaded keys still answer")
}

// TestCloseWaitsForRequestLoads: Close waits for a load a request started
// (here a resolved issuer's first load): the observer is never called after
// Close returned.
func TestCloseWaitsForRequestLoads(t *testing.T) {
	started := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-r.Context().Done() // until Close aborts the fetch
	}))
	t.Cleanup(srv.Close)
	var closed, lateCall atomic.Bool
	o := &observe.Observer{Refresh: func(context.Context, observe.Refresh) {
		time.Sleep(20 * time.Millisecond) // widen the window a late call falls into
		if closed.Load() {
			lateCall.Store(true)
		}
	}}
	k, err := jwks.New(context.Background(), jwks.WithObserver(o), jwks.WithResolver(func(context.Context, string) (string, error) {
		return srv.URL + "/jwks.json", nil
	}, 4))
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = k.Key(context.Background(), "https://t.example/", "x", "RS256")
	}()
	<-started
	require.NoError(t, k.Close())
	closed.Store(true)
	<-done
	assert.False(t, lateCall.Load(), "observer called after Close returned")
}

// TestCloseClosesIdleConnections: no keep-alive goroutine of the HTTP
// client outlives Close.
func TestCloseClosesIdleConnections(t *testing.T) {
	iss := newIssuer(t)
	k, err := jwks.New(context.Background(), jwks.WithIssuerJWKS(iss.Issuer(), iss.JWKSURL()))
	require.NoError(t, err)
	require.NoError(t, k.Close())
	require.Eventually(t, func() bool { return persistConnGoroutines() == 0 }, 5*time.Second, time.Millisecond)
}

// persistConnGoroutines counts the client connection goroutines of net/http.
func persistConnGoroutines() int {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), "net/http.(*persistConn)")
}

// TestCappedRetryKeepsTheLimiterToken: a resolved issuer whose first load
// the global cap refused keeps its limiter token, so it loads as soon as
// the cap allows.
func TestCappedRetryKeepsTheLimiterToken(t *testing.T) {
	srv := newJWKSServer(t, jwksJSON(t, jwkSpec{kid: "a", alg: "RS256", pub: testRSA(t)}))
	k := newKeys(t, newClock(), jwks.WithResolver(func(context.Context, string) (string, error) {
		return srv.URL(), nil
	}, 1))
	for i := range 2 {
		_, err := k.Key(t.Context(), fmt.Sprintf("https://tenant-%d.example/", i), "a", "RS256")
		require.NoError(t, err)
	}
	_, err := k.Key(t.Context(), "https://tenant-2.example/", "a", "RS256")
	require.ErrorIs(t, err, jwks.ErrUnavailable, "the cap refuses the load")
	jwks.NewFetchCapWindow(k)
	_, err = k.Key(t.Context(), "https://tenant-2.example/", "a", "RS256")
	require.NoError(t, err, "the issuer's limiter token was kept")
}

// TestKeyfuncSourceDistinctKeyfuncsWithEqualSets: two issuers with their
// own keyfuncs are accepted even when their key sets are equal; only one
// keyfunc (one storage) for two issuers is refused.
func TestKeyfuncSourceDistinctKeyfuncsWithEqualSets(t *testing.T) {
	body := jwksJSON(t, jwkSpec{kid: "a", alg: "RS256", pub: testRSA(t)})
	a, err := keyfunc.NewJWKSetJSON(body)
	require.NoError(t, err)
	b, err := keyfunc.NewJWKSetJSON(body)
	require.NoError(t, err)
	_, err = jwks.NewKeyfuncSource(map[string]keyfunc.Keyfunc{"https://a.example/": a, "https://b.example/": b})
	require.NoError(t, err)
	_, err = jwks.NewKeyfuncSource(map[string]keyfunc.Keyfunc{"https://a.example/": a, "https://b.example/": a})
	require.Error(t, err)
}

// TestConcurrentRequestsWaitForTheRotationRefresh: requests naming a
// freshly rotated kid while its refresh is under way wait for that refresh
// instead of failing with ErrKeyNotFound.
func TestConcurrentRequestsWaitForTheRotationRefresh(t *testing.T) {
	iss := newIssuer(t)
	k := newKeys(t, newClock(), jwks.WithIssuerJWKS(iss.Issuer(), iss.JWKSURL()))
	_, err := k.Key(t.Context(), iss.Issuer(), iss.CurrentKeyID(), "RS256")
	require.NoError(t, err)
	newKid, err := iss.AddKey("RS256")
	require.NoError(t, err)
	iss.SetFault(oauthtest.Fault{Delay: 50 * time.Millisecond})
	var wg sync.WaitGroup
	var fails atomic.Int64
	for range 20 {
		wg.Go(func() {
			if _, err := k.Key(t.Context(), iss.Issuer(), newKid, "RS256"); err != nil {
				fails.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Zero(t, fails.Load(), "requests failed instead of waiting for the refresh")
	assert.Equal(t, 2, iss.JWKSFetches())
}
