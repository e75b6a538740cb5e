package middleware_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

func dpopRequest(t testing.TB, token, proof string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, resource, nil)
	r.Header.Set("Authorization", "DPoP "+token)
	if proof != "" {
		r.Header.Set("DPoP", proof)
	}
	return r
}

func proof(t testing.TB, s *dpop.Signer, method, uri, token, nonce string) string {
	t.Helper()
	p, err := s.Proof(method, uri, token, nonce)
	require.NoError(t, err)
	return p
}

func TestDPoPThroughTheMiddleware(t *testing.T) {
	iss := newIssuer(t)
	client := newSigner(t)
	thief := newSigner(t)
	g := newGuard(t, iss, middleware.WithPublicURL("https://api.example.com"))
	tok := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint()})
	other := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint(), Subject: "other"})

	t.Run("valid proof, claims say what was proven", func(t *testing.T) {
		r := dpopRequest(t, tok, proof(t, client, "GET", resource, tok, ""))
		got, err := g.Check(r)
		require.NoError(t, err)
		assert.Equal(t, middleware.MechanismDPoP, got.Binding.Mechanism)
		assert.Equal(t, client.Thumbprint(), got.Binding.Thumbprint)
	})
	t.Run("lower-case dpop scheme", func(t *testing.T) {
		r := dpopRequest(t, tok, proof(t, client, "GET", resource, tok, ""))
		r.Header.Set("Authorization", "dpop "+tok)
		assert.Equal(t, http.StatusOK, serve(g, r).status)
	})
	t.Run("query string in the request, not in htu", func(t *testing.T) {
		r := dpopRequest(t, tok, proof(t, client, "GET", resource, tok, ""))
		r.URL.RawQuery = "page=2"
		assert.Equal(t, http.StatusOK, serve(g, r).status)
	})

	tests := []struct {
		name   string
		r      func() *http.Request
		code   middleware.ErrorCode
		status int
		want   error
	}{
		{"stolen token with the thief's own proof", func() *http.Request {
			return dpopRequest(t, tok, proof(t, thief, "GET", resource, tok, ""))
		}, middleware.CodeInvalidToken, 401, dpop.ErrKeyMismatch},
		{"proof for another token (ath)", func() *http.Request {
			return dpopRequest(t, tok, proof(t, client, "GET", resource, other, ""))
		}, middleware.CodeInvalidDPoPProof, 401, dpop.ErrAccessTokenHash},
		{"proof for another method", func() *http.Request {
			return dpopRequest(t, tok, proof(t, client, "POST", resource, tok, ""))
		}, middleware.CodeInvalidDPoPProof, 401, dpop.ErrMethod},
		{"proof for another URL", func() *http.Request {
			return dpopRequest(t, tok, proof(t, client, "GET", "https://api.example.com/other", tok, ""))
		}, middleware.CodeInvalidDPoPProof, 401, dpop.ErrURL},
		{"no proof", func() *http.Request { return dpopRequest(t, tok, "") },
			middleware.CodeInvalidDPoPProof, 401, middleware.ErrMissingProof},
		{"two DPoP headers", func() *http.Request {
			r := dpopRequest(t, tok, proof(t, client, "GET", resource, tok, ""))
			r.Header.Add("DPoP", proof(t, client, "GET", resource, tok, ""))
			return r
		}, middleware.CodeInvalidDPoPProof, 401, middleware.ErrMultipleProofs},
		{"comma-joined DPoP value", func() *http.Request {
			p := proof(t, client, "GET", resource, tok, "")
			return dpopRequest(t, tok, p+", "+proof(t, client, "GET", resource, tok, ""))
		}, middleware.CodeInvalidDPoPProof, 401, dpop.ErrMalformed},
		{"downgrade to Bearer", func() *http.Request { return bearer(tok) },
			middleware.CodeInvalidToken, 401, middleware.ErrBoundTokenAsBearer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := g.Check(tc.r())
			require.ErrorIs(t, err, tc.want)
			var e *middleware.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.code, e.Code)
			assert.Equal(t, tc.status, e.Status)
			a := serve(g, tc.r())
			assert.Equal(t, tc.status, a.status)
			joined := strings.Join(a.challenge, "\n")
			assert.Contains(t, joined, `DPoP algs="`)
			assert.Contains(t, joined, `error="`+string(tc.code)+`"`)
		})
	}
}

