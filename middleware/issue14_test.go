package middleware_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
)

// Regression tests for the middleware items of issue 14 (second security
// review), one test per item.

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

// TestIssue14Item3UnknownConfirmationMethodRefused: a cnf that names no
// method the library verifies is refused under every policy and scheme,
// never treated as unbound; members beside jkt or x5t#S256 are tolerated;
// jkt and x5t#S256 together are refused (RFC 7800 §3.1: one key).
func TestIssue14Item3UnknownConfirmationMethodRefused(t *testing.T) {
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

// TestIssue14Item4ScopesSplitOnSpaceOnly: RFC 6749 §3.3 separates scopes
// with %x20 only; no other whitespace splits a scope, and empty elements
// (several spaces, leading or trailing spaces) are ignored.
func TestIssue14Item4ScopesSplitOnSpaceOnly(t *testing.T) {
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

// TestIssue14Item5DecodeAgreesWithVerification: a payload holding two member
// names that encoding/json would match to one field (equal under its case
// folding, at any depth) is refused, so that Claims.Decode can never read a
// different member than the one the library verified.
func TestIssue14Item5DecodeAgreesWithVerification(t *testing.T) {
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

// TestIssue14Item8SeveralSpacesAfterScheme: RFC 9110 §11.4 and RFC 9449
// §7.1 allow 1*SP between the scheme and the token; other whitespace is
// still malformed.
func TestIssue14Item8SeveralSpacesAfterScheme(t *testing.T) {
	iss := newIssuer(t)
	g := newGuard(t, iss, middleware.WithPublicURL("https://api.example.com"))
	tok := mint(t, iss, oauthtest.Token{})
	signer := newSigner(t)
	bound := mint(t, iss, oauthtest.Token{JKT: signer.Thumbprint()})
	withAuth := func(v string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, resource, nil)
		r.Header.Set("Authorization", v)
		return r
	}
	withDPoP := func(v string) *http.Request {
		r := withAuth(v)
		r.Header.Set("DPoP", proof(t, signer, "GET", resource, bound, ""))
		return r
	}
	tests := []struct {
		name   string
		r      func() *http.Request
		status int
		want   error
	}{
		{"Bearer, two spaces", func() *http.Request { return withAuth("Bearer  " + tok) }, 200, nil},
		{"Bearer, five spaces", func() *http.Request { return withAuth("Bearer     " + tok) }, 200, nil},
		{"bearer, lower case, two spaces", func() *http.Request { return withAuth("bearer  " + tok) }, 200, nil},
		{"DPoP, two spaces", func() *http.Request { return withDPoP("DPoP  " + bound) }, 200, nil},
		{"DPoP, three spaces", func() *http.Request { return withDPoP("DPoP   " + bound) }, 200, nil},
		{"space then tab", func() *http.Request { return withAuth("Bearer \t" + tok) }, 400, middleware.ErrMalformedRequest},
		{"space then no-break space", func() *http.Request { return withAuth("Bearer \u00a0" + tok) }, 400, middleware.ErrMalformedRequest},
		{"DPoP, space then tab", func() *http.Request { return withDPoP("DPoP \t" + bound) }, 400, middleware.ErrMalformedRequest},
		{"tab only", func() *http.Request { return withAuth("Bearer\t" + tok) }, 401, middleware.ErrNoCredentials},
		{"spaces only", func() *http.Request { return withAuth("Bearer   ") }, 400, middleware.ErrMalformedRequest},
		{"space inside the token", func() *http.Request { return withAuth("Bearer  " + tok[:10] + " " + tok[10:]) }, 400, middleware.ErrMalformedRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.status, serve(g, tc.r()).status)
			_, err := g.Check(tc.r())
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}
	t.Run("size limit counts the token, not the spaces", func(t *testing.T) {
		const limit = 1024
		gl := newGuard(t, iss, middleware.WithMaxTokenSize(limit))
		_, err := gl.Check(withAuth("Bearer    " + strings.Repeat("a", limit)))
		require.ErrorIs(t, err, middleware.ErrMalformedToken)
		_, err = gl.Check(withAuth("Bearer    " + strings.Repeat("a", limit+1)))
		require.ErrorIs(t, err, middleware.ErrTokenTooLarge)
	})
}

// TestIssue14Item9LargeFormWithHeaderToken: with WithFormToken, a form POST
// that authenticates by header is not read for access_token, so its size
// does not matter and the handler gets the body intact.
func TestIssue14Item9LargeFormWithHeaderToken(t *testing.T) {
	iss := newIssuer(t)
	g := newGuard(t, iss, middleware.WithFormToken())
	tok := mint(t, iss, oauthtest.Token{})
	body := url.Values{"note": {strings.Repeat("x", 20<<10)}}.Encode()
	var got string
	h := g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		got = string(b)
	}))
	post := func(body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, resource, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}

	r := post(body)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, body, got, "the handler reads the whole body")

	t.Run("without a header the form token still works", func(t *testing.T) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, post(url.Values{"access_token": {tok}}.Encode()))
		assert.Equal(t, http.StatusOK, w.Code)
	})
	t.Run("without a header a large form is still bounded", func(t *testing.T) {
		_, err := g.Check(post(body))
		require.ErrorIs(t, err, middleware.ErrMalformedRequest)
	})
}

