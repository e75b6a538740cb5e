package middleware_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/clientauth"
	"github.com/senderbound/senderbound/introspect"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
	"github.com/senderbound/senderbound/observe"
)

const rsID, rsSecret = "resource-server", "rs-secret"

// introspectingIssuer starts a test issuer with the resource server
// registered, and a Client for its introspection endpoint.
func introspectingIssuer(t testing.TB, opts ...introspect.Option) (*oauthtest.Issuer, *introspect.Client) {
	t.Helper()
	iss := newIssuer(t)
	require.NoError(t, iss.RegisterClient(oauthtest.Client{ID: rsID, Secret: rsSecret}))
	opts = append([]introspect.Option{introspect.WithClientAuth(clientauth.ClientSecretBasic(rsID, rsSecret))}, opts...)
	c, err := introspect.New(context.Background(), iss.Issuer(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return iss, c
}

func mintOpaque(t testing.TB, iss *oauthtest.Issuer, tok oauthtest.Token) string {
	t.Helper()
	s, err := iss.MintOpaque(tok)
	require.NoError(t, err)
	return s
}

// fixedAnswer returns a Client whose endpoint answers every request with
// body (a JSON object), for the claim rules.
func fixedAnswer(t testing.TB, issuer string, body any) *introspect.Client {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	c, err := introspect.New(context.Background(), issuer, introspect.WithEndpoint(srv.URL),
		introspect.WithClientAuth(clientauth.ClientSecretPost(rsID, rsSecret)), introspect.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestIntrospectedClaimRules: an introspection answer is held to the rules
// of a JWT's claims, each with its own sentinel.
func TestIntrospectedClaimRules(t *testing.T) {
	const issuer = "https://issuer.example/"
	now := time.Now()
	signer := newSigner(t)
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{"active": true, "sub": "alice", "aud": audience, "scope": "read write",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "client_id": "app"}
		for k, v := range extra {
			if v == nil {
				delete(m, k)
				continue
			}
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name   string
		answer map[string]any
		dpop   bool // present with the DPoP scheme and a valid proof
		status int
		want   error
	}{
		{"active bearer token", base(nil), false, 200, nil},
		{"no exp (RFC 7662: optional)", base(map[string]any{"exp": nil}), false, 200, nil},
		{"no iss: the configured issuer", base(map[string]any{"iss": nil}), false, 200, nil},
		{"iss the configured issuer", base(map[string]any{"iss": issuer}), false, 200, nil},
		{"active false", map[string]any{"active": false}, false, 401, middleware.ErrInactive},
		{"active the string true", base(map[string]any{"active": "true"}), false, 503, introspect.ErrResponse},
		{"active 1", base(map[string]any{"active": 1}), false, 503, introspect.ErrResponse},
		{"active missing", base(map[string]any{"active": nil}), false, 503, introspect.ErrResponse},
		{"expired although active", base(map[string]any{"exp": now.Add(-time.Hour).Unix()}), false, 401, middleware.ErrExpired},
		{"not yet valid", base(map[string]any{"nbf": now.Add(time.Hour).Unix()}), false, 401, middleware.ErrNotYetValid},
		{"issued in the future", base(map[string]any{"iat": now.Add(time.Hour).Unix()}), false, 401, middleware.ErrIssuedInFuture},
		{"exp as a string", base(map[string]any{"exp": "9999999999"}), false, 503, introspect.ErrResponse},
		{"another API's audience", base(map[string]any{"aud": "https://other.example.com"}), false, 401, middleware.ErrAudience},
		{"no audience", base(map[string]any{"aud": nil}), false, 401, middleware.ErrClaims},
		{"another issuer", base(map[string]any{"iss": "https://evil.example/"}), false, 401, middleware.ErrIssuer},
		{"sub twice in case variants", base(map[string]any{"SUB": "admin"}), false, 401, middleware.ErrClaims},
		{"cnf naming no method we verify", base(map[string]any{"cnf": map[string]any{"jwk": map[string]any{"kty": "EC"}}}), false, 401, middleware.ErrUnsupportedBinding},
		{"cnf empty", base(map[string]any{"cnf": map[string]any{}}), false, 401, middleware.ErrUnsupportedBinding},
		{"DPoP-bound presented as Bearer", base(map[string]any{"cnf": map[string]any{"jkt": signer.Thumbprint()}, "token_type": "DPoP"}), false, 401, middleware.ErrBoundTokenAsBearer},
		{"DPoP-bound with its proof", base(map[string]any{"cnf": map[string]any{"jkt": signer.Thumbprint()}, "token_type": "DPoP"}), true, 200, nil},
		{"DPoP-bound, token_type absent", base(map[string]any{"cnf": map[string]any{"jkt": signer.Thumbprint()}}), true, 200, nil},
		{"DPoP-bound, token_type dpop in lower case", base(map[string]any{"cnf": map[string]any{"jkt": signer.Thumbprint()}, "token_type": "dpop"}), true, 200, nil},
		{"cnf.jkt but token_type Bearer", base(map[string]any{"cnf": map[string]any{"jkt": signer.Thumbprint()}, "token_type": "Bearer"}), true, 401, middleware.ErrTokenType},
		{"token_type DPoP without cnf.jkt", base(map[string]any{"token_type": "DPoP"}), false, 401, middleware.ErrTokenType},
		{"another key's thumbprint", base(map[string]any{"cnf": map[string]any{"jkt": newSigner(t).Thumbprint()}, "token_type": "DPoP"}), true, 401, middleware.ErrBindingMismatch},
		{"certificate-bound without a certificate", base(map[string]any{"cnf": map[string]any{"x5t#S256": strings.Repeat("A", 43)}}), false, 401, middleware.ErrBindingMismatch},
		{"both bindings", base(map[string]any{"cnf": map[string]any{"x5t#S256": strings.Repeat("A", 43), "jkt": signer.Thumbprint()}}), true, 401, middleware.ErrClaims},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := middleware.New(nil, middleware.WithAudience(audience), middleware.WithIntrospection(fixedAnswer(t, issuer, tc.answer)))
			require.NoError(t, err)
			const token = "opaque-token-123"
			req := middleware.Request{Scheme: "Bearer", Token: token, Method: http.MethodGet, URL: must(url.Parse(resource))}
			if tc.dpop {
				req.Scheme = "DPoP"
				req.Proof = proof(t, signer, http.MethodGet, resource, token, "")
			}
			tok, err := g.Verify(context.Background(), req)
			if tc.status == 200 {
				require.NoError(t, err)
				assert.Equal(t, "alice", tok.Claims.Subject())
				assert.Equal(t, issuer, tok.Claims.Issuer())
				assert.Equal(t, []string{"read", "write"}, tok.Claims.Scopes())
				assert.Equal(t, "app", tok.Claims.ClientID())
				if tc.dpop {
					assert.Equal(t, middleware.MechanismDPoP, tok.Binding.Mechanism)
				}
				return
			}
			var e *middleware.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.status, e.Status)
			require.ErrorIs(t, err, tc.want)
			if tc.status == 401 {
				assert.Equal(t, middleware.CodeInvalidToken, e.Code)
			}
		})
	}
}

// TestOpaqueDPoPBound: a DPoP-bound opaque token is accepted only with a
// proof by its key, on every request, cache hit or not.
func TestOpaqueDPoPBound(t *testing.T) {
	iss, c := introspectingIssuer(t)
	g, err := middleware.New(nil, middleware.WithAudience(audience), middleware.WithIntrospection(c))
	require.NoError(t, err)
	client, thief := newSigner(t), newSigner(t)
	tok := mintOpaque(t, iss, oauthtest.Token{JKT: client.Thumbprint(), Subject: "alice"})

	for i := range 2 { // the second round comes from the caches
		t.Run(fmt.Sprint("round ", i), func(t *testing.T) {
			a := serve(g, dpopRequest(t, tok, proof(t, client, http.MethodGet, resource, tok, "")))
			assert.Equal(t, 200, a.status)
			assert.Equal(t, "alice", a.body)
			for name, r := range map[string]*http.Request{
				"Bearer downgrade":        bearerAt(tok),
				"no proof":                dpopRequest(t, tok, ""),
				"proof by another key":    dpopRequest(t, tok, proof(t, thief, http.MethodGet, resource, tok, "")),
				"proof for another token": dpopRequest(t, tok, proof(t, client, http.MethodGet, resource, "other", "")),
			} {
				a := serve(g, r)
				assert.Equal(t, 401, a.status, name)
			}
		})
	}
	assert.Equal(t, 1, iss.IntrospectionRequests(), "one call; every later request was answered by a cache")
}

func bearerAt(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, resource, nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// TestOpaqueCertificateBound: a certificate-bound opaque token is accepted
// only with its certificate.
func TestOpaqueCertificateBound(t *testing.T) {
	iss, c := introspectingIssuer(t)
	g, err := middleware.New(nil, middleware.WithAudience(audience), middleware.WithIntrospection(c))
	require.NoError(t, err)
	cert, _ := clientCert(t, "client")
	other, _ := clientCert(t, "thief")
	tok := mintOpaque(t, iss, oauthtest.Token{X5TS256: mtls.Thumbprint(cert)})
	for _, tc := range []struct {
		name string
		cert *x509.Certificate
		ok   bool
	}{
		{"its certificate", cert, true},
		{"no certificate", nil, false},
		{"another certificate", other, false},
		{"its certificate again (cache hit)", cert, true},
		{"another certificate again (cache hit)", other, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := g.Verify(context.Background(), middleware.Request{Scheme: "Bearer", Token: tok, Certificate: tc.cert})
			if tc.ok {
				require.NoError(t, err)
				assert.Equal(t, middleware.MechanismMTLS, got.Binding.Mechanism)
				return
			}
			require.ErrorIs(t, err, middleware.ErrBindingMismatch)
		})
	}
}

// TestIntrospectionFaultsAnswer503: every fault of the endpoint is a 503
// with Retry-After, logged at Error level with its cause, never the token.
func TestIntrospectionFaultsAnswer503(t *testing.T) {
	for name, f := range map[string]oauthtest.Fault{
		"5xx":                {Down: true},
		"non-JSON":           {Garbage: true},
		"oversized":          {Oversized: 1 << 20},
		"active as a string": {ActiveAsString: true},
	} {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			var mu sync.Mutex
			logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
			iss, c := introspectingIssuer(t, introspect.WithLogger(logger))
			g, err := middleware.New(nil, middleware.WithAudience(audience), middleware.WithIntrospection(c), middleware.WithLogger(logger))
			require.NoError(t, err)
			tok := mintOpaque(t, iss, oauthtest.Token{})
			iss.SetIntrospectionFault(f)
			w := httptest.NewRecorder()
			g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("handler ran") })).ServeHTTP(w, bearerAt(tok))
			assert.Equal(t, http.StatusServiceUnavailable, w.Code)
			assert.NotEmpty(t, w.Header().Get("Retry-After"))
			assert.Empty(t, w.Header().Get("WWW-Authenticate"), "a 503 never blames the client")
			mu.Lock()
			out := logs.String()
			mu.Unlock()
			assert.Contains(t, out, "level=ERROR")
			assert.Contains(t, out, "introspect")
			assert.NotContains(t, out, tok)
		})
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestIntrospectionFlood503: beyond the call limits a request is a 503
// with Retry-After, and the observer hears of it.
func TestIntrospectionFlood503(t *testing.T) {
	var limited, decided int
	var mu sync.Mutex
	obs := &observe.Observer{
		Introspection: func(_ context.Context, e observe.Introspection) {
			if e.Outcome == observe.IntrospectionLimited {
				mu.Lock()
				limited++
				mu.Unlock()
			}
		},
		Request: func(_ context.Context, e observe.Request) {
			if e.ReasonName == "introspection_limited" {
				mu.Lock()
				decided++
				mu.Unlock()
			}
		},
	}
	iss, c := introspectingIssuer(t, introspect.WithLimits(2, 2), introspect.WithObserver(obs), introspect.WithLogger(slog.New(slog.DiscardHandler)))
	g, err := middleware.New(nil, middleware.WithAudience(audience), middleware.WithIntrospection(c), middleware.WithObserver(obs))
	require.NoError(t, err)
	statuses := map[int]int{}
	for i := range 20 {
		a := serve(g, bearerAt(fmt.Sprintf("random-%d", i)))
		statuses[a.status]++
	}
	assert.LessOrEqual(t, iss.IntrospectionRequests(), 2)
	assert.Equal(t, iss.IntrospectionRequests(), statuses[401], "the calls made said inactive")
	assert.Equal(t, 20-statuses[401], statuses[503])
	mu.Lock()
	assert.Equal(t, statuses[503], limited)
	assert.Equal(t, statuses[503], decided)
	mu.Unlock()
}

