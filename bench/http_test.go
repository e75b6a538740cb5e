package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/bench/internal/benchkit"
	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// clientsPerCPU × GOMAXPROCS keep-alive clients drive each server: enough to
// keep both the server's and the clients' goroutines busy on every CPU.
const clientsPerCPU = 4

// hello is what every protected resource answers.
var hello = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	_, _ = io.WriteString(w, "ok")
})

// floorHandler answers 200 when verify accepts the request's credential
// (read by get) and 401 otherwise: the server that does one signature
// verification per request and nothing else.
func floorHandler(get func(*http.Request) string, verify func(string) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !verify(get(r)) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		hello(w, r)
	})
}

func dpopHeader(r *http.Request) string { return r.Header.Get("DPoP") }

func bearerToken(r *http.Request) string {
	const prefix = "Bearer "
	a := r.Header.Get("Authorization")
	if len(a) < len(prefix) {
		return ""
	}
	return a[len(prefix):]
}

// credentials returns the Authorization and DPoP header values of request i
// (DPoP empty for a Bearer request).
type credentials func(i int) (authorization, proof string)

// newClient returns a keep-alive client with a connection per load client.
func newClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		DisableCompression:  true,
	}}
}

// get sends request i to url and reports the status.
func get(c *http.Client, url string, creds credentials, i int) (int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	authz, proof := creds(i)
	if authz != "" {
		req.Header["Authorization"] = []string{authz}
	}
	if proof != "" {
		req.Header["Dpop"] = []string{proof}
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// drive sends b.N requests to h over loopback from clientsPerCPU ×
// GOMAXPROCS concurrent keep-alive clients and reports requests per second.
// prepare gets the resource's URL (known once the server listens) and the
// number of requests, and makes their credentials before the timed part.
// Every answer must be 200: a server that rejects is not measured.
func drive(b *testing.B, h http.Handler, prepare func(url string, n int) credentials) {
	b.StopTimer()
	srv := httptest.NewServer(h)
	defer srv.Close()
	url := srv.URL + "/r"
	creds := prepare(url, b.N+1)
	c := newClient(clientsPerCPU * runtime.GOMAXPROCS(0))
	defer c.CloseIdleConnections()
	// Check the setup outside the timed part.
	if status, err := get(c, url, creds, 0); err != nil || status != http.StatusOK {
		b.Fatalf("first request: status %d, %v", status, err)
	}
	var next, failed atomic.Int64
	next.Store(1)
	var firstErr atomic.Pointer[error]
	b.SetParallelism(clientsPerCPU)
	b.ReportAllocs()
	b.ResetTimer()
	b.StartTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			status, err := get(c, url, creds, int(next.Add(1)-1))
			if err != nil || status != http.StatusOK {
				failed.Add(1)
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
				}
			}
		}
	})
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		var first error
		if p := firstErr.Load(); p != nil {
			first = *p
		}
		b.Fatalf("%d of %d requests failed (first error: %v)", n, b.N, first)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// dpopCredentials makes n fresh proofs for url and token.
func dpopCredentials(b *testing.B, s *dpop.Signer, token string) func(url string, n int) credentials {
	return func(url string, n int) credentials {
		ps := benchkit.Proofs(b, s, url, token, n)
		authz := "DPoP " + token
		return func(i int) (string, string) { return authz, ps[i] }
	}
}

// bearerCredentials sends the same token with every request.
func bearerCredentials(token string) func(string, int) credentials {
	authz := "Bearer " + token
	return func(string, int) credentials {
		return func(int) (string, string) { return authz, "" }
	}
}

