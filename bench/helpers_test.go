package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// newIssuer starts a fake issuer that is closed when the test ends.
func newIssuer(tb testing.TB, opts ...oauthtest.Option) *oauthtest.Issuer {
	tb.Helper()
	iss, err := oauthtest.NewIssuer(opts...)
	require.NoError(tb, err)
	tb.Cleanup(iss.Close)
	return iss
}

// newGuard returns a Guard that trusts iss, for the issuer's default
// audience, with its keys fetched once before it returns.
func newGuard(tb testing.TB, iss *oauthtest.Issuer, opts ...middleware.Option) *middleware.Guard {
	tb.Helper()
	keys, err := jwks.New(context.Background(), jwks.WithIssuerJWKS(iss.Issuer(), iss.JWKSURL()))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = keys.Close() })
	g, err := middleware.New(keys, append([]middleware.Option{middleware.WithAudience(oauthtest.DefaultAudience)}, opts...)...)
	require.NoError(tb, err)
	return g
}

func mint(tb testing.TB, iss *oauthtest.Issuer, tok oauthtest.Token) string {
	tb.Helper()
	s, err := iss.Mint(tok)
	require.NoError(tb, err)
	return s
}

// newSigner returns a DPoP proof signer with a fresh P-256 key.
func newSigner(tb testing.TB, opts ...dpop.SignerOption) (*dpop.Signer, *ecdsa.PublicKey) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	s, err := dpop.NewSigner(key, opts...)
	require.NoError(tb, err)
	return s, &key.PublicKey
}
