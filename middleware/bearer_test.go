package middleware_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

func TestBearerAcceptsBothAuth0Dialects(t *testing.T) {
	iss := newIssuer(t)
	g := newGuard(t, iss)
	for _, tc := range []struct {
		name    string
		dialect oauthtest.Dialect
	}{
		{"access_token", oauthtest.Auth0},
		{"rfc9068_profile", oauthtest.RFC9068},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := mint(t, iss, oauthtest.Token{
				Dialect: tc.dialect, Subject: "auth0|42", Scope: "openid read:messages",
				Permissions: []string{"write:messages"}, ClientID: "client-7",
			})
			got, err := g.Check(bearer(tok))
			require.NoError(t, err)
			c := got.Claims
			assert.Equal(t, "auth0|42", c.Subject())
			assert.Equal(t, iss.Issuer(), c.Issuer())
			assert.Equal(t, "client-7", c.ClientID())
			assert.Contains(t, c.Audience(), audience)
			assert.True(t, c.HasScope("read:messages"))
			assert.True(t, c.Grants("write:messages"))
			assert.Equal(t, middleware.MechanismNone, got.Binding.Mechanism)

			a := serve(g, bearer(tok))
			assert.Equal(t, http.StatusOK, a.status)
			assert.Equal(t, "auth0|42", a.body)
		})
	}
}

func TestRFC9068TypeRequired(t *testing.T) {
	iss := newIssuer(t)
	g := newGuard(t, iss, middleware.WithRFC9068())
	_, err := g.Check(bearer(mint(t, iss, oauthtest.Token{Dialect: oauthtest.RFC9068})))
	require.NoError(t, err)
	// An ID token or an Auth0 default-profile token has typ JWT.
	_, err = g.Check(bearer(mint(t, iss, oauthtest.Token{Dialect: oauthtest.Auth0})))
	require.ErrorIs(t, err, middleware.ErrTokenType)
	// The profile's required claims (RFC 9068 §2.2).
	for _, claim := range []string{"sub", "client_id", "jti", "iat"} {
		_, err = g.Check(bearer(mint(t, iss, oauthtest.Token{Dialect: oauthtest.RFC9068, Claims: map[string]any{claim: nil}})))
		require.ErrorIs(t, err, middleware.ErrClaims, claim)
	}
}

// TestTokenRejected walks every reason a token itself is refused. Each row
// names the attack and the sentinel it must produce.
func TestTokenRejected(t *testing.T) {
	iss := newIssuer(t)
	other := newIssuer(t) // an issuer the API does not trust
	g := newGuard(t, iss, middleware.WithLeeway(time.Second))
	kid := iss.CurrentKeyID()
	rsaPub := iss.PublicKey(kid).(*rsa.PublicKey)
	der, err := x509.MarshalPKIXPublicKey(rsaPub)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	ecKid, err := iss.AddKey("ES256")
	require.NoError(t, err)
	now := time.Now()

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"alg none", unsigned(t, map[string]any{"alg": "none", "kid": kid}, goodClaims(iss), "c2ln"), middleware.ErrAlgorithm},
		{"alg none without signature", unsigned(t, map[string]any{"alg": "none", "kid": kid}, goodClaims(iss), ""), middleware.ErrMalformedToken},
		{"HS256 keyed with the RSA public key (algorithm confusion)",
			handMade(t, jwt.SigningMethodHS256, pubPEM, map[string]any{"kid": kid}, goodClaims(iss)), middleware.ErrAlgorithm},
		{"RSA key named by kid, header says ES256 (key type does not fit alg)",
			handMade(t, jwt.SigningMethodES256, iss.PrivateKey(ecKid), map[string]any{"kid": kid}, goodClaims(iss)), middleware.ErrAlgorithm},
		{"signature stripped and replaced", strings.Join(append(strings.Split(mint(t, iss, oauthtest.Token{}), ".")[:2], "AAAA"), "."), middleware.ErrSignature},
		{"payload changed after signing", func() string {
			p := strings.Split(mint(t, iss, oauthtest.Token{}), ".")
			p[1] = strings.Split(mint(t, iss, oauthtest.Token{Subject: "admin"}), ".")[1]
			return strings.Join(p, ".")
		}(), middleware.ErrSignature},
		{"expired", mint(t, iss, oauthtest.Token{IssuedAt: now.Add(-2 * time.Hour), ExpiresIn: time.Hour}), middleware.ErrExpired},
		{"nbf in the future", mint(t, iss, oauthtest.Token{NotBefore: now.Add(time.Hour)}), middleware.ErrNotYetValid},
		{"iat in the future", mint(t, iss, oauthtest.Token{IssuedAt: now.Add(time.Hour)}), middleware.ErrIssuedInFuture},
		{"no exp", mint(t, iss, oauthtest.Token{Claims: map[string]any{"exp": nil}}), middleware.ErrClaims},
		{"wrong aud", mint(t, iss, oauthtest.Token{Audience: []string{"https://other.example.com"}}), middleware.ErrAudience},
		{"untrusted issuer", mint(t, other, oauthtest.Token{}), middleware.ErrIssuer},
		{"iss claims the trusted issuer, signed by another", handMade(t, jwt.SigningMethodRS256, other.PrivateKey(other.CurrentKeyID()),
			map[string]any{"kid": other.CurrentKeyID()}, goodClaims(iss)), middleware.ErrUnknownKey},
		{"unknown crit", mint(t, iss, oauthtest.Token{Header: map[string]any{"crit": []string{"exp"}, "exp": 1}}), middleware.ErrCritical},
		{"exp beyond year 9999", mint(t, iss, oauthtest.Token{Claims: map[string]any{"exp": 1e300}}), middleware.ErrClaims},
		{"exp as a string", mint(t, iss, oauthtest.Token{Claims: map[string]any{"exp": "9999999999"}}), middleware.ErrClaims},
		{"aud as an object", mint(t, iss, oauthtest.Token{Claims: map[string]any{"aud": map[string]any{"a": audience}}}), middleware.ErrClaims},
		{"cnf as an array", mint(t, iss, oauthtest.Token{Claims: map[string]any{"cnf": []string{"x"}}}), middleware.ErrClaims},
		{"empty jkt", mint(t, iss, oauthtest.Token{Claims: map[string]any{"cnf": map[string]any{"jkt": ""}}}), middleware.ErrClaims},
		{"padded jkt", mint(t, iss, oauthtest.Token{JKT: strings.Repeat("A", 43) + "="}), middleware.ErrClaims},
		{"not three parts", "abc.def", middleware.ErrMalformedToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := g.Check(bearer(tc.token))
			require.ErrorIs(t, err, tc.want)
			var e *middleware.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, middleware.CodeInvalidToken, e.Code)
			assert.Equal(t, http.StatusUnauthorized, e.Status)
			assert.NotContains(t, e.Error(), tc.token, "error text must not echo the token")
		})
	}
}

