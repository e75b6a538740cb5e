package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// TestConfiguredIssuerWithoutKeysIs503: a token naming a configured issuer
// whose keys cannot be had, for a reason that retrying will not fix
// either, is refused with 503 and Retry-After, without a challenge that
// blames the client; that includes the issuer configured without the
// trailing slash its metadata and tokens have. An issuer that is not
// configured stays a 401.
func TestConfiguredIssuerWithoutKeysIs503(t *testing.T) {
	iss := newIssuer(t)
	notFound := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notFound.Close)
	stranger := newIssuer(t)

	tests := []struct {
		name string
		opt  jwks.Option
	}{
		{"JWKS URL answers 404", jwks.WithIssuerJWKS(iss.Issuer(), notFound.URL+"/jwks")},
		{"configured without the trailing slash", jwks.WithIssuer(strings.TrimSuffix(iss.Issuer(), "/"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := jwks.New(t.Context(), tt.opt, jwks.WithRefreshRateLimit(time.Hour))
			require.NoError(t, err)
			t.Cleanup(func() { _ = keys.Close() })
			ready, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			require.ErrorIs(t, keys.Ready(ready), jwks.ErrPermanent)
			g, err := middleware.New(keys, middleware.WithAudience(audience))
			require.NoError(t, err)

			w := httptest.NewRecorder()
			g.Handler(http.NotFoundHandler()).ServeHTTP(w, bearer(mint(t, iss, oauthtest.Token{})))
			assert.Equal(t, http.StatusServiceUnavailable, w.Code)
			assert.Equal(t, "5", w.Header().Get("Retry-After"))
			assert.Empty(t, w.Header().Values("WWW-Authenticate"), "no challenge: the client did nothing wrong")
			_, err = g.Check(bearer(mint(t, iss, oauthtest.Token{})))
			require.ErrorIs(t, err, middleware.ErrUnavailable)
			assert.NotErrorIs(t, err, middleware.ErrIssuer)

			a := serve(g, bearer(mint(t, stranger, oauthtest.Token{})))
			assert.Equal(t, http.StatusUnauthorized, a.status, "an issuer nobody configured")
			require.NotEmpty(t, a.challenge)
			assert.Contains(t, a.challenge[0], `error="invalid_token"`)
		})
	}
}
