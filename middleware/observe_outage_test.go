package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
	"github.com/senderbound/senderbound/observe"
)

// TestResolverOutageReportsNoForgedIssuer: while the issuer resolver cannot
// decide (its tenant store is down, so it answers an error wrapping
// jwks.ErrUnavailable), requests fail closed with 503 and their events
// carry the fixed observe.UnresolvedIssuer, never the iss a client wrote:
// otherwise an outage would let forged issuers (one holding an ANSI
// escape here) into metric series and span attributes. A configured
// issuer whose keys are down is still reported by name.
func TestResolverOutageReportsNoForgedIssuer(t *testing.T) {
	iss := newIssuer(t)
	iss.SetFault(oauthtest.Fault{Down: true})
	errStoreDown := fmt.Errorf("tenant store: %w", jwks.ErrUnavailable)
	keys, err := jwks.New(context.Background(),
		jwks.WithIssuerJWKS(iss.Issuer(), iss.JWKSURL()),
		jwks.WithRefreshRateLimit(time.Hour), jwks.WithRateLimitWait(time.Millisecond),
		jwks.WithResolver(func(context.Context, string) (string, error) { return "", errStoreDown }, 10))
	require.NoError(t, err)
	t.Cleanup(func() { _ = keys.Close() })
	rec := &recorder{}
	g, err := middleware.New(keys, middleware.WithAudience(audience), middleware.WithObserver(rec.observer()))
	require.NoError(t, err)

	for i := range 40 {
		forged := fmt.Sprintf("https://forged-%d.example/", i)
		if i == 0 {
			forged = "https://forged.example/\x1b[31m"
		}
		tok := mint(t, iss, oauthtest.Token{Claims: map[string]any{"iss": forged}})
		require.Equal(t, http.StatusServiceUnavailable, serve(g, bearer(tok)).status)
		got := rec.take()
		require.Len(t, got, 1)
		assert.Equal(t, observe.Unavailable, got[0].Outcome)
		assert.True(t, errors.Is(got[0].Reason, jwks.ErrUnavailable))
		assert.Equal(t, observe.UnresolvedIssuer, got[0].Issuer, "never what the client wrote")
	}

	require.Equal(t, http.StatusServiceUnavailable, serve(g, bearer(mint(t, iss, oauthtest.Token{}))).status)
	got := rec.take()
	require.Len(t, got, 1)
	assert.Equal(t, iss.Issuer(), got[0].Issuer, "a configured issuer is known to be trusted")
}
