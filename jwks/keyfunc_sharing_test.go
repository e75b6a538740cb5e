package jwks_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/oauthtest"
)

// wrappedStorage is an application's own storage around another one (a
// cache, a metrics wrapper): sharing the storage inside is sharing too.
type wrappedStorage struct {
	jwkset.Storage
}

// TestKeyfuncSourceRefusesSharedKeySets: no KeyfuncSource is built in which
// one issuer's key set can hold another's keys. A keyfunc over several JWKS
// URLs (keyfunc's own multi-URL pattern) merges their sets, whether it is
// given for several issuers or for one; two keyfuncs over one jwkset HTTP
// client storage (which is not a comparable value: it holds a map), or over
// one storage wrapped by the application, share it. Each of these would let
// a token with iss B signed by A's key verify.
func TestKeyfuncSourceRefusesSharedKeySets(t *testing.T) {
	a, b := newIssuer(t), newIssuer(t, oauthtest.WithAlgorithm("ES256"))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // ends keyfunc's refresh goroutines
	newDefault := func(urls ...string) keyfunc.Keyfunc {
		t.Helper()
		kf, err := keyfunc.NewDefaultCtx(ctx, urls)
		require.NoError(t, err)
		return kf
	}
	overStorage := func(s jwkset.Storage) keyfunc.Keyfunc {
		t.Helper()
		kf, err := keyfunc.New(keyfunc.Options{Storage: s})
		require.NoError(t, err)
		return kf
	}
	overrides := func(u string, o keyfunc.Override) keyfunc.Keyfunc {
		t.Helper()
		kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{u}, o)
		require.NoError(t, err)
		return kf
	}
	both := newDefault(a.JWKSURL(), b.JWKSURL())
	client, err := jwkset.NewDefaultHTTPClientCtx(ctx, []string{a.JWKSURL()})
	require.NoError(t, err)
	mem := jwkset.NewMemoryStorage()

	tests := []struct {
		name string
		m    map[string]keyfunc.Keyfunc
	}{
		{"one multi-URL keyfunc for two issuers", map[string]keyfunc.Keyfunc{a.Issuer(): both, b.Issuer(): both}},
		{"a multi-URL keyfunc for one issuer", map[string]keyfunc.Keyfunc{a.Issuer(): both, b.Issuer(): newDefault(b.JWKSURL())}},
		{"two keyfuncs over one HTTP client storage", map[string]keyfunc.Keyfunc{a.Issuer(): overStorage(client), b.Issuer(): overStorage(client)}},
		{"an HTTP client storage and its wrapper", map[string]keyfunc.Keyfunc{a.Issuer(): overStorage(client), b.Issuer(): overStorage(wrappedStorage{client})}},
		{"two keyfuncs with one given storage", map[string]keyfunc.Keyfunc{a.Issuer(): overrides(a.JWKSURL(), keyfunc.Override{Given: mem}), b.Issuer(): overrides(b.JWKSURL(), keyfunc.Override{Given: mem})}},
		{"two wrappers of one memory storage", map[string]keyfunc.Keyfunc{a.Issuer(): overStorage(wrappedStorage{mem}), b.Issuer(): overStorage(&wrappedStorage{mem})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := jwks.NewKeyfuncSource(tt.m)
			require.Error(t, err)
			assert.Nil(t, s)
		})
	}

	t.Run("one single-URL keyfunc per issuer is accepted", func(t *testing.T) {
		s, err := jwks.NewKeyfuncSource(map[string]keyfunc.Keyfunc{a.Issuer(): newDefault(a.JWKSURL()), b.Issuer(): newDefault(b.JWKSURL())})
		require.NoError(t, err)
		// Sharing an HTTP client is not sharing a key set.
		_, err = jwks.NewKeyfuncSource(map[string]keyfunc.Keyfunc{
			a.Issuer(): overrides(a.JWKSURL(), keyfunc.Override{Client: a.Client()}),
			b.Issuer(): overrides(b.JWKSURL(), keyfunc.Override{Client: a.Client()}),
		})
		require.NoError(t, err)
		_, err = s.Key(t.Context(), a.Issuer(), a.CurrentKeyID(), "RS256")
		require.NoError(t, err)
		_, err = s.Key(t.Context(), a.Issuer(), b.CurrentKeyID(), "ES256")
		require.ErrorIs(t, err, jwks.ErrKeyNotFound, "B's key never verifies A's tokens")
	})
}

// TestKeyfuncSourceRefusesAKeyOfTheWrongType: KeyfuncSource checks that
// the key fits the token's alg even when the JWK names no "alg" (so the
// JWK's alg cannot refuse it): an EC key for RS256, an RSA key for ES256.
func TestKeyfuncSourceRefusesAKeyOfTheWrongType(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	kf, err := keyfunc.NewJWKSetJSON(jwksJSON(t, jwkSpec{kid: "ec", pub: &ec.PublicKey}, jwkSpec{kid: "rsa", pub: testRSA(t)}))
	require.NoError(t, err)
	const issuer = "https://issuer.example/"
	s, err := jwks.NewKeyfuncSource(map[string]keyfunc.Keyfunc{issuer: kf})
	require.NoError(t, err)
	for kid, alg := range map[string]string{"ec": "RS256", "rsa": "ES256"} {
		key, err := s.Key(t.Context(), issuer, kid, alg)
		require.ErrorIs(t, err, jwks.ErrKeyMismatch, kid)
		assert.Nil(t, key, kid)
	}
	_, err = s.Key(t.Context(), issuer, "ec", "ES256")
	require.NoError(t, err)
}
