package mcpguard_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/mcpguard"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

const benchBase = "https://mcp.example.com"

// BenchmarkAddedCost measures what mcpguard adds to one tools/call
// (whoami) in an established session (protocol 2025-11-25, JSON
// responses), served in process. Every iteration runs, one after the
// other, the same call on
//
//   - bare: the go-sdk's streamable HTTP handler alone, no auth;
//   - bearer: the same behind mcpguard, with a bearer token (warm: the
//     Guard's token cache holds it after the first request);
//   - dpop: behind mcpguard, with a DPoP-bound token and a fresh ES256
//     proof (made before the timer starts);
//
// and one dpop.Verifier.Verify of such a proof (proof), timing each, so
// that all four share the machine's state; the medians are reported (the
// SDK allocates ~200 KB per call, and garbage collection lands on any of
// them). bearer-added-µs is bearer − bare, dpop-added/proof is
// (dpop − bare) / proof. Use -benchtime 3000x or more.
func BenchmarkAddedCost(b *testing.B) {
	iss, err := oauthtest.NewIssuer(oauthtest.WithAudience(benchBase + "/mcp"))
	require.NoError(b, err)
	defer iss.Close()
	keys, err := jwks.New(context.Background(), jwks.WithIssuer(iss.Issuer()))
	require.NoError(b, err)
	defer keys.Close()
	guard, err := middleware.New(keys, middleware.WithAudience(benchBase+"/mcp"), middleware.WithPublicURL(benchBase))
	require.NoError(b, err)
	mg, err := mcpguard.New(guard)
	require.NoError(b, err)
	newHandler := func() http.Handler {
		server := newServer()
		b.Cleanup(func() {
			for ss := range server.Sessions() {
				_ = ss.Close()
			}
		})
		return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
			&mcp.StreamableHTTPOptions{JSONResponse: true})
	}
	signer := newSigner(b)
	bound, err := iss.Mint(oauthtest.Token{Subject: "auth0|bench", JKT: signer.Thumbprint()})
	require.NoError(b, err)
	bearerTok, err := iss.Mint(oauthtest.Token{Subject: "auth0|bench"})
	require.NoError(b, err)
	proofs := make([]string, 2*b.N+2)
	for i := range proofs {
		proofs[i], err = signer.Proof(http.MethodPost, benchBase+"/mcp", bound, "")
		require.NoError(b, err)
	}

	bare := openSession(b, newHandler(), func(int) http.Header { return http.Header{} })
	bearer := openSession(b, mg.Handler(newHandler()), func(int) http.Header {
		return http.Header{"Authorization": {"Bearer " + bearerTok}}
	})
	bearer.call(b, 0) // warm the token cache
	dpopCall := openSession(b, mg.Handler(newHandler()), func(i int) http.Header {
		return http.Header{"Authorization": {"DPoP " + bound}, "Dpop": {proofs[i]}}
	})
	v, err := dpop.NewVerifier()
	require.NoError(b, err)
	u, _ := url.Parse(benchBase + "/mcp")
	proofReq := dpop.Request{Method: http.MethodPost, URL: u, AccessToken: bound, JKT: signer.Thumbprint()}
	ctx := context.Background()

	var tBare, tBearer, tDPoP, tProof []time.Duration
	timed := func(into *[]time.Duration, f func()) {
		start := time.Now()
		f()
		*into = append(*into, time.Since(start))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		timed(&tBare, func() { bare.call(b, i) })
		timed(&tBearer, func() { bearer.call(b, i) })
		timed(&tDPoP, func() { dpopCall.call(b, i+2) })
		timed(&tProof, func() {
			if _, err := v.Verify(ctx, proofs[b.N+2+i], proofReq); err != nil {
				b.Fatal(err)
			}
		})
	}
	b.StopTimer()
	mb, mBearer, mDPoP, mProof := median(tBare), median(tBearer), median(tDPoP), median(tProof)
	b.ReportMetric(mb, "bare-µs")
	b.ReportMetric(mBearer, "bearer-µs")
	b.ReportMetric(mDPoP, "dpop-µs")
	b.ReportMetric(mProof, "proof-µs")
	b.ReportMetric(mBearer-mb, "bearer-added-µs")
	b.ReportMetric((mDPoP-mb)/mProof, "dpop-added/proof")
}