// TestIssue14Item10ContradictoryConfigurationRefused: options that cannot
// mean what they say are refused by New, each with its own message, all at
// once.
func TestIssue14Item10ContradictoryConfigurationRefused(t *testing.T) {
	iss := newIssuer(t)
	keys := newKeys(t, iss)
	tests := []struct {
		name string
		opts []middleware.Option
		msgs []string
	}{
		{"mechanism none, required", []middleware.Option{middleware.WithProofOfPossession(middleware.MechanismNone, true)},
			[]string{"mechanism none cannot be required"}},
		{"every IPv4 address trusted", []middleware.Option{middleware.WithTrustedProxies(netip.MustParsePrefix("0.0.0.0/0"))},
			[]string{"0.0.0.0/0"}},
		{"every IPv6 address trusted", []middleware.Option{middleware.WithTrustedProxies(netip.MustParsePrefix("::/0"))},
			[]string{"::/0"}},
		{"every IPv4-mapped address trusted", []middleware.Option{middleware.WithTrustedProxies(netip.MustParsePrefix("::ffff:0:0/96"))},
			[]string{"::ffff:0.0.0.0/96"}},
		{"a prefix holding every IPv4-mapped address", []middleware.Option{middleware.WithTrustedProxies(netip.MustParsePrefix("::/80"))},
			[]string{"::/80"}},
		{"invalid prefix", []middleware.Option{middleware.WithTrustedProxies(netip.Prefix{})},
			[]string{"not valid"}},
		{"all at once", []middleware.Option{
			middleware.WithProofOfPossession(middleware.MechanismNone, true),
			middleware.WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")),
		}, []string{"mechanism none cannot be required", "0.0.0.0/0", "::/0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := middleware.New(keys, append([]middleware.Option{middleware.WithAudience(audience)}, tc.opts...)...)
			require.Error(t, err)
			for _, m := range tc.msgs {
				assert.Contains(t, err.Error(), m)
			}
			assert.Len(t, strings.Split(err.Error(), "\n"), len(tc.msgs), "one line per problem")
		})
	}
	for _, ok := range []struct {
		name string
		opts []middleware.Option
	}{
		{"mechanism none, not required", []middleware.Option{middleware.WithProofOfPossession(middleware.MechanismNone, false)}},
		{"proxies in a private range", []middleware.Option{middleware.WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"))}},
		{"one mapped proxy", []middleware.Option{middleware.WithTrustedProxies(netip.MustParsePrefix("::ffff:10.0.0.1/128"))}},
	} {
		t.Run(ok.name, func(t *testing.T) {
			_, err := middleware.New(keys, append([]middleware.Option{middleware.WithAudience(audience)}, ok.opts...)...)
			require.NoError(t, err)
		})
	}
}

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

func (h *logRecorder) warnings() []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []slog.Record
	for _, r := range h.records {
		if r.Level == slog.LevelWarn {
			out = append(out, r)
		}
	}
	return out
}

// TestIssue14Item13PublicURLWarning: a Guard that can check DPoP proofs
// but has neither a public URL nor trusted proxies checks htu against the
// request's own Host; New says so once, with the fix.
func TestIssue14Item13PublicURLWarning(t *testing.T) {
	iss := newIssuer(t)
	keys := newKeys(t, iss)
	tests := []struct {
		name string
		opts []middleware.Option
		warn bool
	}{
		{"default (mechanism none also accepts DPoP-bound tokens)", nil, true},
		{"dpop", []middleware.Option{middleware.WithProofOfPossession(middleware.MechanismDPoP, false)}, true},
		{"dpop, required", []middleware.Option{middleware.WithProofOfPossession(middleware.MechanismDPoP, true)}, true},
		{"dpop with a public URL", []middleware.Option{middleware.WithProofOfPossession(middleware.MechanismDPoP, true),
			middleware.WithPublicURL("https://api.example.com")}, false},
		{"dpop with trusted proxies", []middleware.Option{middleware.WithProofOfPossession(middleware.MechanismDPoP, true),
			middleware.WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8"))}, false},
		{"mtls (no DPoP proof is ever checked)", []middleware.Option{middleware.WithProofOfPossession(middleware.MechanismMTLS, true)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &logRecorder{}
			opts := append([]middleware.Option{middleware.WithAudience(audience), middleware.WithLogger(slog.New(rec))}, tc.opts...)
			_, err := middleware.New(keys, opts...)
			require.NoError(t, err)
			warnings := rec.warnings()
			if !tc.warn {
				assert.Empty(t, warnings)
				return
			}
			require.Len(t, warnings, 1)
			msg := warnings[0].Message
			assert.Contains(t, msg, "Host")
			assert.Contains(t, msg, "another deployment")
			assert.Contains(t, msg, "WithPublicURL")
		})
	}
	t.Run("without a logger, to slog.Default", func(t *testing.T) {
		rec := &logRecorder{}
		prev := slog.Default()
		slog.SetDefault(slog.New(rec))
		t.Cleanup(func() { slog.SetDefault(prev) })
		_, err := middleware.New(keys, middleware.WithAudience(audience), middleware.WithProofOfPossession(middleware.MechanismDPoP, true))
		require.NoError(t, err)
		require.Len(t, rec.warnings(), 1)
		_, err = middleware.New(keys, middleware.WithAudience(audience), middleware.WithPublicURL("https://api.example.com"))
		require.NoError(t, err)
		require.Len(t, rec.warnings(), 1, "no second warning")
	})
	t.Run("a refused configuration does not warn", func(t *testing.T) {
		rec := &logRecorder{}
		_, err := middleware.New(keys, middleware.WithLogger(slog.New(rec)))
		require.Error(t, err)
		assert.Empty(t, rec.warnings())
	})
}

// TestIssue14Item14AlgorithmOutsideAllowList: an RS256 token whose key the
// issuer really publishes (so the key source returns it) is refused when
// only ES256 is configured: the allow-list in the Guard is what refuses it.
func TestIssue14Item14AlgorithmOutsideAllowList(t *testing.T) {
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
