package oauthtest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/internal/jose"
	"github.com/senderbound/senderbound/oauthtest"
)

func newIssuer(t *testing.T, opts ...oauthtest.Option) *oauthtest.Issuer {
	t.Helper()
	iss, err := oauthtest.NewIssuer(opts...)
	require.NoError(t, err)
	t.Cleanup(iss.Close)
	return iss
}

// decode verifies tok with the issuer's published key (or secret) and
// returns its header and claims.
func decode(t *testing.T, iss *oauthtest.Issuer, tok string, secret []byte) (map[string]any, map[string]any) {
	t.Helper()
	jws, err := jose.Split(tok)
	require.NoError(t, err)
	var header, claims map[string]any
	require.NoError(t, json.Unmarshal(jws.Header, &header))
	require.NoError(t, json.Unmarshal(jws.Payload, &claims))
	alg, _ := header["alg"].(string)
	var key any = secret
	if secret == nil {
		kid, _ := header["kid"].(string)
		key = iss.PublicKey(kid)
		require.NotNil(t, key)
	}
	require.NoError(t, jose.Verify(alg, jws.SigningInput, jws.Signature, key))
	return header, claims
}

func TestMintClaims(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	iss := newIssuer(t, oauthtest.WithClock(func() time.Time { return now }))
	userinfo := iss.Issuer() + "userinfo"
	tests := []struct {
		name       string
		tok        oauthtest.Token
		wantHeader map[string]any
		want       map[string]any
		absent     []string
	}{
		{
			name:       "auth0 defaults",
			tok:        oauthtest.Token{},
			wantHeader: map[string]any{"typ": "JWT", "alg": "RS256", "kid": iss.CurrentKeyID()},
			want: map[string]any{
				"iss": iss.Issuer(), "sub": "auth0|user-123", "aud": []any{oauthtest.DefaultAudience},
				"azp": "client-1", "iat": float64(now.Unix()), "exp": float64(now.Add(time.Hour).Unix()),
			},
			absent: []string{"client_id", "scope", "permissions", "cnf", "nbf", "jti"},
		},
		{
			name: "auth0 openid scope adds userinfo, permissions, cnf",
			tok: oauthtest.Token{Scope: "openid read:x", Permissions: []string{"read:x"}, JKT: "thumb",
				X5TS256: "certthumb", ExpiresIn: time.Minute, NotBefore: now.Add(-time.Second)},
			want: map[string]any{
				"aud":   []any{oauthtest.DefaultAudience, userinfo},
				"scope": "openid read:x", "permissions": []any{"read:x"},
				"cnf": map[string]any{"jkt": "thumb", "x5t#S256": "certthumb"},
				"exp": float64(now.Add(time.Minute).Unix()), "nbf": float64(now.Unix() - 1),
			},
		},
		{
			name:       "rfc9068 profile",
			tok:        oauthtest.Token{Dialect: oauthtest.RFC9068, Subject: "s", ClientID: "c", Scope: "openid a"},
			wantHeader: map[string]any{"typ": "at+jwt"},
			want: map[string]any{
				"iss": iss.Issuer(), "sub": "s", "aud": oauthtest.DefaultAudience, "client_id": "c", "scope": "openid a",
			},
			absent: []string{"azp", "permissions"},
		},
		{
			name: "rfc9068 several audiences",
			tok:  oauthtest.Token{Dialect: oauthtest.RFC9068, Audience: []string{"a", "b"}, JKT: "j"},
			want: map[string]any{"aud": []any{"a", "b"}, "cnf": map[string]any{"jkt": "j"}},
		},
		{
			name: "overrides and deletions",
			tok: oauthtest.Token{Claims: map[string]any{"sub": "other", "exp": nil, "extra": "x"},
				Header: map[string]any{"jku": "https://evil.example/jwks", "typ": nil}},
			wantHeader: map[string]any{"jku": "https://evil.example/jwks"},
			want:       map[string]any{"sub": "other", "extra": "x"},
			absent:     []string{"exp"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := iss.Mint(tt.tok)
			require.NoError(t, err)
			header, claims := decode(t, iss, tok, nil)
			for k, v := range tt.wantHeader {
				assert.Equal(t, v, header[k], "header %s", k)
			}
			if _, ok := tt.wantHeader["typ"]; !ok && tt.tok.Header != nil {
				assert.NotContains(t, header, "typ")
			}
			for k, v := range tt.want {
				assert.Equal(t, v, claims[k], "claim %s", k)
			}
			for _, k := range tt.absent {
				assert.NotContains(t, claims, k)
			}
		})
	}
	t.Run("rfc9068 has a fresh jti", func(t *testing.T) {
		a, err := iss.Mint(oauthtest.Token{Dialect: oauthtest.RFC9068})
		require.NoError(t, err)
		b, err := iss.Mint(oauthtest.Token{Dialect: oauthtest.RFC9068})
		require.NoError(t, err)
		_, ca := decode(t, iss, a, nil)
		_, cb := decode(t, iss, b, nil)
		require.NotEmpty(t, ca["jti"])
		assert.NotEqual(t, ca["jti"], cb["jti"])
	})
}

