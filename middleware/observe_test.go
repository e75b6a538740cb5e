package middleware_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
	"github.com/senderbound/senderbound/observe"
)

// recorder keeps every event an Observer receives.
type recorder struct {
	mu           sync.Mutex
	requests     []observe.Request
	replayErrors []error
	noncesIssued int
}

func (r *recorder) observer() *observe.Observer {
	return &observe.Observer{
		Request: func(_ context.Context, e observe.Request) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.requests = append(r.requests, e)
		},
		ReplayStoreError: func(_ context.Context, err error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.replayErrors = append(r.replayErrors, err)
		},
		NonceIssued: func(context.Context) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.noncesIssued++
		},
	}
}

// take returns the events recorded since the last call.
func (r *recorder) take() []observe.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.requests
	r.requests = nil
	return got
}

// downStore is a replay store that cannot be reached.
type downStore struct{}

var errConnRefused = errors.New("dial tcp 127.0.0.1:6379: connection refused")

func (downStore) Record(context.Context, dpop.ReplayKey, time.Time) (bool, error) {
	return false, errConnRefused
}

// TestObserverEvents: every decision, whichever entry point made it, is one
// event that says how it ended and why, with the mechanism, the trusted
// issuer and key, and whether the token cache answered.
func TestObserverEvents(t *testing.T) {
	iss := newIssuer(t)
	stranger := newIssuer(t) // not trusted by the Guard
	client := newSigner(t)
	rec := &recorder{}
	g := newGuard(t, iss, middleware.WithObserver(rec.observer()), middleware.WithPublicURL("https://api.example.com"))
	kid := iss.CurrentKeyID()

	plain := mint(t, iss, oauthtest.Token{})
	expired := mint(t, iss, oauthtest.Token{IssuedAt: time.Now().Add(-3 * time.Hour), ExpiresIn: time.Hour})
	bound := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint()})
	forged := mint(t, stranger, oauthtest.Token{})
	unknownKid := handMade(t, jwt.SigningMethodRS256, iss.PrivateKey(kid), map[string]any{"kid": "no-such-kid"}, goodClaims(iss))
	replayed := proof(t, client, "GET", resource, bound, "")
	_, err := g.Check(dpopRequest(t, bound, replayed))
	require.NoError(t, err)
	rec.take()

	tests := []struct {
		name string
		do   func() int // returns the status the client saw
		want observe.Request
	}{
		{"accepted bearer, verified", func() int { return serve(g, bearer(plain)).status },
			observe.Request{Outcome: observe.Accepted, Status: 200, Mechanism: "bearer", Issuer: iss.Issuer(), KeyID: kid}},
		{"accepted bearer, from the cache", func() int { return serve(g, bearer(plain)).status },
			observe.Request{Outcome: observe.Accepted, Status: 200, Mechanism: "bearer", Issuer: iss.Issuer(), KeyID: kid, CacheHit: true}},
		{"no credentials", func() int {
			return serve(g, httptest.NewRequest(http.MethodGet, resource, nil)).status
		}, observe.Request{Outcome: observe.Rejected, Status: 401, ReasonName: "no_credentials"}},
		{"expired", func() int { return serve(g, bearer(expired)).status },
			observe.Request{Outcome: observe.Rejected, Status: 401, Code: "invalid_token", ReasonName: "expired",
				Mechanism: "bearer", Issuer: iss.Issuer(), KeyID: kid}},
		{"untrusted issuer: no issuer reported", func() int { return serve(g, bearer(forged)).status },
			observe.Request{Outcome: observe.Rejected, Status: 401, Code: "invalid_token", ReasonName: "issuer", Mechanism: "bearer"}},
		{"unknown kid: the issuer is reported, not the kid", func() int { return serve(g, bearer(unknownKid)).status },
			observe.Request{Outcome: observe.Rejected, Status: 401, Code: "invalid_token", ReasonName: "unknown_key",
				Mechanism: "bearer", Issuer: iss.Issuer()}},
		{"accepted dpop", func() int {
			return serve(g, dpopRequest(t, bound, proof(t, client, "GET", resource, bound, ""))).status
		}, observe.Request{Outcome: observe.Accepted, Status: 200, Mechanism: "dpop", Issuer: iss.Issuer(), KeyID: kid, CacheHit: true}},
		{"proof for another URL", func() int {
			return serve(g, dpopRequest(t, bound, proof(t, client, "GET", "https://api.example.com/elsewhere", bound, ""))).status
		}, observe.Request{Outcome: observe.Rejected, Status: 401, Code: "invalid_dpop_proof", ReasonName: "proof_htu",
			Mechanism: "dpop", Issuer: iss.Issuer(), KeyID: kid, CacheHit: true}},
		{"replayed proof", func() int { return serve(g, dpopRequest(t, bound, replayed)).status },
			observe.Request{Outcome: observe.Rejected, Status: 401, Code: "invalid_dpop_proof", ReasonName: "proof_replayed",
				Mechanism: "dpop", Issuer: iss.Issuer(), KeyID: kid, CacheHit: true}},
		{"Check reports too", func() int {
			_, err := g.Check(bearer(expired))
			return statusOf(err)
		}, observe.Request{Outcome: observe.Rejected, Status: 401, Code: "invalid_token", ReasonName: "expired",
			Mechanism: "bearer", Issuer: iss.Issuer(), KeyID: kid}},
		{"Verify reports too", func() int {
			_, err := g.Verify(context.Background(), middleware.Request{Scheme: "bearer", Token: plain, Method: "GET"})
			return statusOf(err)
		}, observe.Request{Outcome: observe.Accepted, Status: 200, Mechanism: "bearer", Issuer: iss.Issuer(), KeyID: kid, CacheHit: true}},
		{"Verify with an unknown scheme", func() int {
			_, err := g.Verify(context.Background(), middleware.Request{Scheme: "Basic", Token: plain})
			return statusOf(err)
		}, observe.Request{Outcome: observe.Rejected, Status: 401, ReasonName: "no_credentials"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now()
			status := tt.do()
			got := rec.take()
			require.Len(t, got, 1, "one event per decision")
			e := got[0]
			assert.Equal(t, tt.want.Status, status)
			assert.False(t, e.Start.Before(before), "Start is when verification began")
			assert.GreaterOrEqual(t, e.Duration, time.Duration(0))
			if tt.want.Outcome == observe.Accepted {
				assert.NoError(t, e.Reason)
			} else {
				assert.Error(t, e.Reason)
			}
			e.Start, e.Duration, e.Reason = time.Time{}, 0, nil
			assert.Equal(t, tt.want, e)
		})
	}
}

