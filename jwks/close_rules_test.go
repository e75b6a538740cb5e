package jwks_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/jwks"
)

// TestCloseEndsResolving: after Close no issuer is resolved (the resolver
// is not called) or held, Status lists only the issuers held before, and a
// tenant evicted before Close does not come back with its old keys; the
// keys of the issuers still held keep answering.
func TestCloseEndsResolving(t *testing.T) {
	srv := newJWKSServer(t, jwksJSON(t, jwkSpec{kid: "a", alg: "RS256", pub: testRSA(t)}))
	var calls atomic.Int64
	k := newKeys(t, newClock(), jwks.WithResolver(func(context.Context, string) (string, error) {
		calls.Add(1)
		return srv.URL(), nil
	}, 1))
	const evicted, kept, fresh = "https://evicted.example/", "https://kept.example/", "https://fresh.example/"
	for _, iss := range []string{evicted, kept} { // a bound of 1: kept evicts evicted
		_, err := k.Key(t.Context(), iss, "a", "RS256")
		require.NoError(t, err)
	}
	require.NoError(t, k.Close())
	before := calls.Load()

	for _, iss := range []string{evicted, fresh} {
		key, err := k.Key(t.Context(), iss, "a", "RS256")
		require.ErrorIs(t, err, jwks.ErrUnavailable, iss)
		assert.Nil(t, key, iss)
	}
	assert.Equal(t, before, calls.Load(), "no issuer resolved after Close")
	st := k.Status()
	require.Len(t, st, 1)
	assert.Equal(t, kept, st[0].Issuer)
	_, err := k.Key(t.Context(), kept, "a", "RS256")
	require.NoError(t, err, "held keys keep answering")
	assert.EqualValues(t, 2, srv.fetches.Load())
}