func TestMintAlgorithms(t *testing.T) {
	for _, alg := range []string{"RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			iss := newIssuer(t, oauthtest.WithAlgorithm(alg))
			tok, err := iss.Mint(oauthtest.Token{})
			require.NoError(t, err)
			header, _ := decode(t, iss, tok, nil)
			assert.Equal(t, alg, header["alg"])
			// golang-jwt accepts it too.
			_, err = jwt.Parse(tok, func(*jwt.Token) (any, error) { return iss.PublicKey(iss.CurrentKeyID()), nil },
				jwt.WithValidMethods([]string{alg}), jwt.WithAudience(oauthtest.DefaultAudience), jwt.WithIssuer(iss.Issuer()))
			require.NoError(t, err)
		})
	}
}

func TestMintHS256(t *testing.T) {
	iss := newIssuer(t)
	secret := []byte("0123456789abcdef0123456789abcdef")
	tok, err := iss.MintHS256(oauthtest.Token{}, secret)
	require.NoError(t, err)
	header, claims := decode(t, iss, tok, secret)
	assert.Equal(t, "HS256", header["alg"])
	assert.NotContains(t, header, "kid")
	assert.Equal(t, iss.Issuer(), claims["iss"])
	_, err = iss.MintHS256(oauthtest.Token{}, nil)
	require.Error(t, err)
}

func TestErrors(t *testing.T) {
	_, err := oauthtest.NewIssuer(oauthtest.WithAlgorithm("HS256"))
	require.ErrorIs(t, err, oauthtest.ErrAlgorithm)
	iss := newIssuer(t)
	_, err = iss.Mint(oauthtest.Token{KeyID: "nope"})
	require.ErrorIs(t, err, oauthtest.ErrUnknownKey)
	_, err = iss.AddKey("none")
	require.ErrorIs(t, err, oauthtest.ErrAlgorithm)
	assert.Nil(t, iss.PublicKey("nope"))
	assert.Nil(t, iss.PrivateKey("nope"))
}

type jwksDoc struct {
	Keys []map[string]any `json:"keys"`
}

func fetchJWKS(t *testing.T, iss *oauthtest.Issuer) (int, []byte) {
	t.Helper()
	resp, err := iss.Client().Get(iss.JWKSURL())
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, body
}

func publishedKIDs(t *testing.T, iss *oauthtest.Issuer) []string {
	t.Helper()
	status, body := fetchJWKS(t, iss)
	require.Equal(t, http.StatusOK, status)
	var doc jwksDoc
	require.NoError(t, json.Unmarshal(body, &doc))
	var kids []string
	for _, k := range doc.Keys {
		assert.Equal(t, "sig", k["use"])
		assert.Equal(t, "RSA", k["kty"])
		assert.Equal(t, "RS256", k["alg"])
		assert.NotContains(t, k, "d", "private key material published")
		kid, _ := k["kid"].(string)
		kids = append(kids, kid)
	}
	return kids
}