// BenchmarkHTTP measures whole requests over loopback: a real net/http
// server and client in one process, keep-alive, clientsPerCPU × GOMAXPROCS
// clients. Each middleware row sits beside the server that does only the
// floor (one signature verification per request) and, for Bearer, the
// server that does no authentication at all. The ratio of interest is the
// req/s of a middleware row over the req/s of its floor row (issue 7: DPoP
// warm ≥ 80%).
//
// DPoP rows send a fresh proof with every request (made before the timed
// part), so the replay cache sees only new jtis. "warm" means the access
// token is in the Guard's token cache (seen before); "cold" turns the cache
// off, so each request verifies two signatures.
func BenchmarkHTTP(b *testing.B) {
	b.Run("DPoP-ES256", func(b *testing.B) {
		iss := newIssuer(b, oauthtest.WithAlgorithm("ES256"))
		signer, pub := newSigner(b)
		token := mint(b, iss, oauthtest.Token{JKT: signer.Thumbprint(), Scope: "read:messages"})
		creds := dpopCredentials(b, signer, token)
		b.Run("floor-1xES256", func(b *testing.B) {
			drive(b, floorHandler(dpopHeader, benchkit.FloorVerify(b, pub)), creds)
		})
		for _, mode := range cacheModes {
			g := newGuard(b, iss, mode.opt)
			b.Run(mode.name, func(b *testing.B) { drive(b, g.Handler(hello), creds) })
		}
	})
	b.Run("Bearer-RS256", func(b *testing.B) {
		iss := newIssuer(b, oauthtest.WithAlgorithm("RS256"))
		token := mint(b, iss, oauthtest.Token{Scope: "read:messages"})
		creds := bearerCredentials(token)
		b.Run("noauth", func(b *testing.B) { drive(b, hello, creds) })
		b.Run("floor-1xRS256", func(b *testing.B) {
			drive(b, floorHandler(bearerToken, benchkit.FloorVerify(b, iss.PublicKey(iss.CurrentKeyID()))), creds)
		})
		for _, mode := range cacheModes {
			g := newGuard(b, iss, mode.opt)
			b.Run(mode.name, func(b *testing.B) { drive(b, g.Handler(hello), creds) })
		}
	})
}

// httpContender serves h on loopback and, per slice, sends n requests
// from clientsPerCPU × GOMAXPROCS keep-alive clients; prepare makes their
// credentials for the server's URL before the timed part. Any answer but
// 200 fails the benchmark.
func httpContender(b *testing.B, h http.Handler, prepare func(url string, n int) credentials) benchkit.Contender {
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	url := srv.URL + "/r"
	clients := clientsPerCPU * runtime.GOMAXPROCS(0)
	c := newClient(clients)
	b.Cleanup(c.CloseIdleConnections)
	var creds credentials
	return benchkit.Contender{
		Prepare: func(n int) { creds = prepare(url, n) },
		Run: func(n int) {
			var next, failed atomic.Int64
			var wg sync.WaitGroup
			for range clients {
				wg.Go(func() {
					for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
						if status, err := get(c, url, creds, i); err != nil || status != http.StatusOK {
							failed.Add(1)
						}
					}
				})
			}
			wg.Wait()
			if f := failed.Load(); f > 0 {
				b.Fatalf("%d of %d requests failed", f, n)
			}
		},
	}
}

