package dpopredis_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// The fleet tests run API instances (middleware Guards) against the shared
// Redis replay cache; these helpers build them.

const (
	audience = "https://api.example.com"
	resource = "https://api.example.com/r"
)

var ok200 = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

// newIssuer starts a test issuer that is closed when the test ends.
func newIssuer(t testing.TB, opts ...oauthtest.Option) *oauthtest.Issuer {
	t.Helper()
	iss, err := oauthtest.NewIssuer(opts...)
	require.NoError(t, err)
	t.Cleanup(iss.Close)
	return iss
}

// newGuard returns a Guard trusting iss, for the test audience.
func newGuard(t testing.TB, iss *oauthtest.Issuer, opts ...middleware.Option) *middleware.Guard {
	t.Helper()
	keys, err := jwks.New(context.Background(), jwks.WithIssuerJWKS(iss.Issuer(), iss.JWKSURL()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = keys.Close() })
	g, err := middleware.New(keys, append([]middleware.Option{middleware.WithAudience(audience)}, opts...)...)
	require.NoError(t, err)
	return g
}

func mint(t testing.TB, iss *oauthtest.Issuer, tok oauthtest.Token) string {
	t.Helper()
	s, err := iss.Mint(tok)
	require.NoError(t, err)
	return s
}

func newSigner(t testing.TB) *dpop.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	s, err := dpop.NewSigner(key)
	require.NoError(t, err)
	return s
}

func proof(t testing.TB, s *dpop.Signer, method, uri, token, nonce string) string {
	t.Helper()
	p, err := s.Proof(method, uri, token, nonce)
	require.NoError(t, err)
	return p
}

// discard is a ResponseWriter that costs nothing, so that benchmarks
// measure the middleware and the store, not a recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// dpopRequest is a request to resource with a DPoP token and proof.
func dpopRequest(t testing.TB, token, proof string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, resource, nil)
	r.Header.Set("Authorization", "DPoP "+token)
	if proof != "" {
		r.Header.Set("DPoP", proof)
	}
	return r
}
