package clientauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/clientauth"
)

func TestApply(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	now := time.Unix(1_700_000_000, 0)
	const endpoint = "https://as.example/introspect"
	tests := []struct {
		name  string
		m     clientauth.Method
		check func(t *testing.T, h http.Header, form url.Values)
	}{
		{"client_secret_basic encodes before Basic (RFC 6749 §2.3.1)", clientauth.ClientSecretBasic("my client", "p:w%+"), func(t *testing.T, h http.Header, form url.Values) {
			assert.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte("my+client:p%3Aw%25%2B")), h.Get("Authorization"))
			assert.Empty(t, form)
		}},
		{"client_secret_post", clientauth.ClientSecretPost("c", "s"), func(t *testing.T, h http.Header, form url.Values) {
			assert.Equal(t, url.Values{"client_id": {"c"}, "client_secret": {"s"}}, form)
			assert.Empty(t, h)
		}},
		{"tls_client_auth sends only client_id (RFC 8705 §2)", clientauth.TLSClientAuth("c"), func(t *testing.T, h http.Header, form url.Values) {
			assert.Equal(t, url.Values{"client_id": {"c"}}, form)
			assert.Empty(t, h)
		}},
		{"private_key_jwt (RFC 7523 §2.2)", clientauth.PrivateKeyJWT("c", key, clientauth.WithKeyID("k1"), clientauth.WithClock(func() time.Time { return now })), func(t *testing.T, h http.Header, form url.Values) {
			assert.Equal(t, clientauth.AssertionType, form.Get("client_assertion_type"))
			assert.Equal(t, "c", form.Get("client_id"))
			claims := jwt.MapClaims{}
			tok, err := jwt.ParseWithClaims(form.Get("client_assertion"), claims, func(*jwt.Token) (any, error) { return &key.PublicKey, nil },
				jwt.WithValidMethods([]string{"ES256"}), jwt.WithTimeFunc(func() time.Time { return now }))
			require.NoError(t, err)
			assert.Equal(t, "k1", tok.Header["kid"])
			assert.Equal(t, "c", claims["iss"])
			assert.Equal(t, "c", claims["sub"])
			assert.Equal(t, endpoint, claims["aud"], "the endpoint by default")
			assert.Equal(t, float64(now.Add(time.Minute).Unix()), claims["exp"])
			assert.NotEmpty(t, claims["jti"])
		}},
		{"private_key_jwt with an audience", clientauth.PrivateKeyJWT("c", key, clientauth.WithAudience("https://as.example/")), func(t *testing.T, h http.Header, form url.Values) {
			claims := jwt.MapClaims{}
			_, err := jwt.ParseWithClaims(form.Get("client_assertion"), claims, func(*jwt.Token) (any, error) { return &key.PublicKey, nil })
			require.NoError(t, err)
			assert.Equal(t, "https://as.example/", claims["aud"])
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, tc.m.Check())
			h, form := http.Header{}, url.Values{}
			require.NoError(t, tc.m.Apply(h, form, endpoint))
			tc.check(t, h, form)
		})
	}
}

func TestCheck(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		m    clientauth.Method
		want string
	}{
		"zero":              {clientauth.Method{}, "no client authentication"},
		"no ID":             {clientauth.ClientSecretPost("", "s"), "empty client ID"},
		"no secret":         {clientauth.ClientSecretBasic("c", ""), "empty client secret"},
		"no key":            {clientauth.PrivateKeyJWT("c", nil), "without a key"},
		"algorithm misfit":  {clientauth.PrivateKeyJWT("c", ec, clientauth.WithAlgorithm("RS256")), "does not fit"},
		"empty audience":    {clientauth.PrivateKeyJWT("c", ec, clientauth.WithAudience("")), "empty assertion audience"},
		"nil clock":         {clientauth.PrivateKeyJWT("c", ec, clientauth.WithClock(nil)), "nil clock"},
		"tls without an ID": {clientauth.TLSClientAuth(""), "empty client ID"},
	} {
		err := tc.m.Check()
		require.ErrorIs(t, err, clientauth.ErrConfig, name)
		assert.ErrorContains(t, err, tc.want, name)
		require.Error(t, tc.m.Apply(http.Header{}, url.Values{}, "https://as.example/"), name)
	}
}
