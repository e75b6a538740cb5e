package jwks_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/jwks/jwkstest"
)

// TestChurnWithFailingRefreshKeepsTheRateLimit: tenants churning through
// the resolver bound while their refreshes fail cause at most one fetch per
// tenant per window (the refresh interval is shorter than the window, so
// every re-held tenant's keys are due). Before the fix every re-held tenant whose keys were
// older than the refresh interval was fetched at once, outside its limiter
// and the global cap (60 fetches for 60 requests).
func TestChurnWithFailingRefreshKeepsTheRateLimit(t *testing.T) {
	tenants := []*jwkstest.Issuer{newIssuer(t), newIssuer(t), newIssuer(t)}
	byIssuer := map[string]*jwkstest.Issuer{}
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
		iss.SetFault(jwkstest.Fault{Down: true})
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
