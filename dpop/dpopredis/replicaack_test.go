package dpopredis_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/dpop/dpopredis"
	"github.com/senderbound/senderbound/dpop/dpopredis/internal/testredis"
	"github.com/senderbound/senderbound/oauthtest"
)

// TestReplicaAck runs Record with and without WithReplicaAck on a real
// master and replica (standalone replication).
func TestReplicaAck(t *testing.T) {
	primary := testredis.Start(t)
	replica := testredis.StartReplica(t, primary)
	ctx := context.Background()
	until := time.Now().Add(time.Minute)

	cache := func(t *testing.T, opts ...dpopredis.Option) *dpopredis.ReplayCache {
		c, err := dpopredis.New(newClient(t, primary.Addr()), append([]dpopredis.Option{dpopredis.WithTimeout(testTimeout)}, opts...)...)
		require.NoError(t, err)
		return c
	}

	t.Run("acknowledged: the replica has the key when Record returns", func(t *testing.T) {
		c := cache(t, dpopredis.WithReplicaAck(1, 5*time.Second))
		key := dpop.NewReplayKey("thumbprint", "acked")
		seen, err := c.Record(ctx, key, until)
		require.NoError(t, err)
		assert.False(t, seen)
		v, err := replica.Client().Get(ctx, redisKey(dpopredis.DefaultKeyPrefix, key)).Result()
		require.NoError(t, err)
		assert.Equal(t, "1", v)

		seen, err = c.Record(ctx, key, until)
		require.NoError(t, err)
		assert.True(t, seen, "a replay is a replay")
	})

	t.Run("more replicas asked than there are: fail closed", func(t *testing.T) {
		c := cache(t, dpopredis.WithReplicaAck(2, 100*time.Millisecond))
		key := dpop.NewReplayKey("thumbprint", "two replicas")
		seen, err := c.Record(ctx, key, until)
		require.ErrorIs(t, err, dpop.ErrReplayCacheUnavailable)
		assert.NotContains(t, err.Error(), "thumbprint")
		assert.False(t, seen)

		seen, err = c.Record(ctx, key, until)
		require.NoError(t, err, "the master kept the key")
		assert.True(t, seen, "so the proof stays refused after the 503")
	})

	replica.Stop()
	tests := []struct {
		name    string
		opts    []dpopredis.Option
		wantErr bool
	}{
		{"replica stopped, WithReplicaAck: fail closed", []dpopredis.Option{dpopredis.WithReplicaAck(1, 100*time.Millisecond)}, true},
		{"replica stopped, without WithReplicaAck: the master alone answers", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen, err := cache(t, tt.opts...).Record(ctx, dpop.NewReplayKey("thumbprint", tt.name), until)
			if tt.wantErr {
				require.ErrorIs(t, err, dpop.ErrReplayCacheUnavailable)
			} else {
				require.NoError(t, err)
			}
			assert.False(t, seen)
		})
	}

	t.Run("through the middleware: 503 while the replica is down, 200 once it is back", func(t *testing.T) {
		iss := newIssuer(t)
		url := serveInstance(t, iss, cache(t, dpopredis.WithReplicaAck(1, 200*time.Millisecond)), nil)
		f := &fleet{urls: []string{url}}
		client := newSigner(t)
		tok := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint()})

		resp := f.send(t, 0, tok, proof(t, client, "GET", resource, tok, ""))
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		assert.NotEmpty(t, resp.Header.Get("Retry-After"))

		replica.Restart()
		require.Eventually(t, func() bool {
			return f.send(t, 0, tok, proof(t, client, "GET", resource, tok, "")).StatusCode == http.StatusOK
		}, recovery, 50*time.Millisecond)
	})
}

// TestClusterFailoverReplicaAck: with WithReplicaAck, a proof accepted
// before its master is killed stays refused after a replica took over;
// without a replica to acknowledge, the new master's keys fail closed until
// the old master rejoins as its replica.
func TestClusterFailoverReplicaAck(t *testing.T) {
	iss := newIssuer(t)
	c := testredis.StartCluster(t, 3, 1)
	f := newClusterFleet(t, iss, c, dpopredis.WithReplicaAck(1, 2*time.Second))
	client := newSigner(t)
	tok := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint()})

	accepted := proof(t, client, "GET", resource, tok, "")
	key := proofKey(t, client, accepted)
	victim := c.MasterFor(key)
	require.Equal(t, http.StatusOK, f.send(t, 0, tok, accepted).StatusCode)

	victim.Kill()
	c.WaitHealthy()
	promoted := c.MasterFor(key)
	require.NotEqual(t, victim, promoted, "a replica took over")
	assert.Equal(t, http.StatusUnauthorized, f.send(t, 1, tok, accepted).StatusCode,
		"the promoted replica remembers the proof: its master waited for its acknowledgement")
	resp := f.send(t, 2, tok, proofOn(t, c, promoted, true, client, tok))
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "no replica left to acknowledge: fail closed")

	victim.Restart() // rejoins as the promoted master's replica
	require.Eventually(t, func() bool {
		// Whatever happens meanwhile, the accepted proof is never accepted again.
		assert.NotEqual(t, http.StatusOK, f.send(t, 0, tok, accepted).StatusCode)
		return f.send(t, 1, tok, proofOn(t, c, promoted, true, client, tok)).StatusCode == http.StatusOK
	}, recovery, 50*time.Millisecond)
	assert.Equal(t, http.StatusUnauthorized, f.send(t, 2, tok, accepted).StatusCode)
}
