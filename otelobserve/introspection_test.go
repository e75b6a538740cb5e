package otelobserve_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"

	"github.com/senderbound/senderbound/clientauth"
	"github.com/senderbound/senderbound/introspect"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
	"github.com/senderbound/senderbound/otelobserve"
)

// TestIntrospections: a real introspection client and Guard report calls,
// cache hits, failures and limits; spans hold no token.
func TestIntrospections(t *testing.T) {
	s := newSDK(t)
	iss, err := oauthtest.NewIssuer()
	require.NoError(t, err)
	defer iss.Close()
	require.NoError(t, iss.RegisterClient(oauthtest.Client{ID: "rs", Secret: "secret"}))
	c, err := introspect.New(context.Background(), iss.Issuer(),
		introspect.WithClientAuth(clientauth.ClientSecretBasic("rs", "secret")),
		introspect.WithObserver(s.obs), introspect.WithLimits(1, 3), introspect.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	defer c.Close()
	g, err := middleware.New(nil, middleware.WithAudience(audience), middleware.WithIntrospection(c),
		middleware.WithObserver(s.obs), middleware.WithTokenCache(0, 0))
	require.NoError(t, err)
	tok, err := iss.MintOpaque(oauthtest.Token{})
	require.NoError(t, err)
	verify := func(token string) {
		_, _ = g.Verify(context.Background(), middleware.Request{Scheme: "Bearer", Token: token})
	}
	verify(tok) // a call: active
	verify(tok) // the introspection cache
	iss.SetIntrospectionFault(oauthtest.Fault{Down: true})
	verify("unknown-1") // a call: failed
	iss.SetIntrospectionFault(oauthtest.Fault{})
	verify("unknown-2") // a call: inactive
	verify("unknown-3") // over 3 per second: limited

	m := s.collect(t)
	n := m["senderbound.introspections"]
	issuer := otelobserve.AttrIssuer.String(iss.Issuer())
	assert.Equal(t, int64(1), count(t, n, issuer, otelobserve.AttrIntrospectionOutcome.String("active"), otelobserve.AttrIntrospectionCacheHit.Bool(false)))
	assert.Equal(t, int64(1), count(t, n, issuer, otelobserve.AttrIntrospectionOutcome.String("active"), otelobserve.AttrIntrospectionCacheHit.Bool(true)))
	assert.Equal(t, int64(1), count(t, n, otelobserve.AttrIntrospectionOutcome.String("failed")))
	assert.Equal(t, int64(1), count(t, n, otelobserve.AttrIntrospectionOutcome.String("inactive")))
	assert.Equal(t, int64(1), count(t, n, otelobserve.AttrIntrospectionOutcome.String("limited")))
	assert.Equal(t, int64(1), count(t, m["senderbound.requests"], otelobserve.AttrReason.String("introspection_limited")))
	assert.Equal(t, int64(1), count(t, m["senderbound.requests"], otelobserve.AttrReason.String("inactive")))
	assert.Contains(t, m, "senderbound.introspection.duration")

	var spans, failed int
	for _, sp := range s.spans.Ended() {
		if sp.Name() != "senderbound.introspect" {
			continue
		}
		spans++
		for _, kv := range sp.Attributes() {
			assert.NotContains(t, kv.Value.Emit(), tok)
		}
		if sp.Status().Code == codes.Error {
			failed++
		}
	}
	assert.Equal(t, 4, spans, "one per answer that was not a cache hit")
	assert.Equal(t, 2, failed, "the 503 and the limit")
}
