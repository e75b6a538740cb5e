package middleware_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
)

// signedPayload signs a hand-written JSON payload with iss's current key,
// so that member order, case and duplicates are exactly as written.
func signedPayload(t testing.TB, iss *oauthtest.Issuer, payload string) string {
	t.Helper()
	kid := iss.CurrentKeyID()
	return rawSigned(t, jwt.SigningMethodRS256, iss.PrivateKey(kid), `{"alg":"RS256","typ":"JWT","kid":"`+kid+`"}`, payload)
}

// payloadWith returns a valid payload for iss (iss, aud, iat, exp) with
// extra members appended as written.
func payloadWith(iss *oauthtest.Issuer, extra string) string {
	now := time.Now().Unix()
	p, _ := json.Marshal(map[string]any{"iss": iss.Issuer(), "aud": audience, "iat": now, "exp": now + 3600})
	if extra == "" {
		return string(p)
	}
	return string(p[:len(p)-1]) + "," + extra + "}"
}

// requireInvalidToken asserts a 401 invalid_token whose cause wraps want.
func requireInvalidToken(t *testing.T, err error, want error) {
	t.Helper()
	require.ErrorIs(t, err, want)
	var e *middleware.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusUnauthorized, e.Status)
	assert.Equal(t, middleware.CodeInvalidToken, e.Code)
}

// TestUnknownConfirmationMethodRefused: a cnf that names no
// method the library verifies is refused under every policy and scheme,
// never treated as unbound; members beside jkt or x5t#S256 are tolerated;
// jkt and x5t#S256 together are refused (RFC 7800 §3.1: one key).
func TestUnknownConfirmationMethodRefused(t *testing.T) {
	iss := newIssuer(t)
	keys := newKeys(t, iss)
	signer := newSigner(t)
	cert, _ := clientCert(t, "client")
	u, _ := url.Parse(resource)
	key := iss.PrivateKey(iss.CurrentKeyID())
	tokenWithCnf := func(cnf any) string {
		c := goodClaims(iss)
		c["cnf"] = cnf
		return handMade(t, jwt.SigningMethodRS256, key, map[string]any{"kid": iss.CurrentKeyID()}, c)
	}
	jwk := jwkOf(t, hzECKey(t).Public())
	policies := []struct {
		name     string
		m        middleware.Mechanism
		required bool
	}{
		{"none", middleware.MechanismNone, false},
		{"dpop", middleware.MechanismDPoP, false},
		{"dpop,required", middleware.MechanismDPoP, true},
		{"mtls", middleware.MechanismMTLS, true},
	}
	refused := []struct {
		name string
		cnf  any
		want error
	}{
		{"jwk only (RFC 7800 §3.2)", map[string]any{"jwk": jwk}, middleware.ErrUnsupportedBinding},
		{"kid only (RFC 7800 §3.4)", map[string]any{"kid": "key-1"}, middleware.ErrUnsupportedBinding},
		{"jku only (RFC 7800 §3.5)", map[string]any{"jku": "https://client.example.com/jwks", "kid": "key-1"}, middleware.ErrUnsupportedBinding},
		{"jwe only (RFC 7800 §3.3)", map[string]any{"jwe": "eyJ.a.b.c.d"}, middleware.ErrUnsupportedBinding},
		{"x5t (SHA-1) only", map[string]any{"x5t": "dGh1bWI"}, middleware.ErrUnsupportedBinding},
		{"case variant JKT", map[string]any{"JKT": signer.Thumbprint()}, middleware.ErrClaims},
		{"empty object", map[string]any{}, middleware.ErrUnsupportedBinding},
		{"string", signer.Thumbprint(), middleware.ErrClaims},
		{"array", []string{signer.Thumbprint()}, middleware.ErrClaims},
		{"number", 1, middleware.ErrClaims},
		{"true", true, middleware.ErrClaims},
		{"null", nil, middleware.ErrClaims},
	}
	for _, p := range policies {
		g, err := middleware.New(keys, middleware.WithAudience(audience), middleware.WithProofOfPossession(p.m, p.required))
		require.NoError(t, err)
		for _, tc := range refused {
			tok := tokenWithCnf(tc.cnf)
			t.Run(p.name+"/"+tc.name+"/Bearer", func(t *testing.T) {
				_, err := g.Verify(context.Background(), middleware.Request{Scheme: "Bearer", Token: tok, Method: "GET", URL: u, Certificate: cert})
				requireInvalidToken(t, err, tc.want)
			})
			t.Run(p.name+"/"+tc.name+"/DPoP", func(t *testing.T) {
				_, err := g.Verify(context.Background(), middleware.Request{Scheme: "DPoP", Token: tok,
					Proof: proof(t, signer, "GET", resource, tok, ""), Method: "GET", URL: u})
				requireInvalidToken(t, err, tc.want)
			})
		}
	}

	g, err := middleware.New(keys, middleware.WithAudience(audience))
	require.NoError(t, err)
	t.Run("jkt beside other members is verified and accepted", func(t *testing.T) {
		tok := tokenWithCnf(map[string]any{"jkt": signer.Thumbprint(), "jwk": jwk, "kid": "key-1", "x5t": "dGh1bWI"})
		got, err := g.Verify(context.Background(), middleware.Request{Scheme: "DPoP", Token: tok,
			Proof: proof(t, signer, "GET", resource, tok, ""), Method: "GET", URL: u})
		require.NoError(t, err)
		assert.Equal(t, middleware.MechanismDPoP, got.Binding.Mechanism)
		_, err = g.Verify(context.Background(), middleware.Request{Scheme: "Bearer", Token: tok, Method: "GET", URL: u})
		requireInvalidToken(t, err, middleware.ErrBoundTokenAsBearer)
	})
	t.Run("x5t#S256 beside other members is verified and accepted", func(t *testing.T) {
		tok := tokenWithCnf(map[string]any{"x5t#S256": mtls.Thumbprint(cert), "kid": "key-1"})
		got, err := g.Verify(context.Background(), middleware.Request{Scheme: "Bearer", Token: tok, Method: "GET", URL: u, Certificate: cert})
		require.NoError(t, err)
		assert.Equal(t, middleware.MechanismMTLS, got.Binding.Mechanism)
		other, _ := clientCert(t, "thief")
		_, err = g.Verify(context.Background(), middleware.Request{Scheme: "Bearer", Token: tok, Method: "GET", URL: u, Certificate: other})
		requireInvalidToken(t, err, middleware.ErrBindingMismatch)
	})
	t.Run("jkt and x5t#S256 together, either proof offered", func(t *testing.T) {
		tok := tokenWithCnf(map[string]any{"jkt": signer.Thumbprint(), "x5t#S256": mtls.Thumbprint(cert)})
		_, err := g.Verify(context.Background(), middleware.Request{Scheme: "Bearer", Token: tok, Method: "GET", URL: u, Certificate: cert})
		requireInvalidToken(t, err, middleware.ErrClaims)
		_, err = g.Verify(context.Background(), middleware.Request{Scheme: "DPoP", Token: tok,
			Proof: proof(t, signer, "GET", resource, tok, ""), Method: "GET", URL: u, Certificate: cert})
		requireInvalidToken(t, err, middleware.ErrClaims)
	})
	t.Run("through the handler", func(t *testing.T) {
		a := serve(g, bearer(tokenWithCnf(map[string]any{"jwk": jwk})))
		assert.Equal(t, http.StatusUnauthorized, a.status)
		assert.Contains(t, strings.Join(a.challenge, "\n"), `error="invalid_token"`)
	})
}

