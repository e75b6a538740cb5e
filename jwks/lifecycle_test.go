package jwks_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/oauthtest"
	"github.com/senderbound/senderbound/observe"
)

// TestCancelledStartupContextDoesNotStopRefresh: the usual start-up habit
// (a context with a timeout, cancelled once New returns) bounds only the
// initial load; the background refresh goes on until Close.
func TestCancelledStartupContextDoesNotStopRefresh(t *testing.T) {
	iss := newIssuer(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	k, err := jwks.New(ctx, jwks.WithIssuer(iss.Issuer()), jwks.WithRefreshInterval(5*time.Millisecond))
	require.NoError(t, err)
	cancel()
	before := iss.JWKSFetches()
	require.Eventually(t, func() bool { return iss.JWKSFetches() >= before+3 }, 10*time.Second, 5*time.Millisecond,
		"periodic refresh goes on after the start-up context ended")
	assert.Equal(t, 1, loopGoroutines())
	require.NoError(t, k.Close())
	assert.Zero(t, loopGoroutines(), "Close ends it")
}

// TestStartupContextBoundsInitialLoad: an issuer slower than the start-up
// deadline does not hold New beyond ctx; the issuer fails closed, then
// loads in the background, and Ready reports it.
func TestStartupContextBoundsInitialLoad(t *testing.T) {
	iss := newIssuer(t)
	iss.SetFault(oauthtest.Fault{Delay: time.Hour})
	arrived := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		// Hangs while the fault lasts, until the Keys give up.
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, iss.JWKSURL(), nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		resp, err := iss.Client().Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-arrived; cancel() }()
	k, err := jwks.New(ctx, jwks.WithIssuerJWKS(iss.Issuer(), srv.URL), jwks.WithHTTPTimeout(time.Hour),
		jwks.WithRefreshRateLimit(20*time.Millisecond), jwks.WithRateLimitWait(0))
	require.NoError(t, err, "an issuer that did not load in time does not fail New")
	defer func() { require.NoError(t, k.Close()) }()
	_, err = k.Key(t.Context(), iss.Issuer(), iss.CurrentKeyID(), "RS256")
	require.ErrorIs(t, err, jwks.ErrUnavailable)
	require.ErrorIs(t, err, context.Canceled)
	iss.SetFault(oauthtest.Fault{})
	require.NoError(t, k.Ready(t.Context()), "the background retry loads the keys")
	_, err = k.Key(t.Context(), iss.Issuer(), iss.CurrentKeyID(), "RS256")
	require.NoError(t, err)
}

// TestDownIssuerFailsFast: after a failed load, requests naming the issuer
// get ErrUnavailable at once, without another fetch (and so without
// another HTTP timeout), until the next permitted retry.
func TestDownIssuerFailsFast(t *testing.T) {
	iss := newIssuer(t)
	iss.SetFault(oauthtest.Fault{Delay: time.Hour})
	k := newKeys(t, newClock(), jwks.WithIssuerJWKS(iss.Issuer(), iss.JWKSURL()),
		jwks.WithHTTPTimeout(100*time.Millisecond), jwks.WithRateLimitWait(time.Second))
	require.Equal(t, 1, iss.JWKSFetches(), "the initial load timed out")

	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			_, err := k.Key(t.Context(), iss.Issuer(), iss.CurrentKeyID(), "RS256")
			assert.ErrorIs(t, err, jwks.ErrUnavailable)
			assert.ErrorIs(t, err, context.DeadlineExceeded, "the reason of the failed load")
		})
	}
	wg.Wait()
	assert.Equal(t, 1, iss.JWKSFetches(), "no request fetched: none waited for a second timeout")

	iss.SetFault(oauthtest.Fault{})
	jwks.NewRefreshWindow(k, iss.Issuer())
	_, err := k.Key(t.Context(), iss.Issuer(), iss.CurrentKeyID(), "RS256")
	require.NoError(t, err, "the next permitted retry loads")
	assert.Equal(t, 2, iss.JWKSFetches())
}

