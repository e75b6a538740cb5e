package jwks_test

import (
	"context"
	"crypto/rsa"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/internal/jose"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/oauthtest"
)

// jwksOf returns a keyfunc over iss's current JWK Set (no goroutine).
func jwksOf(t *testing.T, iss *oauthtest.Issuer) keyfunc.Keyfunc {
	t.Helper()
	resp, err := http.Get(iss.JWKSURL())
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	kf, err := keyfunc.NewJWKSetJSON(body)
	require.NoError(t, err)
	return kf
}

func TestKeyfuncSource(t *testing.T) {
	a, b := newIssuer(t), newIssuer(t, oauthtest.WithAlgorithm("ES256"))
	kfA, kfB := jwksOf(t, a), jwksOf(t, b)

	t.Run("refused", func(t *testing.T) {
		tests := []struct {
			name string
			m    map[string]keyfunc.Keyfunc
		}{
			{"none", nil},
			{"empty issuer", map[string]keyfunc.Keyfunc{"": kfA}},
			{"nil keyfunc", map[string]keyfunc.Keyfunc{a.Issuer(): nil}},
			{"one keyfunc for two issuers", map[string]keyfunc.Keyfunc{a.Issuer(): kfA, b.Issuer(): kfA}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s, err := jwks.NewKeyfuncSource(tt.m)
				require.Error(t, err)
				assert.Nil(t, s)
			})
		}
	})

	s, err := jwks.NewKeyfuncSource(map[string]keyfunc.Keyfunc{a.Issuer(): kfA, b.Issuer(): kfB})
	require.NoError(t, err)
	key, err := s.Key(t.Context(), a.Issuer(), a.CurrentKeyID(), "RS256")
	require.NoError(t, err)
	assert.True(t, a.PublicKey(a.CurrentKeyID()).(*rsa.PublicKey).Equal(key))
	_, err = s.Key(t.Context(), b.Issuer(), b.CurrentKeyID(), "ES256")
	require.NoError(t, err)

	tests := []struct {
		name, issuer, kid, alg string
		want                   error
	}{
		{"a key of B for A's tokens", a.Issuer(), b.CurrentKeyID(), "ES256", jwks.ErrKeyNotFound},
		{"unknown issuer", "https://evil.example/", a.CurrentKeyID(), "RS256", jwks.ErrUnknownIssuer},
		{"RSA key with ES256", a.Issuer(), a.CurrentKeyID(), "ES256", jwks.ErrKeyMismatch},
		{"JWK alg RS256 with PS256", a.Issuer(), a.CurrentKeyID(), "PS256", jwks.ErrKeyMismatch},
		{"HS256", a.Issuer(), a.CurrentKeyID(), "HS256", jwks.ErrKeyMismatch},
		{"unknown kid", a.Issuer(), "nope", "RS256", jwks.ErrKeyNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := s.Key(t.Context(), tt.issuer, tt.kid, tt.alg)
			require.ErrorIs(t, err, tt.want)
			assert.Nil(t, key)
		})
	}

	t.Run("an issuer whose keyfunc holds no key fails closed", func(t *testing.T) {
		empty, err := keyfunc.NewJWKSetJSON([]byte(`{"keys":[]}`))
		require.NoError(t, err)
		s, err := jwks.NewKeyfuncSource(map[string]keyfunc.Keyfunc{a.Issuer(): empty})
		require.NoError(t, err)
		_, err = s.Key(t.Context(), a.Issuer(), a.CurrentKeyID(), "RS256")
		require.ErrorIs(t, err, jwks.ErrUnavailable)
	})
}

// TestKeysAsJWTKeyfunc: code that parses other tokens of a tenant with
// golang-jwt (ID tokens, logout tokens) shares the refreshed keys.
func TestKeysAsJWTKeyfunc(t *testing.T) {
	a, b := newIssuer(t), newIssuer(t)
	k := newKeys(t, newClock(), jwks.WithIssuer(a.Issuer()), jwks.WithIssuer(b.Issuer()))
	kf := k.Keyfunc(context.Background(), a.Issuer())
	parse := func(tok string) error {
		_, err := jwt.Parse(tok, kf, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(a.Issuer()),
			jwt.WithLeeway(time.Minute))
		return err
	}
	tok, err := a.Mint(oauthtest.Token{})
	require.NoError(t, err)
	require.NoError(t, parse(tok))

	a.Rotate()
	next, err := a.Mint(oauthtest.Token{KeyID: a.KeyIDs()[2]})
	require.NoError(t, err)
	require.NoError(t, parse(next), "an unknown kid refreshes, as for access tokens")

	fromB, err := b.Mint(oauthtest.Token{})
	require.NoError(t, err)
	err = parse(fromB)
	require.ErrorIs(t, err, jwks.ErrUnknownIssuer, "another tenant's token is refused before any lookup")

	// A token claiming A but signed by B's key, with B's kid.
	forged := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": a.Issuer(), "exp": time.Now().Add(time.Hour).Unix()})
	forged.Header["kid"] = b.CurrentKeyID()
	s, err := forged.SignedString(b.PrivateKey(b.CurrentKeyID()))
	require.NoError(t, err)
	require.ErrorIs(t, parse(s), jwks.ErrKeyNotFound)

	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": a.Issuer()})
	hs.Header["kid"] = a.CurrentKeyID()
	s, err = hs.SignedString([]byte("secret"))
	require.NoError(t, err)
	_, err = jwt.Parse(s, kf) // even without WithValidMethods
	require.ErrorIs(t, err, jwks.ErrKeyMismatch)
	require.ErrorIs(t, err, jose.ErrAlgorithm)
}
