package middleware_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// TestAlgorithmOutsideAllowListRefused: an RS256 token whose key the
// issuer really publishes (so the key source returns it) is refused when
// only ES256 is configured: the allow-list in the Guard is what refuses it.
func TestAlgorithmOutsideAllowListRefused(t *testing.T) {
	iss := newIssuer(t) // RS256 keys
	_, err := iss.AddKey("ES256")
	require.NoError(t, err)
	keys := newKeys(t, iss)
	tok := mint(t, iss, oauthtest.Token{})

	// The issuer's JWKS does give the RS256 key for this token.
	kid := iss.CurrentKeyID()
	pub, err := keys.Key(context.Background(), iss.Issuer(), kid, "RS256")
	require.NoError(t, err)
	require.NotNil(t, pub)

	open := newGuard(t, iss)
	_, err = open.Check(bearer(tok))
	require.NoError(t, err, "RS256 is accepted by default")

	g := newGuard(t, iss, middleware.WithAlgorithms("ES256"))
	_, err = g.Check(bearer(tok))
	requireInvalidToken(t, err, middleware.ErrAlgorithm)
	assert.Equal(t, http.StatusUnauthorized, serve(g, bearer(tok)).status)
}

// TestEd25519UnderBothNames: the name Ed25519 (RFC 9864) is accepted beside
// EdDSA for DPoP proofs and access tokens, advertised in challenges and in
// the RFC 9728 metadata, and never fits another key type.
func TestEd25519UnderBothNames(t *testing.T) {
	iss := newIssuer(t)
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	g := newGuard(t, iss, middleware.WithPublicURL("https://api.example.com"))

	t.Run("advertised", func(t *testing.T) {
		m := g.Metadata("https://api.example.com", []string{iss.Issuer()}, nil)
		assert.Contains(t, m.DPoPSigningAlgValuesSupported, "EdDSA")
		assert.Contains(t, m.DPoPSigningAlgValuesSupported, "Ed25519")
		a := serve(g, httptest.NewRequest(http.MethodGet, resource, nil))
		require.Equal(t, http.StatusUnauthorized, a.status)
		assert.Contains(t, strings.Join(a.challenge, "\n"), ` EdDSA Ed25519"`)
	})
	for _, alg := range []string{"EdDSA", "Ed25519"} {
		t.Run("proof labelled "+alg, func(t *testing.T) {
			s, err := dpop.NewSigner(edPriv, dpop.WithSignerAlgorithm(alg))
			require.NoError(t, err)
			tok := mint(t, iss, oauthtest.Token{JKT: s.Thumbprint()})
			got, err := g.Check(dpopRequest(t, tok, proof(t, s, "GET", resource, tok, "")))
			require.NoError(t, err)
			assert.Equal(t, middleware.MechanismDPoP, got.Binding.Mechanism)
			assert.Equal(t, http.StatusOK, serve(g, dpopRequest(t, tok, proof(t, s, "GET", resource, tok, ""))).status)
		})
	}

	// Tokens: a key source without jwks, whose key-fits-alg table is
	// maintained elsewhere; the Guard's own allow-list and signature check
	// are what is tested here.
	edIss := newIssuer(t, oauthtest.WithAlgorithm("Ed25519"))
	keys := newStaticKeys(edIss)
	u, err := url.Parse(resource)
	require.NoError(t, err)
	verify := func(g *middleware.Guard, tok string) error {
		_, err := g.Verify(context.Background(), middleware.Request{Scheme: "Bearer", Token: tok, Method: "GET", URL: u})
		return err
	}
	newEdGuard := func(opts ...middleware.Option) *middleware.Guard {
		g, err := middleware.New(keys, append([]middleware.Option{middleware.WithAudience(audience)}, opts...)...)
		require.NoError(t, err)
		return g
	}
	tok := mint(t, edIss, oauthtest.Token{})
	header, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	require.NoError(t, err)
	require.Contains(t, string(header), `"alg":"Ed25519"`)

	t.Run("token labelled Ed25519, default algorithms", func(t *testing.T) {
		require.NoError(t, verify(newEdGuard(), tok))
	})
	t.Run("token labelled Ed25519, only Ed25519 allowed", func(t *testing.T) {
		require.NoError(t, verify(newEdGuard(middleware.WithAlgorithms("Ed25519")), tok))
	})
	t.Run("token labelled Ed25519, only EdDSA allowed", func(t *testing.T) {
		require.ErrorIs(t, verify(newEdGuard(middleware.WithAlgorithms("EdDSA")), tok), middleware.ErrAlgorithm)
	})
	t.Run("token labelled Ed25519 with a P-256 key", func(t *testing.T) {
		ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		kid := edIss.CurrentKeyID()
		ecKeys := &staticKeys{issuer: edIss.Issuer(), keys: map[string]crypto.PublicKey{kid: &ec.PublicKey}}
		g, err := middleware.New(ecKeys, middleware.WithAudience(audience))
		require.NoError(t, err)
		err = verify(g, tok)
		require.Error(t, err)
		assert.NotErrorIs(t, err, middleware.ErrUnavailable)
		var e *middleware.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, middleware.CodeInvalidToken, e.Code)
	})
}