func TestReadyAndStatus(t *testing.T) {
	up, down := newIssuer(t), newIssuer(t)
	down.SetFault(oauthtest.Fault{Status: http.StatusInternalServerError})
	clk := newClock()
	k := newKeys(t, clk, jwks.WithIssuerJWKS(up.Issuer(), up.JWKSURL()), jwks.WithIssuer(down.Issuer()),
		jwks.WithRefreshRateLimit(20*time.Millisecond))

	done, cancel := context.WithCancel(t.Context())
	cancel()
	err := k.Ready(done)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, jwks.ErrNotReady)
	require.ErrorIs(t, err, jwks.ErrDiscovery, "says why")
	assert.Contains(t, err.Error(), down.Issuer(), "says which issuer")
	assert.NotContains(t, err.Error(), up.Issuer())

	st := k.Status()
	require.Len(t, st, 2)
	assert.Equal(t, up.Issuer(), st[0].Issuer)
	assert.Equal(t, len(up.KeyIDs()), st[0].Keys)
	assert.Equal(t, clk.Now(), st[0].LastRefresh)
	assert.NoError(t, st[0].LastError)
	assert.Equal(t, down.Issuer(), st[1].Issuer)
	assert.Zero(t, st[1].Keys)
	assert.True(t, st[1].LastRefresh.IsZero())
	assert.Equal(t, clk.Now(), st[1].LastAttempt)
	require.ErrorIs(t, st[1].LastError, jwks.ErrDiscovery)

	b, err := json.Marshal(st)
	require.NoError(t, err)
	var decoded []map[string]any
	require.NoError(t, json.Unmarshal(b, &decoded))
	assert.Equal(t, up.Issuer(), decoded[0]["issuer"])
	assert.EqualValues(t, len(up.KeyIDs()), decoded[0]["keys"])
	assert.NotContains(t, decoded[0], "last_error")
	assert.Contains(t, decoded[1]["last_error"], "discovery")
	assert.NotContains(t, decoded[1], "last_refresh")

	down.SetFault(oauthtest.Fault{})
	require.NoError(t, k.Ready(t.Context()), "Ready waits for the background retry")
	st = k.Status()
	assert.Positive(t, st[1].Keys)
	assert.NoError(t, st[1].LastError)
}

func TestReadyWithOnlyAResolver(t *testing.T) {
	k := newKeys(t, newClock(), jwks.WithResolver(func(context.Context, string) (string, error) {
		return "", errors.New("no")
	}, 1))
	require.NoError(t, k.Ready(t.Context()))
	assert.Empty(t, k.Status())
}

// TestPlaintextRefused: http issuers, JWKS URLs and discovered jwks_uri
// values are refused unless the host is loopback or the operator opts in.
func TestPlaintextRefused(t *testing.T) {
	const remote = "http://192.0.2.2:8080/"
	done, cancel := context.WithCancel(t.Context())
	cancel() // New checks options before ctx: a valid configuration fails with ctx's error and fetches nothing
	tests := []struct {
		name string
		opts []jwks.Option
		want error
	}{
		{"http JWKS URL", []jwks.Option{jwks.WithIssuerJWKS("https://issuer.example/", remote+"jwks")}, jwks.ErrPlaintext},
		{"http issuer with JWKS URL", []jwks.Option{jwks.WithIssuerJWKS(remote, "https://issuer.example/jwks")}, jwks.ErrPlaintext},
		{"http issuer, discovery", []jwks.Option{jwks.WithIssuer(remote)}, jwks.ErrPlaintext},
		{"allowed explicitly", []jwks.Option{jwks.WithIssuerJWKS(remote, remote+"jwks"), jwks.WithIssuer("http://192.0.2.3/"),
			jwks.WithInsecurePlaintextHTTP()}, context.Canceled},
		{"loopback IPv4", []jwks.Option{jwks.WithIssuerJWKS("http://127.0.0.1:1/", "http://127.0.0.1:1/jwks")}, context.Canceled},
		{"loopback IPv6", []jwks.Option{jwks.WithIssuer("http://[::1]:1/")}, context.Canceled},
		{"localhost", []jwks.Option{jwks.WithIssuer("http://localhost:1/")}, context.Canceled},
		{"https anywhere", []jwks.Option{jwks.WithIssuer("https://192.0.2.2/")}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := jwks.New(done, tt.opts...)
			require.ErrorIs(t, err, tt.want)
			require.Nil(t, k)
		})
	}

	t.Run("resolver", func(t *testing.T) {
		k := newKeys(t, newClock(), jwks.WithResolver(func(_ context.Context, issuer string) (string, error) {
			if strings.Contains(issuer, "jwks") {
				return remote + "jwks", nil
			}
			return "", nil
		}, 4))
		for _, iss := range []string{remote, "https://tenant.example/jwks"} {
			_, err := k.Key(t.Context(), iss, "kid", "RS256")
			require.ErrorIs(t, err, jwks.ErrUnknownIssuer, iss)
			require.ErrorIs(t, err, jwks.ErrPlaintext, iss)
		}
	})
}

