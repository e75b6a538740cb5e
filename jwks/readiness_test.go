package jwks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/oauthtest"
)

// generous is a deadline no Ready of these tests should come near: a Ready
// that returns before it did not wait for it.
const generous = 30 * time.Second

// misnamedIssuer returns the configured issuer of the classic mistake: the
// test issuer's identifier without its trailing slash. Its metadata and
// tokens name iss.Issuer().
func misnamedIssuer(iss *oauthtest.Issuer) string { return strings.TrimSuffix(iss.Issuer(), "/") }

// TestReadyReturnsAtOnceOnPermanentFailure: what retrying will not fix
// ends Ready's wait with the reason and the fix, long before its deadline.
func TestReadyReturnsAtOnceOnPermanentFailure(t *testing.T) {
	iss := newIssuer(t)
	notFound := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notFound.Close)
	plaintextURI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, `{"issuer":"http://%s/","jwks_uri":"http://192.0.2.1/jwks"}`, r.Host)
	}))
	t.Cleanup(plaintextURI.Close)
	redirect := httptest.NewServer(http.RedirectHandler("http://192.0.2.1/jwks", http.StatusFound))
	t.Cleanup(redirect.Close)
	garbage := newIssuer(t)
	garbage.SetFault(oauthtest.Fault{Garbage: true})

	tests := []struct {
		name string
		opt  jwks.Option
		want []error
		says []string
	}{
		{"issuer mismatch (no trailing slash)", jwks.WithIssuer(misnamedIssuer(iss)),
			[]error{jwks.ErrIssuerMismatch, jwks.ErrDiscovery}, []string{"trailing slash", fmt.Sprintf("%q", iss.Issuer())}},
		{"JWKS URL answers 404", jwks.WithIssuerJWKS(iss.Issuer(), notFound.URL+"/jwks"),
			[]error{jwks.ErrHTTPStatus}, []string{"404", "JWKS URL"}},
		{"no discovery document", jwks.WithIssuer(notFound.URL + "/"),
			[]error{jwks.ErrHTTPStatus, jwks.ErrDiscovery}, []string{"404", "WithIssuerJWKS"}},
		{"discovered jwks_uri is plaintext", jwks.WithIssuer(plaintextURI.URL + "/"),
			[]error{jwks.ErrPlaintext, jwks.ErrDiscovery}, []string{"https"}},
		{"redirect to plaintext", jwks.WithIssuerJWKS(redirect.URL+"/", redirect.URL+"/jwks"),
			[]error{jwks.ErrPlaintext}, []string{"https"}},
		{"body is not a JWK Set", jwks.WithIssuerJWKS(garbage.Issuer(), garbage.JWKSURL()),
			[]error{jwks.ErrKeySet}, []string{"JWK Set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := newKeys(t, newClock(), tt.opt)
			ctx, cancel := context.WithTimeout(t.Context(), generous)
			defer cancel()
			err := k.Ready(ctx)
			require.NoError(t, ctx.Err(), "Ready returned before its deadline")
			require.Error(t, err)
			assert.NotErrorIs(t, err, context.DeadlineExceeded)
			assert.ErrorIs(t, err, jwks.ErrNotReady)
			assert.ErrorIs(t, err, jwks.ErrPermanent)
			for _, w := range tt.want {
				assert.ErrorIs(t, err, w)
			}
			for _, s := range tt.says {
				assert.Contains(t, err.Error(), s, "the reason and the fix")
			}

			st := k.Status()
			require.Len(t, st, 1)
			assert.Zero(t, st[0].Keys)
			assert.ErrorIs(t, st[0].LastError, jwks.ErrPermanent, "Status shows it")
			b, err := json.Marshal(st[0])
			require.NoError(t, err)
			assert.Contains(t, string(b), "permanent")
		})
	}
}

