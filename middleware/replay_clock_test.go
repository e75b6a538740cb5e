package middleware_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// steppingClock is a wall clock that a test sets, safe for concurrent use.
type steppingClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *steppingClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestReplayRefusedThroughHandlerWhileTheClockSteps: a server that starts
// with its clock 10 minutes fast (or slow) and is then corrected still
// refuses a replayed proof through Guard.Handler.
func TestReplayRefusedThroughHandlerWhileTheClockSteps(t *testing.T) {
	iss := newIssuer(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jkt, err := dpop.Thumbprint(key.Public())
	require.NoError(t, err)
	tok := mint(t, iss, oauthtest.Token{JKT: jkt})

	for _, step := range []time.Duration{-10 * time.Minute, 10 * time.Minute} {
		t.Run("clock steps "+step.String()+" after start", func(t *testing.T) {
			now := time.Now()
			clock := &steppingClock{t: now.Add(-step)}
			v, err := dpop.NewVerifier(dpop.WithClock(clock.Now))
			require.NoError(t, err)
			g := newGuard(t, iss, middleware.WithDPoP(v), middleware.WithPublicURL("https://api.example.com"))
			clock.Add(step) // corrected: the clock now agrees with the client's

			p := proofAt(t, key, tok, "", now)
			require.Equal(t, http.StatusOK, serve(g, dpopRequest(t, tok, p)).status)
			for range 3 {
				a := serve(g, dpopRequest(t, tok, p))
				assert.Equal(t, http.StatusUnauthorized, a.status, "the replay is refused")
				clock.Add(20 * time.Second)
			}
		})
	}
}