// TestHeaderKeyLocationsIgnored: a token that names an attacker's key in
// jku, x5u, jwk or x5c is still verified only with the issuer's keys.
func TestHeaderKeyLocationsIgnored(t *testing.T) {
	iss := newIssuer(t)
	attacker := newIssuer(t)
	g := newGuard(t, iss)
	fetchesBefore := attacker.JWKSFetches()
	for _, member := range []string{"jku", "x5u", "jwk", "x5c"} {
		t.Run(member, func(t *testing.T) {
			value := map[string]any{"jku": attacker.JWKSURL(), "x5u": attacker.JWKSURL(),
				"jwk": map[string]any{"kty": "RSA"}, "x5c": []string{"MIIB"}}[member]
			forged := handMade(t, jwt.SigningMethodRS256, attacker.PrivateKey(attacker.CurrentKeyID()),
				map[string]any{"kid": attacker.CurrentKeyID(), member: value}, goodClaims(iss))
			_, err := g.Check(bearer(forged))
			require.ErrorIs(t, err, middleware.ErrUnknownKey)
			// The same header member on a genuine token changes nothing.
			genuine := mint(t, iss, oauthtest.Token{Header: map[string]any{member: value}})
			_, err = g.Check(bearer(genuine))
			require.NoError(t, err)
		})
	}
	assert.Equal(t, fetchesBefore, attacker.JWKSFetches(), "the verifier must never fetch a URL the token names")
}

