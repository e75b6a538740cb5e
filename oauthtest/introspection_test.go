package oauthtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/oauthtest"
)

func TestIntrospectionEndpoint(t *testing.T) {
	iss, err := oauthtest.NewIssuer()
	require.NoError(t, err)
	defer iss.Close()
	require.NoError(t, iss.RegisterClient(oauthtest.Client{ID: "rs", Secret: "s"}))
	jkt := strings.Repeat("A", 43)
	bound, err := iss.MintOpaque(oauthtest.Token{Subject: "alice", JKT: jkt})
	require.NoError(t, err)
	revoked, err := iss.MintOpaque(oauthtest.Token{})
	require.NoError(t, err)
	iss.RevokeToken(revoked)
	expired, err := iss.MintOpaque(oauthtest.Token{ExpiresIn: -time.Minute})
	require.NoError(t, err)

	post := func(token, accept string, auth bool) (*http.Response, []byte) {
		req, err := http.NewRequest(http.MethodPost, iss.IntrospectionURL(), strings.NewReader(url.Values{"token": {token}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if auth {
			req.SetBasicAuth("rs", "s")
		}
		resp, err := iss.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, body
	}

	resp, body := post(bound, "", true)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var answer map[string]any
	require.NoError(t, json.Unmarshal(body, &answer))
	assert.Equal(t, true, answer["active"])
	assert.Equal(t, "DPoP", answer["token_type"])
	assert.Equal(t, "alice", answer["sub"])
	assert.Equal(t, map[string]any{"jkt": jkt}, answer["cnf"])

	for name, tok := range map[string]string{"revoked": revoked, "expired": expired, "unknown": "ot_nobody"} {
		_, body := post(tok, "", true)
		assert.JSONEq(t, `{"active":false}`, string(body), name)
	}

	resp, _ = post(bound, "", false)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "no client authentication")

	resp, body = post(bound, "application/token-introspection+jwt", true)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/token-introspection+jwt", resp.Header.Get("Content-Type"))
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(string(body), claims, func(tok *jwt.Token) (any, error) {
		return iss.PublicKey(tok.Header["kid"].(string)), nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(iss.Issuer()), jwt.WithAudience("rs"))
	require.NoError(t, err)
	assert.Equal(t, "token-introspection+jwt", tok.Header["typ"])
	inner, ok := claims["token_introspection"].(map[string]any)
	require.True(t, ok)
	assert.Equal(t, true, inner["active"])
	assert.Equal(t, 6, iss.IntrospectionRequests(), "every request counted")
}