// TestIssuerMismatchIsExplained: the classic Auth0 mistake (the configured
// issuer lacks the trailing slash) is logged with both values and the fix;
// "keeping the last good keys" is said only when there are some.
func TestIssuerMismatchIsExplained(t *testing.T) {
	var metaIssuer string
	var mu sync.Mutex
	jwksBody := jwksJSON(t, jwkSpec{kid: "a", alg: "RS256", pub: testRSA(t)})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/jwks" {
			_, _ = w.Write(jwksBody)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		_, _ = fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":"http://%s/jwks"}`, metaIssuer, r.Host)
	}))
	t.Cleanup(srv.Close)
	configured := srv.URL // no trailing slash
	metaIssuer = srv.URL + "/"
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&logs, &logMu}, nil))
	k := newKeys(t, newClock(), jwks.WithIssuer(configured), jwks.WithLogger(logger))

	logMu.Lock()
	var rec map[string]any
	require.NoError(t, json.Unmarshal(logs.Bytes(), &rec), logs.String())
	logs.Reset()
	logMu.Unlock()
	assert.Equal(t, configured, rec["issuer"])
	assert.Equal(t, metaIssuer, rec["metadata_issuer"])
	assert.Contains(t, rec["fix"], "trailing slash")
	assert.Contains(t, rec["fix"], fmt.Sprintf("%q", metaIssuer))
	assert.NotContains(t, rec["msg"], "keeping the last good keys", "there are none")
	assert.Contains(t, rec["msg"], "503")

	// Once keys are loaded, a failed refresh says it keeps them.
	mu.Lock()
	metaIssuer = configured
	mu.Unlock()
	jwks.NewRefreshWindow(k, configured)
	_, err := k.Key(t.Context(), configured, "a", "RS256")
	require.NoError(t, err)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	jwks.NewRefreshWindow(k, configured)
	_, err = k.Key(t.Context(), configured, "unknown", "RS256")
	require.ErrorIs(t, err, jwks.ErrKeyNotFound)
	logMu.Lock()
	defer logMu.Unlock()
	assert.Contains(t, logs.String(), "keeping the last good keys")
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestTenantChurnKeepsTheRateLimit: the outside review's attack, 60 tokens
// cycling iss over 3 accepted tenants with a bound of 2, causes at most one
// fetch per issuer per window (it caused 60 before).
func TestTenantChurnKeepsTheRateLimit(t *testing.T) {
	tenants := []*oauthtest.Issuer{newIssuer(t), newIssuer(t), newIssuer(t)}
	byIssuer := map[string]*oauthtest.Issuer{}
	for _, iss := range tenants {
		byIssuer[iss.Issuer()] = iss
	}
	k := newKeys(t, newClock(), jwks.WithResolver(func(_ context.Context, issuer string) (string, error) {
		if iss, ok := byIssuer[issuer]; ok {
			return iss.JWKSURL(), nil
		}
		return "", errors.New("not a tenant")
	}, 2))
	for i := range 60 {
		iss := tenants[i%3]
		_, err := k.Key(t.Context(), iss.Issuer(), fmt.Sprintf("unsigned-%d", i), "RS256")
		require.ErrorIs(t, err, jwks.ErrKeyNotFound)
	}
	for _, iss := range tenants {
		assert.Equal(t, 1, iss.JWKSFetches(), "one fetch per issuer per window: %s", iss.Issuer())
		_, err := k.Key(t.Context(), iss.Issuer(), iss.CurrentKeyID(), "RS256")
		require.NoError(t, err, "the tenants still work")
	}
	assert.Len(t, k.Status(), 2, "the bound holds")
}

