package middleware_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// TestLoad sends thousands of concurrent requests through the whole
// middleware on a real HTTP server, mixing valid bearer tokens, valid DPoP
// requests, replays of those proofs, forged proofs and expired tokens.
// Every valid request is accepted, every invalid one refused, and each DPoP
// proof is accepted exactly once however many copies race.
func TestLoad(t *testing.T) {
	const workers = 64
	proofs := 800 // each sent 3 times: 2400 DPoP requests
	if testing.Short() {
		proofs = 200
	}
	iss := newIssuer(t, oauthtest.WithAlgorithm("ES256"))
	g := newGuard(t, iss, middleware.WithPublicURL("https://api.example.com"))
	var served atomic.Int64
	srv := httptest.NewServer(g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		_, _ = io.WriteString(w, "ok")
	})))
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	client := newSigner(t)
	thief := newSigner(t)
	bearerTok := mint(t, iss, oauthtest.Token{})
	boundTok := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint()})
	expired := mint(t, iss, oauthtest.Token{IssuedAt: time.Now().Add(-2 * time.Hour), ExpiresIn: time.Hour})
	expiredBound := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint(), IssuedAt: time.Now().Add(-2 * time.Hour), ExpiresIn: time.Hour})

	type job struct {
		kind   string
		auth   string
		proof  string
		id     int // proof index for valid DPoP jobs, else -1
		wantOK bool
	}
	var jobs []job
	for i := range proofs {
		p := proof(t, client, http.MethodGet, resource, boundTok, "")
		for range 3 { // the original and two replays, racing
			jobs = append(jobs, job{"dpop", "DPoP " + boundTok, p, i, false})
		}
		jobs = append(jobs, job{"bearer", "Bearer " + bearerTok, "", -1, true})
		switch i % 3 {
		case 0:
			jobs = append(jobs, job{"forged proof", "DPoP " + boundTok, proof(t, thief, http.MethodGet, resource, boundTok, ""), -1, false})
		case 1:
			jobs = append(jobs, job{"expired bearer", "Bearer " + expired, "", -1, false})
		case 2:
			jobs = append(jobs, job{"expired DPoP", "DPoP " + expiredBound, proof(t, client, http.MethodGet, resource, expiredBound, ""), -1, false})
		}
	}
	accepted := make([]atomic.Int32, proofs)
	var wrong atomic.Int32
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) {
					return
				}
				j := jobs[(i*7919)%len(jobs)] // spread copies of a proof apart
				req, err := http.NewRequest(http.MethodGet, srv.URL+"/r", nil)
				if !assert.NoError(t, err) {
					return
				}
				req.Header.Set("Authorization", j.auth)
				if j.proof != "" {
					req.Header.Set("DPoP", j.proof)
				}
				resp, err := hc.Do(req)
				if !assert.NoError(t, err) {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				ok := resp.StatusCode == http.StatusOK
				switch {
				case j.id >= 0:
					if ok {
						accepted[j.id].Add(1)
					} else if resp.StatusCode != http.StatusUnauthorized {
						wrong.Add(1)
					}
				case ok != j.wantOK:
					t.Errorf("%s: status %d", j.kind, resp.StatusCode)
					wrong.Add(1)
				case !ok && resp.StatusCode != http.StatusUnauthorized:
					t.Errorf("%s: status %d, want 401", j.kind, resp.StatusCode)
					wrong.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%d requests over %d workers in %v (%.0f req/s)", len(jobs), workers, elapsed, float64(len(jobs))/elapsed.Seconds())

	require.Zero(t, wrong.Load())
	for i := range accepted {
		require.Equal(t, int32(1), accepted[i].Load(), "proof %d accepted exactly once", i)
	}
	// Handler runs: one per proof plus every valid bearer request.
	assert.Equal(t, int64(2*proofs), served.Load())
}
