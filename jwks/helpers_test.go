package jwks_test

import (
	"context"
	"crypto"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/oauthtest"
)

func TestMain(m *testing.M) {
	// Keys log to slog.Default unless told otherwise; keep test output readable.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	goleak.VerifyTestMain(m)
}

// clock is a settable clock for the refresh rate limiter.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_700_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newIssuer(t testing.TB, opts ...oauthtest.Option) *oauthtest.Issuer {
	t.Helper()
	iss, err := oauthtest.NewIssuer(opts...)
	require.NoError(t, err)
	t.Cleanup(iss.Close)
	return iss
}

// newKeys builds Keys whose background refresh never fires during a test
// and whose status times come from clk, unless opts say otherwise.
func newKeys(t testing.TB, clk *clock, opts ...jwks.Option) *jwks.Keys {
	t.Helper()
	base := []jwks.Option{
		jwks.WithClock(clk.Now),
		jwks.WithRefreshInterval(time.Hour),
		jwks.WithRefreshRateLimit(time.Hour),
		jwks.WithRateLimitWait(20 * time.Millisecond),
		jwks.WithHTTPTimeout(2 * time.Second),
	}
	k, err := jwks.New(context.Background(), append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, k.Close()) })
	return k
}

// jwksServer serves a JWKS body that tests can change.
type jwksServer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	body    []byte
	fetches atomic.Int64
}

func newJWKSServer(t testing.TB, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{body: body}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		b := s.body
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *jwksServer) set(body []byte) {
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

func (s *jwksServer) URL() string { return s.srv.URL + "/jwks.json" }

// jwksJSON marshals public keys with the given kid, alg and use.
type jwkSpec struct {
	kid, alg, use string
	pub           crypto.PublicKey
}

func jwksJSON(t testing.TB, specs ...jwkSpec) []byte {
	t.Helper()
	set := jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{}}
	for _, s := range specs {
		j, err := jwkset.NewJWKFromKey(s.pub, jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{KID: s.kid, ALG: jwkset.ALG(s.alg), USE: jwkset.USE(s.use)},
		})
		require.NoError(t, err)
		set.Keys = append(set.Keys, j.Marshal())
	}
	b, err := json.Marshal(set)
	require.NoError(t, err)
	return b
}

// loopGoroutines counts the background refresh goroutines of this package.
func loopGoroutines() int {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), "jwks.(*Keys).loop")
}