// TestReadyWaitsOnTransientFailure: faults that may clear by themselves
// (connection refused, 5xx, 429, a timeout) keep Ready waiting until its
// deadline, as before.
func TestReadyWaitsOnTransientFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	status := func(code int) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(code)
		}))
		t.Cleanup(s.Close)
		return s.URL
	}
	slow := newIssuer(t)
	slow.SetFault(oauthtest.Fault{Delay: time.Hour})

	tests := []struct {
		name string
		opt  jwks.Option
	}{
		{"connection refused, JWKS URL", jwks.WithIssuerJWKS(refused+"/", refused+"/jwks")},
		{"connection refused, discovery", jwks.WithIssuer(refused + "/")},
		{"503", jwks.WithIssuerJWKS("https://issuer.example/", status(http.StatusServiceUnavailable)+"/jwks")},
		{"500 on discovery", jwks.WithIssuer(status(http.StatusInternalServerError) + "/")},
		{"429", jwks.WithIssuerJWKS("https://issuer.example/", status(http.StatusTooManyRequests)+"/jwks")},
		{"timeout", jwks.WithIssuerJWKS(slow.Issuer(), slow.JWKSURL())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := newKeys(t, newClock(), tt.opt, jwks.WithHTTPTimeout(100*time.Millisecond))
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			err := k.Ready(ctx)
			require.ErrorIs(t, err, context.DeadlineExceeded, "still waiting")
			assert.ErrorIs(t, err, jwks.ErrNotReady)
			assert.NotErrorIs(t, err, jwks.ErrPermanent)
			assert.NotErrorIs(t, k.Status()[0].LastError, jwks.ErrPermanent)
		})
	}
}

// TestPermanentFailureStillRetries: Ready stops waiting, the background
// does not: once the operator fixes the issuer, the next retry loads.
func TestPermanentFailureStillRetries(t *testing.T) {
	var fixed atomic.Bool
	iss := newIssuer(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !fixed.Load() {
			http.NotFound(w, r)
			return
		}
		http.Redirect(w, r, iss.JWKSURL(), http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	k := newKeys(t, newClock(), jwks.WithIssuerJWKS(iss.Issuer(), srv.URL+"/jwks"),
		jwks.WithRefreshRateLimit(10*time.Millisecond))
	require.ErrorIs(t, k.Ready(t.Context()), jwks.ErrPermanent)

	fixed.Store(true)
	// Ready returns at once while the 404 is the last word; the next
	// background attempt loads.
	require.Eventually(t, func() bool { return k.Ready(t.Context()) == nil }, generous, 5*time.Millisecond,
		"the background retry loaded the keys")
	ctx := t.Context()
	_, err := k.Key(ctx, iss.Issuer(), iss.CurrentKeyID(), "RS256")
	require.NoError(t, err)
	assert.NoError(t, k.Status()[0].LastError)
}

// TestMisnamedIssuerIsUnavailable: a token naming the issuer that the
// discovery of a configured issuer answered (the configured one lacks its
// trailing slash) is refused as unavailable (503: the server's
// configuration is wrong, not the token), with the reason; any other
// issuer stays unknown (401).
func TestMisnamedIssuerIsUnavailable(t *testing.T) {
	iss := newIssuer(t)
	k := newKeys(t, newClock(), jwks.WithIssuer(misnamedIssuer(iss)))

	_, err := k.Key(t.Context(), iss.Issuer(), iss.CurrentKeyID(), "RS256")
	require.ErrorIs(t, err, jwks.ErrUnavailable)
	assert.ErrorIs(t, err, jwks.ErrIssuerMismatch)
	assert.NotErrorIs(t, err, jwks.ErrUnknownIssuer)

	_, err = k.Key(t.Context(), misnamedIssuer(iss), iss.CurrentKeyID(), "RS256")
	require.ErrorIs(t, err, jwks.ErrUnavailable, "the configured spelling has no keys either")

	for _, other := range []string{"https://other.example/", iss.Issuer() + "x", ""} {
		_, err = k.Key(t.Context(), other, iss.CurrentKeyID(), "RS256")
		require.ErrorIs(t, err, jwks.ErrUnknownIssuer, other)
	}
}
