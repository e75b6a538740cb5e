// Package benchkit is the measuring kit shared by senderbound's end-to-end
// benchmarks (package bench) and the peer comparison (module bench/peer):
// interleaved comparisons against a floor, the floor itself (bare signature
// verification with the standard library), and request fixtures. It is for
// benchmarks only.
package benchkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/senderbound/senderbound/dpop"
)

// PublicURL and Resource are the API's external URL and the protected
// resource in the in-process benchmarks.
const (
	PublicURL = "https://api.example.com"
	Resource  = PublicURL + "/r"
)

// A Contender is one side of a comparison. Prepare makes the inputs of n
// operations (outside the timed part); Run performs them.
type Contender struct {
	Prepare func(n int)
	Run     func(n int)
}

// SliceTarget is how long the slower side's slice of operations should
// take in each round of [Compare].
const SliceTarget = 100 * time.Millisecond

// Compare measures subject against floor in alternating slices of the same
// number of operations, one round per b.Loop iteration (so -benchtime 12x
// means 12 rounds), and reports the medians over rounds: ns/op, allocs/op
// and B/op of the subject, floor-ns/op, and x-floor, the median of the
// per-round ratios subject/floor. Because the two sides run moments apart,
// load from other processes on a shared machine touches both alike, which
// separate benchmarks run seconds apart cannot promise. It returns the
// subject's median ns/op and the median ratio.
func Compare(b *testing.B, floor, subject Contender) (subjectNsPerOp, ratio float64) {
	// Size the slices so that the slower side's takes about SliceTarget
	// (probing also warms both sides up).
	const probe = 16
	perOp := func(c Contender) time.Duration {
		c.Prepare(probe)
		start := time.Now()
		c.Run(probe)
		return max(time.Since(start)/probe, 1)
	}
	n := max(probe, int(SliceTarget/max(perOp(floor), perOp(subject))))

	var floorNs, subjectNs, ratios, allocs, bytes []float64
	var ms runtime.MemStats
	timed := func(c Contender, countAllocs bool) float64 {
		c.Prepare(n)
		var mallocs, total uint64
		if countAllocs {
			runtime.ReadMemStats(&ms)
			mallocs, total = ms.Mallocs, ms.TotalAlloc
		}
		b.StartTimer()
		t0 := time.Now()
		c.Run(n)
		d := time.Since(t0)
		b.StopTimer()
		if countAllocs {
			runtime.ReadMemStats(&ms)
			allocs = append(allocs, float64(ms.Mallocs-mallocs)/float64(n))
			bytes = append(bytes, float64(ms.TotalAlloc-total)/float64(n))
		}
		return float64(d.Nanoseconds()) / float64(n)
	}
	round := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		var f, s float64
		if round%2 == 0 { // alternate who goes first
			f, s = timed(floor, false), timed(subject, true)
		} else {
			s, f = timed(subject, true), timed(floor, false)
		}
		b.StartTimer()
		floorNs, subjectNs, ratios = append(floorNs, f), append(subjectNs, s), append(ratios, s/f)
		round++
	}
	b.ReportMetric(Median(subjectNs), "ns/op")
	b.ReportMetric(Median(floorNs), "floor-ns/op")
	b.ReportMetric(Median(ratios), "x-floor")
	// The testing package's own counts would cover both sides: override them.
	b.ReportMetric(Median(allocs), "allocs/op")
	b.ReportMetric(Median(bytes), "B/op")
	return Median(subjectNs), Median(ratios)
}

// Median returns the median of v (0 for none).
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Repeat is a Contender that needs no per-operation inputs.
func Repeat(op func()) Contender {
	return Contender{
		Prepare: func(int) {},
		Run: func(n int) {
			for range n {
				op()
			}
		},
	}
}

// Discard is a ResponseWriter that costs nothing. It is not safe for
// concurrent use.
type Discard struct{ H http.Header }

// Header implements [http.ResponseWriter].
func (d *Discard) Header() http.Header { return d.H }

// Write implements [http.ResponseWriter].
func (d *Discard) Write(b []byte) (int, error) { return len(b), nil }

// WriteHeader implements [http.ResponseWriter].
func (d *Discard) WriteHeader(int) {}

