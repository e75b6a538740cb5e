package dpop_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/clientauth"
	"github.com/senderbound/senderbound/dpop"
)

// tokenEndpoint issues "tok-1", "tok-2", … as DPoP tokens (with body, when
// set, as the whole answer instead).
type tokenEndpoint struct {
	issued atomic.Int64
	body   string
}

func (e *tokenEndpoint) start(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if e.body != "" {
			_, _ = io.WriteString(w, e.body)
			return
		}
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"DPoP","expires_in":3600}`, e.issued.Add(1))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/token"
}

func newTokenSource(t *testing.T, e *tokenEndpoint, opts ...dpop.ClientCredentialsOption) *dpop.ClientCredentials {
	t.Helper()
	src, err := dpop.NewClientCredentials(e.start(t), newDPoPSigner(t), clientauth.ClientSecretPost("svc", "secret"), opts...)
	require.NoError(t, err)
	return src
}

// TestClientCredentialsInvalidate: Invalidate drops the cached token only
// when it is the one named, so that a caller reporting a token that a
// concurrent refresh already replaced does not throw the new one away.
func TestClientCredentialsInvalidate(t *testing.T) {
	t.Parallel()
	ep := &tokenEndpoint{}
	src := newTokenSource(t, ep)
	ctx := context.Background()
	tok, err := src.Token(ctx)
	require.NoError(t, err)
	require.Equal(t, "tok-1", tok)

	src.Invalidate("tok-0")
	src.Invalidate("")
	tok, err = src.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, "tok-1", tok, "another token named: the cache stays")

	src.Invalidate("tok-1")
	tok, err = src.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, "tok-2", tok, "the named token is dropped")

	src.Invalidate("tok-1")
	tok, err = src.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, "tok-2", tok, "a stale report keeps the refreshed token")
	assert.Equal(t, int64(2), ep.issued.Load())
}

// api answers 401 DPoP error="invalid_token" for the tokens it refuses
// (all of them when refuseAll), and 200 otherwise; when nonces, it sends a
// new nonce with every answer and demands it (use_dpop_nonce) in every
// other one, the first included. It records what it received.
type api struct {
	mu        sync.Mutex
	refused   map[string]bool
	refuseAll bool
	nonces    bool
	n         int
	tokens    []string
	bodies    []string
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "DPoP ")
	b, _ := io.ReadAll(r.Body)
	a.tokens, a.bodies = append(a.tokens, tok), append(a.bodies, string(b))
	if a.nonces {
		w.Header().Set("DPoP-Nonce", fmt.Sprintf("nonce-%d", a.n))
	}
	if a.nonces && a.n%2 == 1 {
		w.Header().Set("WWW-Authenticate", `DPoP algs="ES256", error="use_dpop_nonce"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if a.refuseAll || a.refused[tok] {
		w.Header().Set("WWW-Authenticate", `DPoP algs="ES256", error="invalid_token", error_description="token revoked"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	_, _ = io.WriteString(w, "ok")
}

func (a *api) sent() (tokens, bodies []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.tokens...), append([]string(nil), a.bodies...)
}

// TestTransportRetriesOnceWithFreshToken: when the API answers 401
// invalid_token for the token source's token, the Transport drops that
// token, obtains a fresh one and sends the request (body included) once
// more with it.
func TestTransportRetriesOnceWithFreshToken(t *testing.T) {
	t.Parallel()
	ep := &tokenEndpoint{}
	src := newTokenSource(t, ep)
	a := &api{refused: map[string]bool{"tok-1": true}}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &dpop.Transport{Signer: newDPoPSigner(t), Source: src}}

	resp, err := client.Post(srv.URL+"/r", "text/plain", bytes.NewReader([]byte("payload")))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	tokens, bodies := a.sent()
	assert.Equal(t, []string{"tok-1", "tok-2"}, tokens)
	assert.Equal(t, []string{"payload", "payload"}, bodies)

	resp, err = client.Get(srv.URL + "/r")
	require.NoError(t, err)
	resp.Body.Close()
	tokens, _ = a.sent()
	assert.Equal(t, "tok-2", tokens[2], "the fresh token is the cached one now")
	assert.Equal(t, int64(2), ep.issued.Load())
}

// TestTransportTokenRetryBounded: an API that refuses every token sees the
// request twice (once with a fresh token), and with a new nonce in every
// answer at most three times (one nonce retry, one token retry), never a
// loop.
func TestTransportTokenRetryBounded(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		nonces bool
		sends  int
	}{
		{"invalid_token only", false, 2},
		{"invalid_token with nonces", true, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ep := &tokenEndpoint{}
			a := &api{refuseAll: true, nonces: tt.nonces}
			srv := httptest.NewServer(a)
			t.Cleanup(srv.Close)
			client := &http.Client{Transport: &dpop.Transport{Signer: newDPoPSigner(t), Source: newTokenSource(t, ep)}}
			resp, err := client.Get(srv.URL + "/r")
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			tokens, _ := a.sent()
			assert.Len(t, tokens, tt.sends)
			assert.LessOrEqual(t, ep.issued.Load(), int64(2))
		})
	}
}

// TestTransportNoTokenRetry: a body that cannot be sent again is not
// retried (the 401 is the answer), but the refused token is dropped so the
// next request gets a fresh one; a source without Invalidate (a static
// token) is never retried.
func TestTransportNoTokenRetry(t *testing.T) {
	t.Parallel()
	ep := &tokenEndpoint{}
	src := newTokenSource(t, ep)
	a := &api{refused: map[string]bool{"tok-1": true, "static": true}}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &dpop.Transport{Signer: newDPoPSigner(t), Source: src}}

	req, err := http.NewRequest(http.MethodPost, srv.URL+"/r", io.NopCloser(strings.NewReader("once")))
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	tok, err := src.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "tok-2", tok)

	static := &http.Client{Transport: &dpop.Transport{Signer: newDPoPSigner(t), Source: dpop.StaticToken("static")}}
	resp, err = static.Get(srv.URL + "/r")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	tokens, _ := a.sent()
	assert.Equal(t, []string{"tok-1", "static"}, tokens)
}

// TestTransportConcurrentRefusalsRefreshOnce: many requests refused with
// the same token drop it once and share one fresh token: a report about a
// token already replaced leaves the new one in place.
func TestTransportConcurrentRefusalsRefreshOnce(t *testing.T) {
	t.Parallel()
	ep := &tokenEndpoint{}
	src := newTokenSource(t, ep)
	_, err := src.Token(context.Background())
	require.NoError(t, err)
	a := &api{refused: map[string]bool{"tok-1": true}}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &dpop.Transport{Signer: newDPoPSigner(t), Source: src}}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			resp, err := client.Get(srv.URL + "/r")
			if assert.NoError(t, err) {
				resp.Body.Close()
				assert.Equal(t, http.StatusOK, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(2), ep.issued.Load(), "one refresh for all")
}