func TestRotateAndRevoke(t *testing.T) {
	iss := newIssuer(t)
	cur := iss.CurrentKeyID()
	ids := iss.KeyIDs()
	require.Len(t, ids, 2)
	require.Equal(t, cur, ids[0])
	next := ids[1]
	assert.Equal(t, ids, publishedKIDs(t, iss))

	newCur := iss.Rotate()
	assert.Equal(t, next, newCur)
	assert.Equal(t, next, iss.CurrentKeyID())
	ids = iss.KeyIDs()
	require.Len(t, ids, 3, "previous, current and next")
	assert.Equal(t, []string{cur, next}, ids[:2])
	assert.Equal(t, ids, publishedKIDs(t, iss))

	iss.Revoke(cur)
	assert.NotContains(t, iss.KeyIDs(), cur)
	assert.NotContains(t, publishedKIDs(t, iss), cur)
	// A revoked key can still sign, for revocation tests.
	tok, err := iss.Mint(oauthtest.Token{KeyID: cur})
	require.NoError(t, err)
	header, _ := decode(t, iss, tok, nil)
	assert.Equal(t, cur, header["kid"])

	added, err := iss.AddKey("ES256")
	require.NoError(t, err)
	assert.Contains(t, iss.KeyIDs(), added)
	tok, err = iss.Mint(oauthtest.Token{KeyID: added})
	require.NoError(t, err)
	header, _ = decode(t, iss, tok, nil)
	assert.Equal(t, "ES256", header["alg"])
}

func TestDiscovery(t *testing.T) {
	iss := newIssuer(t)
	require.True(t, strings.HasSuffix(iss.Issuer(), "/"))
	require.True(t, strings.HasPrefix(iss.Issuer(), "http://127.0.0.1:"))
	for _, path := range []string{oauthtest.OpenIDConfigurationPath, oauthtest.OAuthMetadataPath} {
		resp, err := iss.Client().Get(strings.TrimSuffix(iss.Issuer(), "/") + path)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
		resp.Body.Close()
		assert.Equal(t, iss.Issuer(), m["issuer"])
		assert.Equal(t, iss.JWKSURL(), m["jwks_uri"])
	}
	assert.Equal(t, 2, iss.DiscoveryFetches())
	assert.Equal(t, 0, iss.JWKSFetches())
}

func TestFaults(t *testing.T) {
	iss := newIssuer(t)
	tests := []struct {
		name       string
		fault      oauthtest.Fault
		wantStatus int
		check      func(t *testing.T, body []byte)
	}{
		{name: "down", fault: oauthtest.Fault{Down: true}, wantStatus: http.StatusServiceUnavailable},
		{name: "status", fault: oauthtest.Fault{Status: http.StatusTeapot}, wantStatus: http.StatusTeapot},
		{name: "garbage", fault: oauthtest.Fault{Garbage: true}, wantStatus: http.StatusOK,
			check: func(t *testing.T, body []byte) { assert.False(t, json.Valid(body)) }},
		{name: "oversized", fault: oauthtest.Fault{Oversized: 3 << 20}, wantStatus: http.StatusOK,
			check: func(t *testing.T, body []byte) {
				assert.Len(t, body, 3<<20)
				var doc jwksDoc
				require.NoError(t, json.Unmarshal(body, &doc), "padded but valid")
				assert.Len(t, doc.Keys, 2)
			}},
		{name: "none", fault: oauthtest.Fault{}, wantStatus: http.StatusOK,
			check: func(t *testing.T, body []byte) { assert.True(t, json.Valid(body)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss.SetFault(tt.fault)
			before := iss.JWKSFetches()
			status, body := fetchJWKS(t, iss)
			assert.Equal(t, tt.wantStatus, status)
			assert.Equal(t, before+1, iss.JWKSFetches())
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
	t.Run("delay", func(t *testing.T) {
		iss.SetFault(oauthtest.Fault{Delay: time.Hour})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, iss.JWKSURL(), nil)
		require.NoError(t, err)
		_, err = iss.Client().Do(req)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("discovery too", func(t *testing.T) {
		iss.SetFault(oauthtest.Fault{Down: true})
		resp, err := iss.Client().Get(strings.TrimSuffix(iss.Issuer(), "/") + oauthtest.OpenIDConfigurationPath)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	})
}

func TestTLS(t *testing.T) {
	iss := newIssuer(t, oauthtest.WithTLS())
	require.True(t, strings.HasPrefix(iss.Issuer(), "https://"))
	resp, err := iss.Client().Get(iss.JWKSURL())
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	_, err = (&http.Client{}).Get(iss.JWKSURL())
	require.Error(t, err, "a client that does not trust the certificate must fail")
}