// Served returns a Contender that sends the requests made by mk (before the
// timed part) through wrap around a handler that counts what it is given,
// and fails the benchmark unless every request got through: a rejection is
// cheaper than an acceptance and must never be what is measured.
func Served(b *testing.B, wrap func(http.Handler) http.Handler, mk func(n int) []*http.Request) Contender {
	var passed atomic.Int64
	h := wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { passed.Add(1) }))
	w := &Discard{H: http.Header{}}
	var reqs []*http.Request
	return Contender{
		Prepare: func(n int) { reqs = mk(n) },
		Run: func(n int) {
			passed.Store(0)
			for _, r := range reqs[:n] {
				for k := range w.H {
					delete(w.H, k)
				}
				h.ServeHTTP(w, r)
			}
			if got := passed.Load(); got != int64(n) {
				b.Fatalf("%d of %d requests rejected", int64(n)-got, n)
			}
		},
	}
}

// Same returns a request maker that repeats r (a token seen before).
func Same(r *http.Request) func(n int) []*http.Request {
	return func(n int) []*http.Request {
		reqs := make([]*http.Request, n)
		for i := range reqs {
			reqs[i] = r
		}
		return reqs
	}
}

// BearerRequest returns GET [Resource] with token as a Bearer token.
func BearerRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, Resource, nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// DPoPRequests returns a request maker of GET [Resource] requests with
// token and a fresh proof each.
func DPoPRequests(tb testing.TB, s *dpop.Signer, token string) func(n int) []*http.Request {
	return func(n int) []*http.Request {
		ps := Proofs(tb, s, Resource, token, n)
		reqs := make([]*http.Request, n)
		for i, p := range ps {
			r := httptest.NewRequest(http.MethodGet, Resource, nil)
			r.Header.Set("Authorization", "DPoP "+token)
			r.Header.Set("DPoP", p)
			reqs[i] = r
		}
		return reqs
	}
}

// Proofs makes n proofs for GET uri with token, on all CPUs.
func Proofs(tb testing.TB, s *dpop.Signer, uri, token string, n int) []string {
	tb.Helper()
	out := make([]string, n)
	workers := runtime.GOMAXPROCS(0)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				p, err := s.Proof(http.MethodGet, uri, token, "")
				if err != nil {
					errs[w] = err
					return
				}
				out[i] = p
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			tb.Fatalf("making proofs: %v", err)
		}
	}
	return out
}

// FloorVerify returns a function that checks the signature of a compact JWS
// made by pub with SHA-256 (RS256, ES256 or EdDSA) using the standard
// library alone, and nothing else: the cost that no verifier can avoid. It
// splits at the last dot and base64-decodes the signature, as any verifier
// must.
func FloorVerify(tb testing.TB, pub crypto.PublicKey) func(jws string) bool {
	tb.Helper()
	split := func(jws string) (input, sig []byte, ok bool) {
		i := strings.LastIndexByte(jws, '.')
		if i < 0 {
			return nil, nil, false
		}
		sig, err := base64.RawURLEncoding.DecodeString(jws[i+1:])
		if err != nil {
			return nil, nil, false
		}
		return []byte(jws[:i]), sig, true
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return func(jws string) bool {
			input, sig, ok := split(jws)
			if !ok {
				return false
			}
			d := sha256.Sum256(input)
			return rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) == nil
		}
	case *ecdsa.PublicKey:
		return func(jws string) bool {
			input, sig, ok := split(jws)
			if !ok || len(sig) != 64 {
				return false
			}
			d := sha256.Sum256(input)
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			return ecdsa.Verify(k, d[:], r, s)
		}
	case ed25519.PublicKey:
		return func(jws string) bool {
			input, sig, ok := split(jws)
			return ok && ed25519.Verify(k, input, sig)
		}
	}
	tb.Fatalf("FloorVerify: key type %T", pub)
	return nil
}

// MustVerify turns a floor check of jws into an operation that fails the
// benchmark on a bad signature.
func MustVerify(tb testing.TB, verify func(string) bool, jws string) func() {
	return func() {
		if !verify(jws) {
			tb.Fatal("floor: bad signature")
		}
	}
}
