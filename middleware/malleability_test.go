package middleware_test

import (
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// highS returns the other valid ES256 signature of a compact JWS: (r, n−s)
// for (r, s), or with n−s+1 when broken (a signature that does not verify).
func highS(t *testing.T, compact string, broken bool) string {
	t.Helper()
	i := strings.LastIndexByte(compact, '.')
	sig, err := base64.RawURLEncoding.Strict().DecodeString(compact[i+1:])
	require.NoError(t, err)
	require.Len(t, sig, 64)
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(elliptic.P256().Params().N, s)
	if broken {
		s.Add(s, big.NewInt(1))
	}
	twin := append([]byte(nil), sig...)
	s.FillBytes(twin[32:])
	return compact[:i+1] + base64.RawURLEncoding.EncodeToString(twin)
}

// TestHighSTwinsOfTokensAndProofs: an ES256 token or proof has a second valid
// signature (s and n−s). Both are accepted, and nothing relies on a token
// having one spelling: the token cache (keyed by the token string) verifies
// a twin on its own merits, ath binds a proof to the exact string it was
// made for, and a proof's twin is a replay.
func TestHighSTwinsOfTokensAndProofs(t *testing.T) {
	iss := newIssuer(t, oauthtest.WithAlgorithm("ES256"))
	g := newGuard(t, iss, middleware.WithPublicURL("https://api.example.com"))
	u, err := url.Parse(resource)
	require.NoError(t, err)
	bearerVerify := func(tok string) error {
		_, err := g.Verify(context.Background(), middleware.Request{Scheme: "Bearer", Token: tok, Method: "GET", URL: u})
		return err
	}

	t.Run("token twin verified on its own merits", func(t *testing.T) {
		tok := mint(t, iss, oauthtest.Token{})
		require.NoError(t, bearerVerify(tok))
		require.NoError(t, bearerVerify(tok), "from the cache")
		require.ErrorIs(t, bearerVerify(highS(t, tok, true)), middleware.ErrSignature,
			"a broken twin of a cached token is not served from the cache")
		require.NoError(t, bearerVerify(highS(t, tok, false)), "the valid twin verifies")
	})

	client := newSigner(t)
	tok := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint()})
	twin := highS(t, tok, false)
	t.Run("a proof for the token does not cover its twin (ath)", func(t *testing.T) {
		_, err := g.Check(dpopRequest(t, twin, proof(t, client, "GET", resource, tok, "")))
		require.ErrorIs(t, err, dpop.ErrAccessTokenHash)
		_, err = g.Check(dpopRequest(t, twin, proof(t, client, "GET", resource, twin, "")))
		require.NoError(t, err, "the key holder may send the twin with its own proof")
	})
	t.Run("a proof's twin is a replay", func(t *testing.T) {
		p := proof(t, client, "GET", resource, tok, "")
		require.Equal(t, http.StatusOK, serve(g, dpopRequest(t, tok, p)).status)
		_, err := g.Check(dpopRequest(t, tok, highS(t, p, false)))
		require.ErrorIs(t, err, dpop.ErrReplayed)
	})
}