func TestBoundTokenAsBearerRejected(t *testing.T) {
	iss := newIssuer(t)
	g := newGuard(t, iss)
	thumb := strings.Repeat("x", 43)
	for _, tc := range []struct {
		name string
		tok  oauthtest.Token
		want error
	}{
		{"cnf.jkt", oauthtest.Token{JKT: thumb}, middleware.ErrBoundTokenAsBearer},
		{"cnf.x5t#S256 without a certificate", oauthtest.Token{X5TS256: thumb}, middleware.ErrBindingMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := serve(g, bearer(mint(t, iss, tc.tok)))
			assert.Equal(t, http.StatusUnauthorized, a.status)
			_, err := g.Check(bearer(mint(t, iss, tc.tok)))
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestExtraction(t *testing.T) {
	iss := newIssuer(t)
	tok := mint(t, iss, oauthtest.Token{})
	g := newGuard(t, iss)
	gq := newGuard(t, iss, middleware.WithQueryToken(), middleware.WithFormToken())
	req := func(mod func(r *http.Request)) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "https://api.example.com/r", nil)
		mod(r)
		return r
	}
	tests := []struct {
		name   string
		g      *middleware.Guard
		r      *http.Request
		status int
		want   error
	}{
		{"lower-case scheme", g, req(func(r *http.Request) { r.Header.Set("Authorization", "bearer "+tok) }), 200, nil},
		{"upper-case scheme", g, req(func(r *http.Request) { r.Header.Set("Authorization", "BEARER "+tok) }), 200, nil},
		{"no credentials", g, req(func(r *http.Request) {}), 401, middleware.ErrNoCredentials},
		{"other scheme", g, req(func(r *http.Request) { r.Header.Set("Authorization", "Basic dXNlcjpwYXNz") }), 401, middleware.ErrNoCredentials},
		{"two Authorization headers", g, req(func(r *http.Request) {
			r.Header.Add("Authorization", "Bearer "+tok)
			r.Header.Add("Authorization", "Bearer "+tok)
		}), 400, middleware.ErrMultipleCredentials},
		{"two spaces (1*SP)", g, req(func(r *http.Request) { r.Header.Set("Authorization", "Bearer  "+tok) }), 200, nil},
		{"tab after scheme", g, req(func(r *http.Request) { r.Header.Set("Authorization", "Bearer\t"+tok) }), 401, middleware.ErrNoCredentials},
		{"trailing space", g, req(func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok+" ") }), 400, middleware.ErrMalformedRequest},
		{"non-ASCII", g, req(func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok+"é") }), 400, middleware.ErrMalformedRequest},
		{"scheme only", g, req(func(r *http.Request) { r.Header.Set("Authorization", "Bearer") }), 400, middleware.ErrMalformedRequest},
		{"64 KiB header, before parsing", g, req(func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+strings.Repeat("a", 64<<10))
		}), 401, middleware.ErrTokenTooLarge},
		{"query token off by default", g, req(func(r *http.Request) { r.URL.RawQuery = "access_token=" + tok }), 401, middleware.ErrNoCredentials},
		{"query token when enabled", gq, req(func(r *http.Request) { r.URL.RawQuery = "access_token=" + tok }), 200, nil},
		{"query and header", gq, req(func(r *http.Request) {
			r.URL.RawQuery = "access_token=" + tok
			r.Header.Set("Authorization", "Bearer "+tok)
		}), 400, middleware.ErrMultipleCredentials},
		{"form token when enabled", gq, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "https://api.example.com/r", strings.NewReader(url.Values{"access_token": {tok}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}(), 200, nil},
		{"form token off by default", g, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "https://api.example.com/r", strings.NewReader(url.Values{"access_token": {tok}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}(), 401, middleware.ErrNoCredentials},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := serve(tc.g, tc.r)
			assert.Equal(t, tc.status, a.status)
			if tc.want != nil {
				// Requests are single-use when they carry a body.
				if tc.r.Method == http.MethodGet {
					_, err := tc.g.Check(tc.r)
					require.ErrorIs(t, err, tc.want)
				}
			}
		})
	}
}

// TestChallenges pins the exact WWW-Authenticate values for each row of the
// error table.
func TestChallenges(t *testing.T) {
	iss := newIssuer(t)
	tok := mint(t, iss, oauthtest.Token{Scope: "read:messages"})
	expired := mint(t, iss, oauthtest.Token{IssuedAt: time.Now().Add(-3 * time.Hour), ExpiresIn: time.Hour})
	plain := newGuard(t, iss, middleware.WithRealm("api"))
	dpopRequired := newGuard(t, iss, middleware.WithProofOfPossession(middleware.MechanismDPoP, true))
	mtlsOnly := newGuard(t, iss, middleware.WithProofOfPossession(middleware.MechanismMTLS, true),
		middleware.WithResourceMetadata("https://api.example.com/.well-known/oauth-protected-resource"))
	algs := `algs="ES256 ES384 PS256 RS256 EdDSA Ed25519"`

	get := func(auth ...string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "https://api.example.com/r", nil)
		for _, a := range auth {
			r.Header.Add("Authorization", a)
		}
		return r
	}
	tests := []struct {
		name   string
		g      *middleware.Guard
		h      http.Handler
		r      *http.Request
		status int
		want   []string
	}{
		{"no credentials", plain, nil, get(), 401, []string{`Bearer realm="api"`, `DPoP realm="api", ` + algs}},
		{"several credentials", plain, nil, get("Bearer "+tok, "Bearer "+tok), 400, []string{
			`Bearer realm="api", error="invalid_request", error_description="more than one Authorization header"`,
			`DPoP realm="api", ` + algs + `, error="invalid_request", error_description="more than one Authorization header"`}},
		{"expired token", plain, nil, get("Bearer " + expired), 401, []string{
			`Bearer realm="api", error="invalid_token", error_description="invalid token claims"`,
			`DPoP realm="api", ` + algs}},
		{"DPoP required, bearer token", dpopRequired, nil, get("Bearer " + tok), 401, []string{
			`DPoP ` + algs + `, error="invalid_token", error_description="sender-constrained token required"`}},
		{"mTLS only, no credentials", mtlsOnly, nil, get(), 401, []string{
			`Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"`}},
		{"missing scope", plain, plain.Handler(plain.RequireScopes("write:messages")(http.NotFoundHandler())),
			get("Bearer " + tok), 403, []string{
				`Bearer realm="api", error="insufficient_scope", error_description="insufficient scope", scope="write:messages"`,
				`DPoP realm="api", ` + algs}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			if h == nil {
				h = tc.g.Handler(http.NotFoundHandler())
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tc.r)
			assert.Equal(t, tc.status, w.Code)
			assert.Equal(t, tc.want, w.Result().Header.Values("WWW-Authenticate"))
		})
	}
}

