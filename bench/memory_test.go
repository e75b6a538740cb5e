package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/bench/internal/benchkit"
	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// Sustained-load settings. The clock of the issuer, the Guard, the DPoP
// verifier, its replay cache and the clients advances by clockStep per
// request, so that the run simulates 1/clockStep requests per second for
// requests × clockStep of server time whatever the machine's speed: replay
// entries (alive for 70 s with the defaults) expire during the run, and the
// replay cache reaches its steady state of 70 s / clockStep live entries.
const (
	clockStep       = 2 * time.Millisecond
	distinctTokens  = 20_000 // twice the token cache's default bound of 10,000
	distinctClients = 64     // DPoP keys; each token is bound to one of them
	samples         = 20
)

// sustainedRequests is the length of the run: SENDERBOUND_SUSTAINED_REQUESTS
// or 100,000 (200 s of server time at 500 requests per second).
func sustainedRequests(tb testing.TB) int {
	if s := os.Getenv("SENDERBOUND_SUSTAINED_REQUESTS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(tb, err)
		require.Greater(tb, n, samples)
		return n
	}
	return 100_000
}

// memSample is one reading of the process's memory, taken after a GC.
type memSample struct {
	requests  int
	heapInuse uint64 // runtime.MemStats.HeapInuse
	rss       uint64 // VmRSS from /proc/self/status, 0 where unavailable
	replay    int    // live entries in the DPoP replay cache
}

// BenchmarkSustainedMemory sends distinctTokens DPoP-bound tokens (picked at
// random, so the token cache of 10,000 entries is always full and evicting)
// with a fresh proof each (so the replay cache grows until its entries
// start to expire) through one Guard from GOMAXPROCS workers, and samples
// the heap after a GC and the resident size at regular intervals. It reports
// the final heap and RSS and how far the samples of the second half of the
// run spread (heap-spread-pct: (max-min)/min over those samples); memory is
// flat when that stays small. Run with -benchtime 1x; the run's length is
// set by SENDERBOUND_SUSTAINED_REQUESTS.
func BenchmarkSustainedMemory(b *testing.B) {
	total := sustainedRequests(b)
	for b.Loop() {
		got := sustain(b, total)
		b.StopTimer()
		b.Logf("%10s %12s %10s %14s", "requests", "HeapInuse", "VmRSS", "replay entries")
		for _, s := range got {
			b.Logf("%10d %10.1f MB %7.1f MB %14d", s.requests, mb(s.heapInuse), mb(s.rss), s.replay)
		}
		second := got[len(got)/2:]
		lo, hi := second[0].heapInuse, second[0].heapInuse
		for _, s := range second {
			lo, hi = min(lo, s.heapInuse), max(hi, s.heapInuse)
		}
		last := got[len(got)-1]
		b.ReportMetric(mb(last.heapInuse), "heap-MB")
		b.ReportMetric(mb(last.rss), "rss-MB")
		b.ReportMetric(100*float64(hi-lo)/float64(lo), "heap-spread-pct")
		b.ReportMetric(float64(last.replay), "replay-entries")
		b.StartTimer()
	}
	b.ReportMetric(0, "ns/op") // the run's length is fixed; its speed is not the point
}

func mb(n uint64) float64 { return float64(n) / (1 << 20) }

// sustain runs the load and returns the samples.
func sustain(b *testing.B, total int) []memSample {
	b.StopTimer()
	base := time.Now()
	var tick atomic.Int64
	clock := func() time.Time { return base.Add(time.Duration(tick.Load()) * clockStep) }

	iss := newIssuer(b, oauthtest.WithAlgorithm("ES256"), oauthtest.WithClock(clock))
	replay, err := dpop.NewMemoryReplayCache(dpop.WithCacheClock(clock))
	require.NoError(b, err)
	verifier, err := dpop.NewVerifier(dpop.WithReplayCache(replay), dpop.WithClock(clock))
	require.NoError(b, err)
	var passed, rejected atomic.Int64
	g := newGuard(b, iss, middleware.WithDPoP(verifier), middleware.WithClock(clock),
		middleware.WithPublicURL(benchkit.PublicURL)) // default token cache: 10,000 entries, 5 minutes
	h := g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { passed.Add(1) }))

	signers := make([]*dpop.Signer, distinctClients)
	for i := range signers {
		signers[i], _ = newSigner(b, dpop.WithSignerClock(clock))
	}
	tokens := make([]string, distinctTokens)
	for i := range tokens {
		tokens[i] = mint(b, iss, oauthtest.Token{
			Subject: "user-" + strconv.Itoa(i), JKT: signers[i%distinctClients].Thumbprint(),
			Dialect: oauthtest.RFC9068, Scope: "read:messages",
		})
	}

	every := total / samples
	out := make([]memSample, 0, samples+1)
	sample := func(n int) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		out = append(out, memSample{requests: n, heapInuse: ms.HeapInuse, rss: vmRSS(), replay: replay.Len()})
	}
	sample(0)
	b.StartTimer()
	done := 0
	for done < total {
		chunk := min(every, total-done)
		var next atomic.Int64
		var wg sync.WaitGroup
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
				w := &benchkit.Discard{H: http.Header{}}
				for next.Add(1) <= int64(chunk) {
					i := rng.IntN(distinctTokens)
					p, err := signers[i%distinctClients].Proof(http.MethodGet, benchkit.Resource, tokens[i], "")
					if err != nil {
						rejected.Add(1)
						continue
					}
					r := httptest.NewRequest(http.MethodGet, benchkit.Resource, nil)
					r.Header.Set("Authorization", "DPoP "+tokens[i])
					r.Header.Set("DPoP", p)
					before := passed.Load()
					h.ServeHTTP(w, r)
					if passed.Load() == before {
						rejected.Add(1)
					}
					tick.Add(1)
				}
			})
		}
		wg.Wait()
		done += chunk
		b.StopTimer()
		sample(done)
		b.StartTimer()
	}
	b.StopTimer()
	if n := rejected.Load(); n > 0 {
		b.Fatalf("%d of %d requests rejected", n, total)
	}
	return out
}

// vmRSS returns the process's resident set size, or 0 off Linux.
func vmRSS() uint64 {
	f, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(f))
	for sc.Scan() {
		var kb uint64
		if _, err := fmt.Sscanf(sc.Text(), "VmRSS: %d kB", &kb); err == nil {
			return kb << 10
		}
	}
	return 0
}