// TestGlobalCapOnResolvedLoads: past 2×bound request-driven loads of
// resolved issuers in a window, new issuers fail closed without a fetch.
func TestGlobalCapOnResolvedLoads(t *testing.T) {
	srv := newJWKSServer(t, jwksJSON(t, jwkSpec{kid: "a", alg: "RS256", pub: testRSA(t)}))
	k := newKeys(t, newClock(), jwks.WithResolver(func(context.Context, string) (string, error) {
		return srv.URL(), nil
	}, 1))
	for i := range 2 {
		_, err := k.Key(t.Context(), fmt.Sprintf("https://tenant-%d.example/", i), "a", "RS256")
		require.NoError(t, err)
	}
	_, err := k.Key(t.Context(), "https://tenant-2.example/", "a", "RS256")
	require.ErrorIs(t, err, jwks.ErrUnavailable)
	assert.EqualValues(t, 2, srv.fetches.Load())
}

// TestSharedKidDifferentKeyTypes: RFC 7517 §4.5 allows keys of different
// types to share a kid; the one that fits the token's alg is used.
func TestSharedKidDifferentKeyTypes(t *testing.T) {
	rsaKey := testRSA(t)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	srv := newJWKSServer(t, jwksJSON(t,
		jwkSpec{kid: "shared", use: "sig", pub: rsaKey},
		jwkSpec{kid: "shared", use: "sig", pub: ecKey.Public()}))
	const issuer = "https://issuer.example/"
	k := newKeys(t, newClock(), jwks.WithIssuerJWKS(issuer, srv.URL()))
	key, err := k.Key(t.Context(), issuer, "shared", "RS256")
	require.NoError(t, err)
	assert.True(t, rsaKey.Equal(key))
	key, err = k.Key(t.Context(), issuer, "shared", "ES256")
	require.NoError(t, err)
	assert.True(t, ecKey.Public().(*ecdsa.PublicKey).Equal(key))
	_, err = k.Key(t.Context(), issuer, "shared", "EdDSA")
	require.ErrorIs(t, err, jwks.ErrKeyMismatch)
	assert.EqualValues(t, 1, srv.fetches.Load(), "a fitting key of a known kid needs no refresh")
}

// TestEd25519AlgorithmName: RFC 9864's "Ed25519" is accepted beside
// "EdDSA", for Ed25519 keys only, whichever of the two the JWK names.
func TestEd25519AlgorithmName(t *testing.T) {
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	x := base64.RawURLEncoding.EncodeToString
	body := fmt.Sprintf(`{"keys":[
		{"kty":"OKP","crv":"Ed25519","kid":"ed-new","alg":"Ed25519","use":"sig","x":%q},
		{"kty":"OKP","crv":"Ed25519","kid":"ed-old","alg":"EdDSA","x":%q},
		{"kty":"OKP","crv":"Ed25519","kid":"ed-any","x":%q}]}`, x(edPub), x(edPub), x(edPub))
	var set map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &set))
	ec := jwksJSON(t, jwkSpec{kid: "ec", alg: "ES256", pub: ecKey.Public()})
	var ecSet map[string][]any
	require.NoError(t, json.Unmarshal(ec, &ecSet))
	set["keys"] = append(set["keys"].([]any), ecSet["keys"]...)
	b, err := json.Marshal(set)
	require.NoError(t, err)
	srv := newJWKSServer(t, b)
	const issuer = "https://issuer.example/"
	k := newKeys(t, newClock(), jwks.WithIssuerJWKS(issuer, srv.URL()))
	for _, kid := range []string{"ed-new", "ed-old", "ed-any"} {
		for _, alg := range []string{"Ed25519", "EdDSA"} {
			key, err := k.Key(t.Context(), issuer, kid, alg)
			require.NoError(t, err, "%s %s", kid, alg)
			assert.True(t, edPub.Equal(key))
		}
	}
	_, err = k.Key(t.Context(), issuer, "ec", "Ed25519")
	require.ErrorIs(t, err, jwks.ErrKeyMismatch, "Ed25519 names an OKP Ed25519 key only")
	_, err = k.Key(t.Context(), issuer, "ed-new", "ES256")
	require.ErrorIs(t, err, jwks.ErrKeyMismatch)
}

