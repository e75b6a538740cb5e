package jwks_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/jwks/jwkstest"
)

// TestChurnWithFailingRefreshKeepsTheRateLimit: tenants churning through
// the resolver bound while their refreshes fail cause at most one fetch per
// tenant per window (the refresh interval is shorter than the window, so
// every re-held tenant's keys are due). Before the fix every re-held tenant whose keys were
// older than the refresh interval was fetched at once, outside its limiter
// and the global cap (60 fetches for 60 requests).
func TestChurnWithFailingRefreshKeepsTheRateLimit(t *testing.T) {
	tenants := []*jwkstest.Issuer{newIssuer(t), newIssuer(t), newIssuer(t)}
	byIssuer := map[string]*jwkstest.Issuer{}
	for _, iss := range tenants {
		byIssuer[iss.Issuer()] = iss
	}
	const refresh = time.Millisecond
	k := newKeys(t, newClock(), jwks.WithRefreshInterval(refresh),
		jwks.WithResolver(func(_ context.Context, issuer string) (string, error) {
			if iss, ok := byIssuer[issuer]; ok {
				return iss.JWKSURL(), nil
			}
			return "", errors.New("not a tenant")
		}, 2))
	for _, iss := range tenants {
		_, err := k.Key(t.Context(), iss.Issuer(), iss.CurrentKeyID(), "RS256")
		require.NoError(t, err)
	}
	for _, iss := range tenants {
		iss.SetFault(jwkstest.Fault{Down: true})
	}
	time.Sleep(2 * refresh) // every tenant's keys are now older than the interval
	for i := range 60 {
		iss := tenants[i%3]
		_, err := k.Key(t.Context(), iss.Issuer(), iss.CurrentKeyID(), "RS256")
		require.NoError(t, err, "the last good keys stay")
		// Give a re-held tenant's refresh goroutine the chance to run (the
		// assertion holds however the goroutines are scheduled).
		time.Sleep(time.Millisecond)
	}
	require.NoError(t, k.Close())
	total := 0
	for _, iss := range tenants {
		total += iss.JWKSFetches()
	}
	// 3 initial loads, then at most one refresh per tenant in the 1h window.
	assert.LessOrEqual(t, total, 6)
}