// BenchmarkHTTPRatio is BenchmarkHTTP's comparisons interleaved round by
// round (see compare), so that load from other processes touches both sides
// alike: req/s and floor-req/s are medians over rounds, and pct-of-floor is
// the median of the per-round ratios of requests per second (issue 7: DPoP
// warm ≥ 80). Run with -benchtime 12x for 12 rounds.
func BenchmarkHTTPRatio(b *testing.B) {
	b.Run("DPoP-ES256-warm", func(b *testing.B) {
		iss := newIssuer(b, oauthtest.WithAlgorithm("ES256"))
		signer, pub := newSigner(b)
		token := mint(b, iss, oauthtest.Token{JKT: signer.Thumbprint(), Scope: "read:messages"})
		creds := dpopCredentials(b, signer, token)
		floor := httpContender(b, floorHandler(dpopHeader, benchkit.FloorVerify(b, pub)), creds)
		subject := httpContender(b, newGuard(b, iss).Handler(hello), creds)
		reportHTTP(b)(benchkit.Compare(b, floor, subject))
	})
	b.Run("Bearer-RS256-warm", func(b *testing.B) {
		iss := newIssuer(b, oauthtest.WithAlgorithm("RS256"))
		creds := bearerCredentials(mint(b, iss, oauthtest.Token{Scope: "read:messages"}))
		floor := httpContender(b, floorHandler(bearerToken, benchkit.FloorVerify(b, iss.PublicKey(iss.CurrentKeyID()))), creds)
		subject := httpContender(b, newGuard(b, iss).Handler(hello), creds)
		reportHTTP(b)(benchkit.Compare(b, floor, subject))
	})
	b.Run("Bearer-RS256-warm-vs-noauth", func(b *testing.B) {
		iss := newIssuer(b, oauthtest.WithAlgorithm("RS256"))
		creds := bearerCredentials(mint(b, iss, oauthtest.Token{Scope: "read:messages"}))
		reportHTTP(b)(benchkit.Compare(b, httpContender(b, hello, creds), httpContender(b, newGuard(b, iss).Handler(hello), creds)))
	})
}

// reportHTTP adds req/s and pct-of-floor to compare's metrics.
func reportHTTP(b *testing.B) func(nsPerRequest, ratio float64) {
	return func(ns, ratio float64) {
		b.ReportMetric(1e9/ns, "req/s")
		b.ReportMetric(100/ratio, "pct-of-floor")
	}
}

// cacheModes are the token cache settings measured: off, and the default.
var cacheModes = []struct {
	name string
	opt  middleware.Option
}{
	{"cold", middleware.WithTokenCache(0, 0)},
	{"warm", middleware.WithTokenCache(10_000, 5*time.Minute)},
}

// TestHTTPSetup checks what BenchmarkHTTP relies on, quickly: the
// middleware accepts the DPoP requests the benchmark sends (made here by
// dpop.Transport) and the floor server really verifies, so that neither
// side is measured answering 401.
func TestHTTPSetup(t *testing.T) {
	iss := newIssuer(t, oauthtest.WithAlgorithm("ES256"))
	signer, pub := newSigner(t)
	other, _ := newSigner(t)
	token := mint(t, iss, oauthtest.Token{JKT: signer.Thumbprint()})
	for _, tc := range []struct {
		name   string
		h      http.Handler
		signer *dpop.Signer
		want   int
	}{
		{"middleware accepts", newGuard(t, iss).Handler(hello), signer, http.StatusOK},
		{"middleware rejects another key", newGuard(t, iss).Handler(hello), other, http.StatusUnauthorized},
		{"floor accepts", floorHandler(dpopHeader, benchkit.FloorVerify(t, pub)), signer, http.StatusOK},
		{"floor rejects another key", floorHandler(dpopHeader, benchkit.FloorVerify(t, pub)), other, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.h)
			defer srv.Close()
			c := &http.Client{Transport: &dpop.Transport{Signer: tc.signer, Source: dpop.StaticToken(token)}}
			for range 3 { // a fresh proof each time, and the token cache warm after the first
				resp, err := c.Get(srv.URL + "/r")
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				require.NoError(t, resp.Body.Close())
				assert.Equal(t, tc.want, resp.StatusCode)
			}
		})
	}
	t.Run("bearer floor rejects a forged token", func(t *testing.T) {
		rs := newIssuer(t)
		forger := newIssuer(t)
		verify := benchkit.FloorVerify(t, rs.PublicKey(rs.CurrentKeyID()))
		assert.True(t, verify(mint(t, rs, oauthtest.Token{})))
		assert.False(t, verify(mint(t, forger, oauthtest.Token{})))
		assert.False(t, verify("no-dots"))
	})
}