// TestWhichTokensAreIntrospected: with a key source and introspection, a
// JWT is verified locally and an opaque token introspected; without a key
// source every token is introspected.
func TestWhichTokensAreIntrospected(t *testing.T) {
	iss, c := introspectingIssuer(t)
	both, err := middleware.New(newKeys(t, iss), middleware.WithAudience(audience), middleware.WithIntrospection(c))
	require.NoError(t, err)
	jwt := mint(t, iss, oauthtest.Token{Subject: "jwt-user"})
	ref := mintOpaque(t, iss, oauthtest.Token{Subject: "opaque-user"})

	a := serve(both, bearer(jwt))
	assert.Equal(t, 200, a.status)
	assert.Equal(t, "jwt-user", a.body)
	assert.Equal(t, 0, iss.IntrospectionRequests(), "a JWT never goes to the introspection endpoint")
	a = serve(both, bearer(ref))
	assert.Equal(t, 200, a.status)
	assert.Equal(t, "opaque-user", a.body)
	assert.Equal(t, 1, iss.IntrospectionRequests())
	a = serve(both, bearer(jwt[:len(jwt)-4]+"AAAA"))
	assert.Equal(t, 401, a.status, "a JWT with a bad signature")
	assert.Equal(t, 1, iss.IntrospectionRequests(), "is refused locally, not introspected")

	jwtOnly := newGuard(t, iss)
	a = serve(jwtOnly, bearer(ref))
	assert.Equal(t, 401, a.status, "without WithIntrospection an opaque token is malformed")
	assert.Equal(t, 1, iss.IntrospectionRequests())

	only, err := middleware.New(nil, middleware.WithAudience(audience), middleware.WithIntrospection(c))
	require.NoError(t, err)
	a = serve(only, bearer(jwt))
	assert.Equal(t, 401, a.status, "the issuer knows no such reference token")
	assert.Equal(t, 2, iss.IntrospectionRequests(), "an introspection-only Guard asks about every token")
}