func TestKeysUnavailableFailsClosed(t *testing.T) {
	iss := newIssuer(t)
	iss.SetFault(oauthtest.Fault{Down: true})
	g := newGuard(t, iss)
	tok := mint(t, iss, oauthtest.Token{})
	a := serve(g, bearer(tok))
	assert.Equal(t, http.StatusServiceUnavailable, a.status)
	_, err := g.Check(bearer(tok))
	require.ErrorIs(t, err, middleware.ErrUnavailable)
	require.ErrorIs(t, err, jwks.ErrUnavailable)

	iss.SetFault(oauthtest.Fault{})
	require.Eventually(t, func() bool { return serve(g, bearer(tok)).status == http.StatusOK },
		10*time.Second, 20*time.Millisecond, "recovers when the JWKS comes up")
}

func TestRotationAndRevocationThroughTheCache(t *testing.T) {
	iss := newIssuer(t)
	g := newGuard(t, iss)
	old := mint(t, iss, oauthtest.Token{})
	require.Equal(t, 200, serve(g, bearer(old)).status)
	require.Equal(t, 200, serve(g, bearer(old)).status, "cached")

	// A key the API has never seen: picked up without a restart.
	kid, err := iss.AddKey("RS256")
	require.NoError(t, err)
	fresh := mint(t, iss, oauthtest.Token{KeyID: kid})
	assert.Equal(t, 200, serve(g, bearer(fresh)).status)

	// Revocation: the cached token keeps working until the API refreshes
	// the JWKS, and stops at once after that refresh (here triggered by
	// another unknown kid; the periodic refresh does the same).
	iss.Revoke(iss.CurrentKeyID())
	_, err = g.Check(bearer(old))
	require.NoError(t, err, "no refresh yet")
	kid3, err := iss.AddKey("RS256")
	require.NoError(t, err)
	require.Equal(t, 200, serve(g, bearer(mint(t, iss, oauthtest.Token{KeyID: kid3}))).status)
	_, err = g.Check(bearer(old))
	require.ErrorIs(t, err, middleware.ErrUnknownKey)
}

func TestHMACOnlyForTheConfiguredIssuer(t *testing.T) {
	iss := newIssuer(t)
	secret := []byte(strings.Repeat("s", 32))
	g := newGuard(t, iss, middleware.WithHMACSecret(iss.Issuer(), secret))
	tok, err := iss.MintHS256(oauthtest.Token{}, secret)
	require.NoError(t, err)
	_, err = g.Check(bearer(tok))
	require.NoError(t, err)

	wrong, err := iss.MintHS256(oauthtest.Token{}, []byte(strings.Repeat("t", 32)))
	require.NoError(t, err)
	_, err = g.Check(bearer(wrong))
	require.ErrorIs(t, err, middleware.ErrSignature)

	// Without the option HS256 is never accepted.
	_, err = newGuard(t, iss).Check(bearer(tok))
	require.ErrorIs(t, err, middleware.ErrAlgorithm)
}

func TestNewRejectsBadConfiguration(t *testing.T) {
	iss := newIssuer(t)
	keys := newKeys(t, iss)
	_, err := middleware.New(keys)
	require.ErrorContains(t, err, "audience")
	_, err = middleware.New(keys, middleware.WithAudience(audience), middleware.WithAlgorithms("none"),
		middleware.WithHMACSecret(iss.Issuer(), []byte("short")), middleware.WithLeeway(time.Hour))
	require.Error(t, err)
	for _, part := range []string{"none", "32 bytes", "leeway"} {
		assert.ErrorContains(t, err, part, "every problem is reported at once")
	}
	_, err = middleware.New(keys, middleware.WithAudience(audience), middleware.WithAlgorithms())
	require.ErrorContains(t, err, "empty algorithm list")
	assert.False(t, errors.Is(err, middleware.ErrAlgorithm))
}
