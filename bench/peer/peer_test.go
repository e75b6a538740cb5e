package peer

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	auth0jwks "github.com/auth0/go-jwt-middleware/v2/jwks"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/bench/internal/benchkit"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

func newIssuer(tb testing.TB, alg string) *oauthtest.Issuer {
	tb.Helper()
	iss, err := oauthtest.NewIssuer(oauthtest.WithAlgorithm(alg))
	require.NoError(tb, err)
	tb.Cleanup(iss.Close)
	return iss
}

// ours returns senderbound's Guard for iss with the given token cache.
func ours(tb testing.TB, iss *oauthtest.Issuer, cache middleware.Option) func(http.Handler) http.Handler {
	tb.Helper()
	keys, err := jwks.New(context.Background(), jwks.WithIssuerJWKS(iss.Issuer(), iss.JWKSURL()))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = keys.Close() })
	g, err := middleware.New(keys, middleware.WithAudience(oauthtest.DefaultAudience), cache)
	require.NoError(tb, err)
	return g.Handler
}

// auth0 returns the peer's middleware for iss, set up as its README
// advises: a caching JWKS provider and a validator for one algorithm.
func auth0(tb testing.TB, iss *oauthtest.Issuer, alg string) func(http.Handler) http.Handler {
	tb.Helper()
	issuerURL, err := url.Parse(iss.Issuer())
	require.NoError(tb, err)
	jwksURL, err := url.Parse(iss.JWKSURL())
	require.NoError(tb, err)
	provider := auth0jwks.NewCachingProvider(issuerURL, 5*time.Minute, auth0jwks.WithCustomJWKSURI(jwksURL))
	v, err := validator.New(provider.KeyFunc, validator.SignatureAlgorithm(alg), iss.Issuer(),
		[]string{oauthtest.DefaultAudience}, validator.WithAllowedClockSkew(30*time.Second))
	require.NoError(tb, err)
	return jwtmiddleware.New(v.ValidateToken).CheckJWT
}

// BenchmarkPeer measures one Bearer request through the peer and through
// senderbound (token cache off, "cold", and on, "warm"), each interleaved
// with the floor (one bare verification), and the peer against senderbound
// warm directly. The peer has no verified-token cache: every request
// verifies the signature. Read x-floor; for auth0-vs-warm, x-floor is
// senderbound warm over the peer (its inverse is the speed-up).
func BenchmarkPeer(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		iss := newIssuer(b, alg)
		tok, err := iss.Mint(oauthtest.Token{Scope: "read:messages", Permissions: []string{"read:messages"}})
		require.NoError(b, err)
		req := benchkit.Same(benchkit.BearerRequest(tok))
		floor := benchkit.Repeat(benchkit.MustVerify(b, benchkit.FloorVerify(b, iss.PublicKey(iss.CurrentKeyID())), tok))
		peer := benchkit.Served(b, auth0(b, iss, alg), req)
		cold := benchkit.Served(b, ours(b, iss, middleware.WithTokenCache(0, 0)), req)
		warm := benchkit.Served(b, ours(b, iss, middleware.WithTokenCache(10_000, 5*time.Minute)), req)
		b.Run("Bearer-"+alg+"/auth0-v2", func(b *testing.B) { benchkit.Compare(b, floor, peer) })
		b.Run("Bearer-"+alg+"/senderbound-cold", func(b *testing.B) { benchkit.Compare(b, floor, cold) })
		b.Run("Bearer-"+alg+"/senderbound-warm", func(b *testing.B) { benchkit.Compare(b, floor, warm) })
		b.Run("Bearer-"+alg+"/senderbound-cold-vs-auth0", func(b *testing.B) { benchkit.Compare(b, peer, cold) })
		b.Run("Bearer-"+alg+"/senderbound-warm-vs-auth0", func(b *testing.B) { benchkit.Compare(b, peer, warm) })
	}
}

// TestPeerAccepts checks that both middlewares accept the benchmark's
// token and reject a token from another issuer, so that neither is
// measured answering 401.
func TestPeerAccepts(t *testing.T) {
	iss := newIssuer(t, "RS256")
	other := newIssuer(t, "RS256")
	good, err := iss.Mint(oauthtest.Token{})
	require.NoError(t, err)
	forged, err := other.Mint(oauthtest.Token{Header: map[string]any{"kid": iss.CurrentKeyID()}})
	require.NoError(t, err)
	for name, wrap := range map[string]func(http.Handler) http.Handler{
		"auth0":       auth0(t, iss, "RS256"),
		"senderbound": ours(t, iss, middleware.WithTokenCache(0, 0)),
	} {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				tok  string
				want bool
			}{{good, true}, {forged, false}} {
				passed := false
				h := wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { passed = true }))
				h.ServeHTTP(&benchkit.Discard{H: http.Header{}}, benchkit.BearerRequest(tc.tok))
				require.Equal(t, tc.want, passed)
			}
		})
	}
}