func statusOf(err error) int {
	var e *middleware.Error
	if errors.As(err, &e) {
		return e.Status
	}
	if err == nil {
		return http.StatusOK
	}
	return 0
}

// TestObserverFailClosed: an issuer that is down and a replay store that
// cannot be reached are reported as unavailable, and the replay store's
// failure also as its own event.
func TestObserverFailClosed(t *testing.T) {
	t.Run("issuer down", func(t *testing.T) {
		iss := newIssuer(t)
		iss.SetFault(oauthtest.Fault{Down: true})
		keys, err := jwks.New(context.Background(), jwks.WithIssuerJWKS(iss.Issuer(), iss.JWKSURL()),
			jwks.WithRefreshRateLimit(time.Millisecond), jwks.WithRateLimitWait(50*time.Millisecond))
		require.NoError(t, err)
		t.Cleanup(func() { _ = keys.Close() })
		rec := &recorder{}
		g, err := middleware.New(keys, middleware.WithAudience(audience), middleware.WithObserver(rec.observer()))
		require.NoError(t, err)

		assert.Equal(t, http.StatusServiceUnavailable, serve(g, bearer(mint(t, iss, oauthtest.Token{}))).status)
		got := rec.take()
		require.Len(t, got, 1)
		assert.Equal(t, observe.Unavailable, got[0].Outcome)
		assert.Equal(t, http.StatusServiceUnavailable, got[0].Status)
		assert.Equal(t, "keys_unavailable", got[0].ReasonName)
		assert.ErrorIs(t, got[0].Reason, jwks.ErrUnavailable)
		assert.Equal(t, iss.Issuer(), got[0].Issuer, "a configured issuer, so a bounded label")
		assert.Empty(t, got[0].KeyID, "no key was found")
	})
	t.Run("replay store down", func(t *testing.T) {
		iss := newIssuer(t)
		client := newSigner(t)
		v, err := dpop.NewVerifier(dpop.WithReplayCache(downStore{}))
		require.NoError(t, err)
		rec := &recorder{}
		g := newGuard(t, iss, middleware.WithDPoP(v), middleware.WithObserver(rec.observer()))
		tok := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint()})

		assert.Equal(t, http.StatusServiceUnavailable, serve(g, dpopRequest(t, tok, proof(t, client, "GET", resource, tok, ""))).status)
		got := rec.take()
		require.Len(t, got, 1)
		assert.Equal(t, observe.Unavailable, got[0].Outcome)
		assert.Equal(t, "replay_store_unavailable", got[0].ReasonName)
		assert.Equal(t, "dpop", got[0].Mechanism)
		require.Len(t, rec.replayErrors, 1)
		assert.ErrorIs(t, rec.replayErrors[0], errConnRefused)
		assert.ErrorIs(t, rec.replayErrors[0], dpop.ErrReplayCacheUnavailable)
	})
}

