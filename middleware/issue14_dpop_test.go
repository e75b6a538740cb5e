package middleware_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// steppingClock is a wall clock that a test sets, safe for concurrent use.
type steppingClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *steppingClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestIssue14Item1ClockStepsThroughHandler: a server that starts with its
// clock 10 minutes fast (or slow) and is then corrected still refuses a
// replayed proof through Guard.Handler.
func TestIssue14Item1ClockStepsThroughHandler(t *testing.T) {
	iss := newIssuer(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jkt, err := dpop.Thumbprint(key.Public())
	require.NoError(t, err)
	tok := mint(t, iss, oauthtest.Token{JKT: jkt})

	for _, step := range []time.Duration{-10 * time.Minute, 10 * time.Minute} {
		t.Run("clock steps "+step.String()+" after start", func(t *testing.T) {
			now := time.Now()
			clock := &steppingClock{t: now.Add(-step)}
			v, err := dpop.NewVerifier(dpop.WithClock(clock.Now))
			require.NoError(t, err)
			g := newGuard(t, iss, middleware.WithDPoP(v), middleware.WithPublicURL("https://api.example.com"))
			clock.Add(step) // corrected: the clock now agrees with the client's

			p := proofAt(t, key, tok, "", now)
			require.Equal(t, http.StatusOK, serve(g, dpopRequest(t, tok, p)).status)
			for range 3 {
				a := serve(g, dpopRequest(t, tok, p))
				assert.Equal(t, http.StatusUnauthorized, a.status, "the replay is refused")
				clock.Add(20 * time.Second)
			}
		})
	}
}

// TestIssue14Item12Ed25519: the name Ed25519 (RFC 9864) is accepted beside
// EdDSA for DPoP proofs and access tokens, advertised in challenges and in
// the RFC 9728 metadata, and never fits another key type.
func TestIssue14Item12Ed25519(t *testing.T) {
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

// TestIssue14Item7HighSTwins: an ES256 token or proof has a second valid
// signature (s and n−s). Both are accepted, and nothing relies on a token
// having one spelling: the token cache (keyed by the token string) verifies
// a twin on its own merits, ath binds a proof to the exact string it was
// made for, and a proof's twin is a replay.
func TestIssue14Item7HighSTwins(t *testing.T) {
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

// TestIssue14Item14HTUPrefix: a proof whose htu is a prefix of the request
// URL is refused through the Guard.
func TestIssue14Item14HTUPrefix(t *testing.T) {
	iss := newIssuer(t)
	client := newSigner(t)
	g := newGuard(t, iss, middleware.WithPublicURL("https://api.example.com"))
	tok := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint()})
	for _, htu := range []string{"https://api.example.com/", "https://api.example.com/r", "https://api.example.com/resourc"} {
		r := httptest.NewRequest(http.MethodGet, "https://api.example.com/resource", nil)
		r.Header.Set("Authorization", "DPoP "+tok)
		r.Header.Set("DPoP", proof(t, client, "GET", htu, tok, ""))
		_, err := g.Check(r)
		require.ErrorIs(t, err, dpop.ErrURL, htu)
		assert.Equal(t, http.StatusUnauthorized, serve(g, r).status)
	}
	r := httptest.NewRequest(http.MethodGet, "https://api.example.com/resource", nil)
	r.Header.Set("Authorization", "DPoP "+tok)
	r.Header.Set("DPoP", proof(t, client, "GET", "https://api.example.com/resource", tok, ""))
	assert.Equal(t, http.StatusOK, serve(g, r).status, "the exact URL passes")
}