// BenchmarkAddedCostWrapper isolates the Guard from the SDK, whose ~200 KB
// of garbage per call makes BenchmarkAddedCost noisy: requests through
// mcpguard to a handler that does nothing, against that handler alone,
// interleaved as in BenchmarkAddedCost. bearer-added-µs is a warm bearer
// request; handoff-µs what mcpguard adds to the middleware.Guard alone;
// dpop-added/proof a DPoP request (fresh proof) over one
// dpop.Verifier.Verify. Its allocations are those of all five.
func BenchmarkAddedCostWrapper(b *testing.B) {
	iss, err := oauthtest.NewIssuer(oauthtest.WithAudience(benchBase + "/mcp"))
	require.NoError(b, err)
	defer iss.Close()
	keys, err := jwks.New(context.Background(), jwks.WithIssuer(iss.Issuer()))
	require.NoError(b, err)
	defer keys.Close()
	guard, err := middleware.New(keys, middleware.WithAudience(benchBase+"/mcp"), middleware.WithPublicURL(benchBase))
	require.NoError(b, err)
	mg, err := mcpguard.New(guard)
	require.NoError(b, err)
	tok, err := iss.Mint(oauthtest.Token{Subject: "auth0|bench"})
	require.NoError(b, err)
	signer := newSigner(b)
	bound, err := iss.Mint(oauthtest.Token{Subject: "auth0|bench", JKT: signer.Thumbprint()})
	require.NoError(b, err)
	proofs := make([]string, 2*b.N+1)
	for i := range proofs {
		proofs[i], err = signer.Proof(http.MethodPost, benchBase+"/mcp", bound, "")
		require.NoError(b, err)
	}
	v, err := dpop.NewVerifier()
	require.NoError(b, err)
	u, _ := url.Parse(benchBase + "/mcp")
	proofReq := dpop.Request{Method: http.MethodPost, URL: u, AccessToken: bound, JKT: signer.Thumbprint()}
	ctx := context.Background()

	noop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	guarded, plain := mg.Handler(noop), guard.Handler(noop)
	bearerReq := httptest.NewRequest(http.MethodPost, benchBase+"/mcp", nil)
	bearerReq.Header.Set("Authorization", "Bearer "+tok)
	dpopReq := func(i int) *http.Request {
		r := httptest.NewRequest(http.MethodPost, benchBase+"/mcp", nil)
		r.Header.Set("Authorization", "DPoP "+bound)
		r.Header.Set("DPoP", proofs[i])
		return r
	}
	serve := func(into *[]time.Duration, h http.Handler, r *http.Request) {
		w := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(w, r)
		*into = append(*into, time.Since(start))
		if w.Code != http.StatusOK {
			b.Fatal(w.Code, w.Header())
		}
	}
	serve(new([]time.Duration), guarded, bearerReq) // warm the token caches
	serve(new([]time.Duration), guarded, dpopReq(2*b.N))
	var tBare, tBearer, tPlain, tDPoP, tProof []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serve(&tBare, noop, bearerReq)
		serve(&tBearer, guarded, bearerReq)
		serve(&tPlain, plain, bearerReq)
		r := dpopReq(i) // outside the timing, like the proof
		serve(&tDPoP, guarded, r)
		start := time.Now()
		if _, err := v.Verify(ctx, proofs[b.N+i], proofReq); err != nil {
			b.Fatal(err)
		}
		tProof = append(tProof, time.Since(start))
	}
	b.StopTimer()
	mb := median(tBare)
	b.ReportMetric(median(tBearer)-mb, "bearer-added-µs")
	b.ReportMetric(median(tBearer)-median(tPlain), "handoff-µs")
	b.ReportMetric((median(tDPoP)-mb)/median(tProof), "dpop-added/proof")
	b.ReportMetric(median(tProof), "proof-µs")
}

func median(d []time.Duration) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[len(s)/2]) / float64(time.Microsecond)
}

// session is a session of one MCP handler, with the credentials of its
// i-th request.
type session struct {
	h    http.Handler
	id   string
	auth func(i int) http.Header
}

func (s *session) post(body string, hdr http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, benchBase+"/mcp", strings.NewReader(body))
	for k, v := range hdr {
		r.Header[k] = v
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	if s.id != "" {
		r.Header.Set("Mcp-Session-Id", s.id)
		r.Header.Set("Mcp-Protocol-Version", withSession)
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return w
}

// call sends whoami with the credentials of auth(i).
func (s *session) call(b *testing.B, i int) {
	if w := s.post(whoamiCall, s.auth(i)); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "result") {
		b.Fatalf("status %d: %s", w.Code, w.Body.String())
	}
}

// openSession initializes a session through h with the credentials of
// auth(0) and auth(1).
func openSession(b *testing.B, h http.Handler, auth func(i int) http.Header) *session {
	s := &session{h: h, auth: auth}
	w := s.post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"`+withSession+
		`","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`, auth(0))
	require.Equal(b, http.StatusOK, w.Code, w.Body.String())
	s.id = w.Header().Get("Mcp-Session-Id")
	require.NotEmpty(b, s.id)
	w = s.post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, auth(1))
	require.Equal(b, http.StatusAccepted, w.Code, w.Body.String())
	return s
}