func TestWithIntrospectionConfiguration(t *testing.T) {
	_, c := introspectingIssuer(t)
	_, err := middleware.New(nil, middleware.WithAudience(audience), middleware.WithIntrospection(c), middleware.WithIntrospection(c))
	require.ErrorContains(t, err, "one issuer only")
	_, err = middleware.New(nil, middleware.WithAudience(audience), middleware.WithIntrospection(nil))
	require.ErrorContains(t, err, "nil introspection client")
	_, err = middleware.New(nil, middleware.WithAudience(audience))
	require.ErrorContains(t, err, "nil key source")
}

// TestGuardCacheKeepsIntrospectionRevocationLatency: the Guard's token
// cache keeps an introspected answer no longer than the introspection
// client does, so revocation latency is the client's cache time.
func TestGuardCacheKeepsIntrospectionRevocationLatency(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cache time.Duration
	}{
		{"introspection cache off: revoked at once", 0},
		{"introspection cache 30s: revoked 30s later", 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			now := time.Now()
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			iss, c := introspectingIssuer(t, introspect.WithCache(tc.cache), introspect.WithClock(clock))
			g, err := middleware.New(nil, middleware.WithAudience(audience), middleware.WithIntrospection(c),
				middleware.WithTokenCache(100, 5*time.Minute), middleware.WithClock(clock))
			require.NoError(t, err)
			tok := mintOpaque(t, iss, oauthtest.Token{})
			assert.Equal(t, 200, serve(g, bearer(tok)).status)
			iss.RevokeToken(tok)
			if tc.cache > 0 {
				assert.Equal(t, 200, serve(g, bearer(tok)).status, "within the cache time")
				mu.Lock()
				now = now.Add(tc.cache)
				mu.Unlock()
			}
			assert.Equal(t, 401, serve(g, bearer(tok)).status)
		})
	}
}

