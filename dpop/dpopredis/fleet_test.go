package dpopredis_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/dpop/dpopredis"
	"github.com/senderbound/senderbound/dpop/dpopredis/internal/testredis"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// fleet is three API instances behind one public URL, sharing a Redis
// replay store and a nonce secret, each with its own Guard, keys and
// Redis client, as separate processes would.
type fleet struct {
	urls  []string
	redis *testredis.Server
}

func newFleet(t *testing.T, iss *oauthtest.Issuer, withNonces bool) *fleet {
	t.Helper()
	f := &fleet{redis: testredis.Start(t)}
	secret := []byte(strings.Repeat("fleet-secret-", 3))
	for range 3 {
		client := redis.NewClient(&redis.Options{Addr: f.redis.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
		t.Cleanup(func() { _ = client.Close() })
		store, err := dpopredis.New(client, dpopredis.WithTimeout(5*time.Second))
		require.NoError(t, err)
		var nonces dpop.NonceSource
		if withNonces {
			n, err := dpop.NewHMACNonces([][]byte{secret})
			require.NoError(t, err)
			nonces = n
		}
		f.urls = append(f.urls, serveInstance(t, iss, store, nonces))
	}
	return f
}

// serveInstance starts one API instance: a Guard with its own keys and DPoP
// verifier on the given replay store (and nonces, when not nil), serving
// "ok" behind an httptest server. It returns the instance's URL.
func serveInstance(t *testing.T, iss *oauthtest.Issuer, store dpop.ReplayCache, nonces dpop.NonceSource) string {
	t.Helper()
	opts := []dpop.Option{dpop.WithReplayCache(store)}
	if nonces != nil {
		opts = append(opts, dpop.WithNonces(nonces))
	}
	v, err := dpop.NewVerifier(opts...)
	require.NoError(t, err)
	g := newGuard(t, iss, middleware.WithDPoP(v), middleware.WithPublicURL("https://api.example.com"))
	srv := httptest.NewServer(g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})))
	t.Cleanup(srv.Close)
	return srv.URL
}

// send sends a DPoP request to instance i (the proof names the public URL).
func (f *fleet) send(t testing.TB, i int, token, proof string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.urls[i]+"/r", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "DPoP "+token)
	req.Header.Set("DPoP", proof)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestFleetSharesReplayMemory(t *testing.T) {
	iss := newIssuer(t)
	f := newFleet(t, iss, false)
	client := newSigner(t)
	tok := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint()})

	t.Run("accepted by one, refused by the other two", func(t *testing.T) {
		p := proof(t, client, "GET", resource, tok, "")
		assert.Equal(t, http.StatusOK, f.send(t, 0, tok, p).StatusCode)
		for _, i := range []int{1, 2} {
			resp := f.send(t, i, tok, p)
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			assert.Contains(t, strings.Join(resp.Header.Values("WWW-Authenticate"), "\n"), `error="invalid_dpop_proof"`)
		}
	})
	t.Run("100 goroutines across three instances, exactly one 200", func(t *testing.T) {
		p := proof(t, client, "GET", resource, tok, "")
		var ok atomic.Int32
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				if f.send(t, i%3, tok, p).StatusCode == http.StatusOK {
					ok.Add(1)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int32(1), ok.Load())
	})
	t.Run("Redis stopped: fail closed with 503, then recover", func(t *testing.T) {
		f.redis.Stop()
		resp := f.send(t, 1, tok, proof(t, client, "GET", resource, tok, ""))
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		assert.NotEmpty(t, resp.Header.Get("Retry-After"))
		assert.Empty(t, resp.Header.Get("WWW-Authenticate"), "the answer does not blame the proof")

		f.redis.Restart()
		require.Eventually(t, func() bool {
			return f.send(t, 1, tok, proof(t, client, "GET", resource, tok, "")).StatusCode == http.StatusOK
		}, 10*time.Second, 50*time.Millisecond)
	})
	t.Run("keys expire at the end of the window", func(t *testing.T) {
		rc := f.redis.Client()
		keys, err := rc.Keys(context.Background(), dpopredis.DefaultKeyPrefix+"*").Result()
		require.NoError(t, err)
		require.NotEmpty(t, keys)
		for _, k := range keys {
			ttl, err := rc.PTTL(context.Background(), k).Result()
			require.NoError(t, err)
			assert.Greater(t, ttl, time.Duration(0), "every replay key has an expiry")
			assert.LessOrEqual(t, ttl, 2*time.Minute, "no longer than the proof's acceptance window")
		}
	})
}

// TestFleetNonces: a nonce one instance hands out is accepted by another.
func TestFleetNonces(t *testing.T) {
	iss := newIssuer(t)
	f := newFleet(t, iss, true)
	client := newSigner(t)
	tok := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint()})

	resp := f.send(t, 0, tok, proof(t, client, "GET", resource, tok, ""))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, strings.Join(resp.Header.Values("WWW-Authenticate"), "\n"), `error="use_dpop_nonce"`)
	nonce := resp.Header.Get("DPoP-Nonce")
	require.NotEmpty(t, nonce)

	for _, i := range []int{1, 2} {
		assert.Equal(t, http.StatusOK, f.send(t, i, tok, proof(t, client, "GET", resource, tok, nonce)).StatusCode)
	}
}

// BenchmarkDPoPReplayStore: one whole DPoP request (warm token, fresh
// proof) with the in-memory replay cache, with Redis on loopback, with a
// master that waits for its replica's acknowledgement (WithReplicaAck), and
// with a three-master Redis Cluster.
func BenchmarkDPoPReplayStore(b *testing.B) {
	iss := newIssuer(b, oauthtest.WithAlgorithm("ES256"))
	client := newSigner(b)
	tok := mint(b, iss, oauthtest.Token{JKT: client.Thumbprint()})
	srv := testredis.Start(b)
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	b.Cleanup(func() { _ = rc.Close() })
	store, err := dpopredis.New(rc)
	require.NoError(b, err)
	mem, err := dpop.NewMemoryReplayCache()
	require.NoError(b, err)
	primary := testredis.Start(b)
	testredis.StartReplica(b, primary)
	acked, err := dpopredis.New(primary.Client(), dpopredis.WithReplicaAck(1, 100*time.Millisecond))
	require.NoError(b, err)
	cluster, err := dpopredis.New(testredis.StartCluster(b, 3, 0).Client())
	require.NoError(b, err)
	for _, tc := range []struct {
		name  string
		store dpop.ReplayCache
	}{{"memory", mem}, {"redis", store}, {"redis-replica-ack", acked}, {"cluster", cluster}} {
		v, err := dpop.NewVerifier(dpop.WithReplayCache(tc.store))
		require.NoError(b, err)
		h := newGuard(b, iss, middleware.WithDPoP(v), middleware.WithPublicURL("https://api.example.com")).Handler(ok200)
		w := &discard{h: http.Header{}}
		b.Run(tc.name, func(b *testing.B) {
			reqs := make([]*http.Request, 0, b.N+1)
			for range b.N + 1 {
				reqs = append(reqs, dpopRequest(b, tok, proof(b, client, "GET", resource, tok, "")))
			}
			h.ServeHTTP(w, reqs[0])
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				h.ServeHTTP(w, reqs[i+1])
			}
		})
	}
}
