package middleware_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

const audience = "https://api.example.com"

// newIssuer starts a test issuer that is closed when the test ends.
func newIssuer(t testing.TB, opts ...oauthtest.Option) *oauthtest.Issuer {
	t.Helper()
	iss, err := oauthtest.NewIssuer(opts...)
	require.NoError(t, err)
	t.Cleanup(iss.Close)
	return iss
}

// newKeys returns jwks.Keys for the issuers, closed when the test ends.
func newKeys(t testing.TB, issuers ...*oauthtest.Issuer) *jwks.Keys {
	t.Helper()
	opts := []jwks.Option{jwks.WithRefreshRateLimit(time.Millisecond), jwks.WithRateLimitWait(time.Second)}
	for _, iss := range issuers {
		opts = append(opts, jwks.WithIssuerJWKS(iss.Issuer(), iss.JWKSURL()))
	}
	keys, err := jwks.New(context.Background(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = keys.Close() })
	return keys
}

// newGuard returns a Guard trusting iss, for the test audience.
func newGuard(t testing.TB, iss *oauthtest.Issuer, opts ...middleware.Option) *middleware.Guard {
	t.Helper()
	g, err := middleware.New(newKeys(t, iss), append([]middleware.Option{middleware.WithAudience(audience)}, opts...)...)
	require.NoError(t, err)
	return g
}

func mint(t testing.TB, iss *oauthtest.Issuer, tok oauthtest.Token) string {
	t.Helper()
	s, err := iss.Mint(tok)
	require.NoError(t, err)
	return s
}

// answer is what a client saw.
type answer struct {
	status    int
	challenge []string
	nonce     string
	body      string
}

// serve sends r through g.Handler around a handler that echoes the subject.
func serve(g *middleware.Guard, r *http.Request) answer {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := middleware.ClaimsFromContext(r.Context())
		if !ok {
			http.Error(w, "no claims", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, c.Subject())
	})
	w := httptest.NewRecorder()
	g.Handler(next).ServeHTTP(w, r)
	return answer{
		status:    w.Code,
		challenge: w.Result().Header.Values("WWW-Authenticate"),
		nonce:     w.Result().Header.Get("DPoP-Nonce"),
		body:      w.Body.String(),
	}
}

func bearer(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://api.example.com/resource", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// handMade signs claims with header members of our choosing, with a
// signer that is not the issuer's minting code.
func handMade(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// unsigned builds header.payload.signature from JSON values by hand.
func unsigned(t testing.TB, header, claims map[string]any, sig string) string {
	t.Helper()
	h, err := json.Marshal(header)
	require.NoError(t, err)
	p, err := json.Marshal(claims)
	require.NoError(t, err)
	enc := base64.RawURLEncoding.EncodeToString
	return strings.Join([]string{enc(h), enc(p), sig}, ".")
}

func goodClaims(iss *oauthtest.Issuer) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": iss.Issuer(), "sub": "user-1", "aud": audience,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// must returns v, or panics on err: for key encodings that cannot fail.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