// TestIntrospectionJWTAnswersThroughGuard: RFC 9701 answers verified with
// the issuer's keys; a forged one is a 503.
func TestIntrospectionJWTAnswersThroughGuard(t *testing.T) {
	iss := newIssuer(t)
	require.NoError(t, iss.RegisterClient(oauthtest.Client{ID: rsID, Secret: rsSecret}))
	keys := newKeys(t, iss)
	c, err := introspect.New(context.Background(), iss.Issuer(),
		introspect.WithClientAuth(clientauth.ClientSecretPost(rsID, rsSecret)),
		introspect.WithJWTResponse(keys, rsID), introspect.WithCache(0), introspect.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	defer c.Close()
	g, err := middleware.New(keys, middleware.WithAudience(audience), middleware.WithIntrospection(c), middleware.WithTokenCache(0, 0))
	require.NoError(t, err)
	tok := mintOpaque(t, iss, oauthtest.Token{Subject: "signed-answer"})
	a := serve(g, bearer(tok))
	assert.Equal(t, 200, a.status)
	assert.Equal(t, "signed-answer", a.body)
	for _, f := range []oauthtest.Fault{{WrongIssuer: true}, {WrongAudience: true}} {
		iss.SetIntrospectionFault(f)
		assert.Equal(t, 503, serve(g, bearer(tok)).status)
	}
}

// TestRequireWorksOnIntrospectedTokens: scopes, RAR and step-up read an
// introspection answer as they read a JWT.
func TestRequireWorksOnIntrospectedTokens(t *testing.T) {
	iss, c := introspectingIssuer(t)
	g, err := middleware.New(nil, middleware.WithAudience(audience), middleware.WithIntrospection(c))
	require.NoError(t, err)
	tok := mintOpaque(t, iss, oauthtest.Token{Scope: "read", Claims: map[string]any{
		"acr":                   "urn:mace:incommon:iap:silver",
		"authorization_details": []any{map[string]any{"type": "payment_initiation", "actions": []any{"initiate"}}},
	}})
	handler := g.Handler(g.RequireScopes("read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := middleware.ClaimsFromContext(r.Context())
		_, _ = fmt.Fprint(w, claims.ACR(), len(claims.AuthorizationDetails()))
	})))
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, bearer(tok))
	assert.Equal(t, 200, w.Code)
	assert.Equal(t, "urn:mace:incommon:iap:silver1", w.Body.String())

	w = httptest.NewRecorder()
	g.Handler(g.RequireScopes("write")(http.NotFoundHandler())).ServeHTTP(w, bearer(tok))
	assert.Equal(t, 403, w.Code)
}