func TestObserverSeesEveryLoad(t *testing.T) {
	iss := newIssuer(t)
	var mu sync.Mutex
	var events []observe.Refresh
	o := &observe.Observer{Refresh: func(_ context.Context, e observe.Refresh) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}}
	clk := newClock()
	k := newKeys(t, clk, jwks.WithIssuerJWKS(iss.Issuer(), iss.JWKSURL()), jwks.WithObserver(o))
	iss.Rotate()
	_, err := k.Key(t.Context(), iss.Issuer(), iss.KeyIDs()[2], "RS256") // unknown kid: refresh through keyfunc
	require.NoError(t, err)
	iss.SetFault(oauthtest.Fault{Status: http.StatusInternalServerError})
	jwks.NewRefreshWindow(k, iss.Issuer())
	_, err = k.Key(t.Context(), iss.Issuer(), "unknown", "RS256")
	require.ErrorIs(t, err, jwks.ErrKeyNotFound)
	_, err = k.Key(t.Context(), iss.Issuer(), "unknown-too", "RS256") // rate limited: no attempt
	require.ErrorIs(t, err, jwks.ErrKeyNotFound)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, events, 3, "initial, unknown kid, failed unknown kid")
	for i, e := range events {
		assert.Equal(t, iss.Issuer(), e.Issuer)
		assert.Equal(t, clk.Now(), e.Start.Add(e.Duration), "event %d", i)
		assert.GreaterOrEqual(t, e.Duration, time.Duration(0))
	}
	assert.NoError(t, events[0].Err)
	assert.Positive(t, events[0].Keys)
	assert.NoError(t, events[1].Err)
	assert.Equal(t, len(iss.KeyIDs()), events[1].Keys, "the rotated set")
	assert.Error(t, events[2].Err)
	assert.Equal(t, events[1].Keys, events[2].Keys, "last good keys kept")
}

func testRSA(t *testing.T) *rsa.PublicKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return &k.PublicKey
}

// TestLogsToSlogDefault: with no logger configured, a failed load reaches
// the operator through slog.Default.
func TestLogsToSlogDefault(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(lockedWriter{&logs, &mu}, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	iss := newIssuer(t)
	iss.SetFault(oauthtest.Fault{Status: http.StatusInternalServerError})
	k, err := jwks.New(t.Context(), jwks.WithIssuerJWKS(iss.Issuer(), iss.JWKSURL()))
	require.NoError(t, err)
	require.NoError(t, k.Close())
	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, logs.String(), "loading key set failed")
	assert.Contains(t, logs.String(), iss.Issuer())
}

// TestClientGoneDoesNotSpendTheRetry: the first load of a resolved issuer
// goes on when the request that caused it is cancelled, so the issuer is
// not left without keys for a window.
func TestClientGoneDoesNotSpendTheRetry(t *testing.T) {
	iss := newIssuer(t)
	k := newKeys(t, newClock(), jwks.WithResolver(func(context.Context, string) (string, error) {
		return iss.JWKSURL(), nil
	}, 2))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, _ = k.Key(ctx, iss.Issuer(), iss.CurrentKeyID(), "RS256")
	_, err := k.Key(t.Context(), iss.Issuer(), iss.CurrentKeyID(), "RS256")
	require.NoError(t, err)
	assert.Equal(t, 1, iss.JWKSFetches())
}

// TestFailedPeriodicRefreshWaitsItsTurn: a failed periodic refresh is
// retried at the next interval, not in a tight loop.
func TestFailedPeriodicRefreshWaitsItsTurn(t *testing.T) {
	iss := newIssuer(t)
	const interval = 20 * time.Millisecond
	var mu sync.Mutex
	var failures []time.Time
	o := &observe.Observer{Refresh: func(_ context.Context, e observe.Refresh) {
		if e.Err != nil {
			mu.Lock()
			failures = append(failures, time.Now())
			mu.Unlock()
		}
	}}
	k := newKeys(t, newClock(), jwks.WithIssuerJWKS(iss.Issuer(), iss.JWKSURL()),
		jwks.WithRefreshInterval(interval), jwks.WithObserver(o))
	iss.SetFault(oauthtest.Fault{Status: http.StatusInternalServerError})
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(failures) >= 4
	}, 10*time.Second, time.Millisecond)
	require.NoError(t, k.Close())
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(failures); i++ {
		// Timers never fire early: a gap below the interval is a retry loop.
		assert.GreaterOrEqual(t, failures[i].Sub(failures[i-1]), interval-time.Millisecond, "failure %d", i)
	}
}