func TestDPoPReplay(t *testing.T) {
	iss := newIssuer(t)
	client := newSigner(t)
	g := newGuard(t, iss, middleware.WithPublicURL("https://api.example.com"))
	tok := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint()})

	t.Run("replayed once", func(t *testing.T) {
		p := proof(t, client, "GET", resource, tok, "")
		_, err := g.Check(dpopRequest(t, tok, p))
		require.NoError(t, err)
		_, err = g.Check(dpopRequest(t, tok, p))
		require.ErrorIs(t, err, dpop.ErrReplayed)
	})
	t.Run("100 goroutines, one proof, exactly one success", func(t *testing.T) {
		p := proof(t, client, "GET", resource, tok, "")
		var ok atomic.Int32
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				if serve(g, dpopRequest(t, tok, p)).status == http.StatusOK {
					ok.Add(1)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int32(1), ok.Load())
	})
	t.Run("an invalid request does not burn the jti", func(t *testing.T) {
		p := proof(t, client, "GET", resource, tok, "")
		// Same proof with a token it was not made for: refused, not recorded.
		other := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint(), Subject: "x"})
		_, err := g.Check(dpopRequest(t, other, p))
		require.Error(t, err)
		_, err = g.Check(dpopRequest(t, tok, p))
		require.NoError(t, err)
	})
}

// TestDPoPNonceFlow drives the client transport against a server that
// demands nonces: the first request is answered use_dpop_nonce, the
// transport retries once with the nonce, and the API answers 200.
func TestDPoPNonceFlow(t *testing.T) {
	iss := newIssuer(t)
	client := newSigner(t)
	nonces, err := dpop.NewHMACNonces([][]byte{[]byte(strings.Repeat("k", 32))})
	require.NoError(t, err)
	v, err := dpop.NewVerifier(dpop.WithNonces(nonces))
	require.NoError(t, err)
	g := newGuard(t, iss, middleware.WithDPoP(v))
	var calls atomic.Int32
	srv := httptest.NewServer(g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.WriteString(w, "ok")
	})))
	defer srv.Close()
	tok := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint()})

	var attempts atomic.Int32
	counting := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		attempts.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})
	hc := &http.Client{Transport: &dpop.Transport{Base: counting, Signer: client, Source: staticToken(tok)}}
	resp, err := hc.Post(srv.URL+"/api", "text/plain", strings.NewReader("body"))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "ok", string(body))
	assert.Equal(t, int32(2), attempts.Load(), "one use_dpop_nonce answer, one retry")
	assert.Equal(t, int32(1), calls.Load())

	// The nonce is remembered: the next request needs no retry.
	resp, err = hc.Get(srv.URL + "/api")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, int32(3), attempts.Load())

	// A proof without a nonce gets the challenge and a nonce to use.
	r := dpopRequest(t, tok, proof(t, client, "GET", resource, tok, ""))
	a := serve(g, r)
	assert.Equal(t, http.StatusUnauthorized, a.status)
	assert.NotEmpty(t, a.nonce)
	assert.Contains(t, strings.Join(a.challenge, "\n"), `error="use_dpop_nonce"`)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type staticToken string

func (s staticToken) Token(context.Context) (string, error) { return string(s), nil }

// TestDPoPNonceRefreshedOnSuccess: a request whose nonce is still accepted
// but about to expire succeeds, and its response carries a fresh nonce, so
// a client that follows DPoP-Nonce headers never sees use_dpop_nonce again.
func TestDPoPNonceRefreshedOnSuccess(t *testing.T) {
	iss := newIssuer(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	client, err := dpop.NewSigner(key)
	require.NoError(t, err)
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	nonces, err := dpop.NewHMACNonces([][]byte{[]byte(strings.Repeat("k", 32))}, dpop.WithNonceClock(clock))
	require.NoError(t, err)
	v, err := dpop.NewVerifier(dpop.WithNonces(nonces), dpop.WithClock(clock))
	require.NoError(t, err)
	g := newGuard(t, iss, middleware.WithDPoP(v), middleware.WithPublicURL("https://api.example.com"))
	tok := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint()})

	first, err := v.Nonce()
	require.NoError(t, err)
	a := serve(g, dpopRequest(t, tok, proofAt(t, key, tok, first, clock())))
	require.Equal(t, http.StatusOK, a.status)
	assert.Empty(t, a.nonce, "a current nonce needs no replacement")

	now.Add(int64(time.Minute)) // one nonce step later: still accepted, soon stale
	a = serve(g, dpopRequest(t, tok, proofAt(t, key, tok, first, clock())))
	require.Equal(t, http.StatusOK, a.status)
	require.NotEmpty(t, a.nonce, "a fresh nonce is sent before the old one expires")
	assert.NotEqual(t, first, a.nonce)

	a = serve(g, dpopRequest(t, tok, proofAt(t, key, tok, a.nonce, clock())))
	assert.Equal(t, http.StatusOK, a.status)
}

// proofAt makes a proof with key whose iat is at.
func proofAt(t *testing.T, key crypto.Signer, token, nonce string, at time.Time) string {
	t.Helper()
	signer, err := dpop.NewSigner(key, dpop.WithSignerClock(func() time.Time { return at }))
	require.NoError(t, err)
	return proof(t, signer, "GET", resource, token, nonce)
}