// TestObserverNonces: a use_dpop_nonce answer and a fresh nonce sent with
// an accepted request are each one nonce issued.
func TestObserverNonces(t *testing.T) {
	iss := newIssuer(t)
	client := newSigner(t)
	nonces, err := dpop.NewHMACNonces([][]byte{[]byte(strings.Repeat("k", 32))})
	require.NoError(t, err)
	v, err := dpop.NewVerifier(dpop.WithNonces(nonces))
	require.NoError(t, err)
	rec := &recorder{}
	g := newGuard(t, iss, middleware.WithDPoP(v), middleware.WithObserver(rec.observer()))
	tok := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint()})

	a := serve(g, dpopRequest(t, tok, proof(t, client, "GET", resource, tok, "")))
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.NotEmpty(t, a.nonce)
	got := rec.take()
	require.Len(t, got, 1)
	assert.Equal(t, "use_dpop_nonce", got[0].Code)
	assert.Equal(t, "nonce_required", got[0].ReasonName)
	assert.Equal(t, 1, rec.noncesIssued)

	assert.Equal(t, http.StatusOK, serve(g, dpopRequest(t, tok, proof(t, client, "GET", resource, tok, a.nonce))).status)
	assert.Equal(t, 1, rec.noncesIssued, "a current nonce needs no replacement")
}

// TestObserverMTLSMechanism: a certificate-bound token is reported as mtls,
// accepted or not.
func TestObserverMTLSMechanism(t *testing.T) {
	iss := newIssuer(t)
	cert, _ := clientCert(t, "client")
	other, _ := clientCert(t, "other")
	rec := &recorder{}
	g := newGuard(t, iss, middleware.WithObserver(rec.observer()))
	bound := mint(t, iss, oauthtest.Token{X5TS256: mtls.Thumbprint(cert)})

	for _, c := range []struct {
		cert   *x509.Certificate
		status int
		reason string
	}{{cert, 200, ""}, {other, 401, "binding_mismatch"}, {nil, 401, "certificate_missing"}} {
		r := bearer(bound)
		if c.cert != nil {
			r.TLS = tlsState(c.cert)
		}
		assert.Equal(t, c.status, serve(g, r).status)
		got := rec.take()
		require.Len(t, got, 1)
		assert.Equal(t, "mtls", got[0].Mechanism)
		assert.Equal(t, c.reason, got[0].ReasonName)
	}
}