// TestScopesSplitOnSpaceOnly: RFC 6749 §3.3 separates scopes
// with %x20 only; no other whitespace splits a scope, and empty elements
// (several spaces, leading or trailing spaces) are ignored.
func TestScopesSplitOnSpaceOnly(t *testing.T) {
	iss := newIssuer(t)
	g := newGuard(t, iss)
	h := g.Handler(g.RequireScopes("admin")(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	tests := []struct {
		scope  string
		status int
		scopes []string
	}{
		{"x\u00a0admin", http.StatusForbidden, []string{"x\u00a0admin"}},
		{"note\tadmin", http.StatusForbidden, []string{"note\tadmin"}},
		{"x\u3000admin", http.StatusForbidden, []string{"x\u3000admin"}},
		{"read\nadmin", http.StatusForbidden, []string{"read\nadmin"}},
		{"read\vadmin", http.StatusForbidden, []string{"read\vadmin"}},
		{"read\radmin", http.StatusForbidden, []string{"read\radmin"}},
		{"read\u2028admin", http.StatusForbidden, []string{"read\u2028admin"}},
		{"read\u0085admin", http.StatusForbidden, []string{"read\u0085admin"}},
		{"read admin", http.StatusOK, []string{"read", "admin"}},
		{"read  admin", http.StatusOK, []string{"read", "admin"}},
		{" admin ", http.StatusOK, []string{"admin"}},
		{"   ", http.StatusForbidden, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.scope, func(t *testing.T) {
			tok := mint(t, iss, oauthtest.Token{Scope: tc.scope})
			w := httptest.NewRecorder()
			h.ServeHTTP(w, bearer(tok))
			assert.Equal(t, tc.status, w.Code)
			got, err := g.Check(bearer(tok))
			require.NoError(t, err)
			assert.Equal(t, tc.scopes, got.Claims.Scopes())
			assert.False(t, got.Claims.HasScope(""), "an empty element is not a scope")
		})
	}
}

// TestDecodeAgreesWithVerification: a payload holding two member
// names that encoding/json would match to one field (equal under its case
// folding, at any depth) is refused, so that Claims.Decode can never read a
// different member than the one the library verified.
func TestDecodeAgreesWithVerification(t *testing.T) {
	iss := newIssuer(t)
	g := newGuard(t, iss)
	refused := []struct{ name, extra string }{
		{"SUB beside sub", `"sub":"alice","SUB":"admin"`},
		{"SUB before sub", `"SUB":"admin","sub":"alice"`},
		{"Sub alone (a case variant of a claim the library reads)", `"Sub":"admin"`},
		{"long s (U+017F) folds to S", `"sub":"alice","ſub":"admin"`},
		{"Kelvin sign (U+212A) folds to k", `"sub":"alice","ext":{"kind":"user","\u212aind":"admin"}`},
		{"escaped name", `"sub":"alice","\u0053UB":"admin"`},
		{"Exp beside exp", `"sub":"alice","Exp":9999999999`},
		{"Acr alone (a step-up claim)", `"sub":"alice","Acr":"mfa"`},
		{"Authorization_Details alone (RAR)", `"sub":"alice","Authorization_Details":[{"type":"a"}]`},
		{"Cnf", `"sub":"alice","Cnf":{"jkt":"` + strings.Repeat("A", 43) + `"}`},
		{"custom claim, two cases", `"sub":"alice","role":"user","Role":"admin"`},
		{"custom claim, exact duplicate", `"sub":"alice","role":"user","role":"admin"`},
		{"nested object", `"sub":"alice","ext":{"role":"user","ROLE":"admin"}`},
		{"object in an array", `"sub":"alice","authorization_details":[{"type":"a"},{"type":"b","TYPE":"c"}]`},
		{"deeply nested", `"sub":"alice","a":{"b":[[{"c":{"d":1,"D":2}}]]}`},
		{"long object (past the pairwise limit), late duplicate", `"sub":"alice",` + longObject(40) + `,"N5":"admin"`},
		{"long object, duplicate of the first name", `"sub":"alice","ext":{` + longObject(40) + `,"n0":1}`},
		{"cnf member case variant", `"sub":"alice","cnf":{"x5t#S256":"` + strings.Repeat("A", 43) + `","JKT":"x"}`},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			tok := signedPayload(t, iss, payloadWith(iss, tc.extra))
			_, err := g.Check(bearer(tok))
			requireInvalidToken(t, err, middleware.ErrClaims)
		})
	}
	t.Run("distinct names at every level are accepted and decoded", func(t *testing.T) {
		tok := signedPayload(t, iss, payloadWith(iss,
			`"sub":"alice","https://example.com/roles":["user"],"ext":{"role":"user","roles":["a"],"x":{"role":1}},"list":[{"a":1},{"a":2}]`))
		got, err := g.Check(bearer(tok))
		require.NoError(t, err)
		var v struct {
			Sub   string   `json:"sub"`
			Roles []string `json:"https://example.com/roles"`
			Ext   struct {
				Role string `json:"role"`
			} `json:"ext"`
		}
		require.NoError(t, got.Claims.Decode(&v))
		assert.Equal(t, "alice", v.Sub)
		assert.Equal(t, got.Claims.Subject(), v.Sub)
		assert.Equal(t, []string{"user"}, v.Roles)
		assert.Equal(t, "user", v.Ext.Role)
	})
	t.Run("long objects with distinct names are accepted", func(t *testing.T) {
		tok := signedPayload(t, iss, payloadWith(iss, `"sub":"alice",`+longObject(100)+`,"ext":{`+longObject(40)+`}`))
		_, err := g.Check(bearer(tok))
		require.NoError(t, err)
	})
	t.Run("same name in sibling objects is not a duplicate", func(t *testing.T) {
		tok := signedPayload(t, iss, payloadWith(iss, `"sub":"alice","a":{"sub":"x"},"b":{"SUB":"y"}`))
		_, err := g.Check(bearer(tok))
		require.NoError(t, err)
	})
}

// longObject returns n members "n0":0, "n1":1, … (without braces).
func longObject(n int) string {
	members := make([]string, n)
	for i := range members {
		members[i] = `"n` + strconv.Itoa(i) + `":` + strconv.Itoa(i)
	}
	return strings.Join(members, ",")
}
