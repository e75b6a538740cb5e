package dpopredis_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/dpop/dpopredis"
	"github.com/senderbound/senderbound/dpop/dpopredis/internal/testredis"
	"github.com/senderbound/senderbound/oauthtest"
)

// clusterTimeout bounds each Redis call of the cluster fleets: long enough
// for a loaded CI machine, short enough that a request to a dead master
// answers 503 quickly.
const clusterTimeout = 3 * time.Second

// recovery bounds the wait for a restarted master or a promoted replica to
// serve again: a few cluster node timeouts, generously.
const recovery = 60 * time.Second

// newClusterFleet returns three API instances, each with its own
// ClusterClient on c.
func newClusterFleet(t *testing.T, iss *oauthtest.Issuer, c *testredis.Cluster, opts ...dpopredis.Option) *fleet {
	t.Helper()
	f := &fleet{}
	for range 3 {
		store, err := dpopredis.New(c.NewClient(), append([]dpopredis.Option{dpopredis.WithTimeout(clusterTimeout)}, opts...)...)
		require.NoError(t, err)
		f.urls = append(f.urls, serveInstance(t, iss, store, nil))
	}
	return f
}

// proofKey returns the Redis key under which the verifier records p, a
// proof signed by s.
func proofKey(t testing.TB, s *dpop.Signer, p string) string {
	t.Helper()
	parts := strings.Split(p, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims struct {
		JTI string `json:"jti"`
	}
	require.NoError(t, json.Unmarshal(payload, &claims))
	return redisKey(dpopredis.DefaultKeyPrefix, dpop.NewReplayKey(s.Thumbprint(), claims.JTI))
}

// proofOn returns a fresh proof whose replay key lives on master m (when
// onM) or on another master (when !onM).
func proofOn(t *testing.T, c *testredis.Cluster, m *testredis.Server, onM bool, s *dpop.Signer, tok string) string {
	t.Helper()
	for range 200 {
		p := proof(t, s, "GET", resource, tok, "")
		if (c.MasterFor(proofKey(t, s, p)) == m) == onM {
			return p
		}
	}
	t.Fatal("no proof found for the wanted master in 200 tries")
	return ""
}

// TestCluster runs a fleet of three Guards on a three-master Redis Cluster
// through go-redis's ClusterClient, then kills one master mid-run.
func TestCluster(t *testing.T) {
	iss := newIssuer(t)
	c := testredis.StartCluster(t, 3, 0)
	f := newClusterFleet(t, iss, c)
	client := newSigner(t)
	tok := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint()})
	ctx := context.Background()

	t.Run("one proof sent 100 times at once across three instances: exactly one 200", func(t *testing.T) {
		p := proof(t, client, "GET", resource, tok, "")
		var ok, replayed atomic.Int32
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				switch f.send(t, i%3, tok, p).StatusCode {
				case http.StatusOK:
					ok.Add(1)
				case http.StatusUnauthorized:
					replayed.Add(1)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int32(1), ok.Load())
		assert.Equal(t, int32(99), replayed.Load())
	})

	t.Run("replay keys spread over every master", func(t *testing.T) {
		for i := range 30 {
			require.Equal(t, http.StatusOK, f.send(t, i%3, tok, proof(t, client, "GET", resource, tok, "")).StatusCode)
		}
		for _, n := range c.Nodes() {
			size, err := n.Client().DBSize(ctx).Result()
			require.NoError(t, err)
			assert.Positive(t, size, "master %s holds no key", n.Addr())
		}
	})

	t.Run("a master killed mid-run: 503 for its keys, never 200 for a replay", func(t *testing.T) {
		victim := c.MasterFor(proofKey(t, client, proof(t, client, "GET", resource, tok, "")))
		onVictim := proofOn(t, c, victim, true, client, tok)
		elsewhere := proofOn(t, c, victim, false, client, tok)
		require.Equal(t, http.StatusOK, f.send(t, 0, tok, onVictim).StatusCode)
		require.Equal(t, http.StatusOK, f.send(t, 1, tok, elsewhere).StatusCode)

		// Load across the fleet while the master dies: every proof is sent
		// twice, to two instances; it may be accepted at most once.
		stop := make(chan struct{})
		var (
			wg                 sync.WaitGroup
			sent, twice, fails atomic.Int32
		)
		for w := range 3 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					p := proof(t, client, "GET", resource, tok, "")
					a := f.send(t, (w+i)%3, tok, p).StatusCode
					b := f.send(t, (w+i+1)%3, tok, p).StatusCode
					sent.Add(1)
					if a == http.StatusOK && b == http.StatusOK {
						twice.Add(1)
					}
					if a == http.StatusServiceUnavailable {
						fails.Add(1)
					}
				}
			})
		}
		victim.Kill()

		resp := f.send(t, 2, tok, onVictim)
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "a replay whose key was on the dead master")
		resp = f.send(t, 0, tok, proofOn(t, c, victim, true, client, tok))
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "a fresh proof whose key belongs on the dead master")
		assert.NotEmpty(t, resp.Header.Get("Retry-After"))
		assert.Empty(t, resp.Header.Get("WWW-Authenticate"), "the answer does not blame the proof")
		assert.Equal(t, http.StatusUnauthorized, f.send(t, 2, tok, elsewhere).StatusCode, "a replay on a live master is still refused")
		assert.Equal(t, http.StatusOK, f.send(t, 1, tok, proofOn(t, c, victim, false, client, tok)).StatusCode, "live masters keep serving their slots")

		close(stop)
		wg.Wait()
		t.Logf("load during the kill: %d proofs sent twice, %d first sends answered 503", sent.Load(), fails.Load())
		assert.Zero(t, twice.Load(), "a proof was accepted twice")

		victim.Restart()
		c.WaitHealthy()
		require.Eventually(t, func() bool {
			return f.send(t, 1, tok, proofOn(t, c, victim, true, client, tok)).StatusCode == http.StatusOK
		}, recovery, 50*time.Millisecond, "the restarted master serves again")
		p := proofOn(t, c, victim, true, client, tok)
		assert.Equal(t, http.StatusOK, f.send(t, 0, tok, p).StatusCode)
		assert.Equal(t, http.StatusUnauthorized, f.send(t, 2, tok, p).StatusCode, "replays are refused again")

		// The documented limit (doc.go, "Failover and restarts"): the master
		// came back empty, without persistence and without a replica, so the
		// proofs it had recorded are forgotten until their window ends.
		assert.Equal(t, http.StatusOK, f.send(t, 1, tok, onVictim).StatusCode,
			"a master restarted empty forgets its entries; if this changes, update the docs")
	})
}
