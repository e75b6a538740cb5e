package middleware_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
)

// capture is a slog.Handler that keeps every record, at every level.
type capture struct {
	mu      sync.Mutex
	records []logLine
}

type logLine struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (c *capture) Enabled(context.Context, slog.Level) bool { return true }
func (c *capture) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *capture) WithGroup(string) slog.Handler            { return c }

func (c *capture) Handle(_ context.Context, r slog.Record) error {
	l := logLine{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		l.attrs[a.Key] = a.Value.String()
		return true
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, l)
	return nil
}

// take returns the one line logged since the last call.
func (c *capture) take(t *testing.T) logLine {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	require.Len(t, c.records, 1, "one line per rejection")
	l := c.records[0]
	c.records = nil
	return l
}

// TestRejectionLogLines: each rejection is one line that says why, for which
// issuer, key and client, on which request, at a level that fits: Debug for
// the normal exchanges, Error for failing closed, Info otherwise. Never a
// newline inside a value, never token or proof material.
func TestRejectionLogLines(t *testing.T) {
	iss := newIssuer(t)
	client := newSigner(t)
	nonces, err := dpop.NewHMACNonces([][]byte{[]byte(strings.Repeat("k", 32))})
	require.NoError(t, err)
	withNonces, err := dpop.NewVerifier(dpop.WithNonces(nonces))
	require.NoError(t, err)
	storeDown, err := dpop.NewVerifier(dpop.WithReplayCache(downStore{}))
	require.NoError(t, err)
	logs := &capture{}
	logger := slog.New(logs)
	g := newGuard(t, iss, middleware.WithLogger(logger), middleware.WithPublicURL("https://api.example.com"))
	nonceGuard := newGuard(t, iss, middleware.WithLogger(logger), middleware.WithPublicURL("https://api.example.com"), middleware.WithDPoP(withNonces))
	downGuard := newGuard(t, iss, middleware.WithLogger(logger), middleware.WithPublicURL("https://api.example.com"), middleware.WithDPoP(storeDown))
	kid := iss.CurrentKeyID()

	expired := mint(t, iss, oauthtest.Token{ClientID: "app-1", IssuedAt: time.Now().Add(-3 * time.Hour), ExpiresIn: time.Hour})
	bound := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint(), ClientID: "app-2", Subject: "bob@example.com"})
	// The bound token verifies once, so that it is in the token cache.
	require.Equal(t, http.StatusOK, serve(g, dpopRequest(t, bound, proof(t, client, "GET", resource, bound, ""))).status)
	noProof := proof(t, client, "GET", resource, bound, "")
	badURL := proof(t, client, "GET", "https://public.example.com/r", bound, "")

	tests := []struct {
		name   string
		g      *middleware.Guard
		r      *http.Request
		level  slog.Level
		want   map[string]string
		secret []string
	}{
		{"no credentials", g, httptest.NewRequest(http.MethodGet, resource, nil), slog.LevelDebug,
			map[string]string{"status": "401", "cause": "no_credentials", "issuer": "", "kid": ""}, nil},
		{"expired", g, bearer(expired), slog.LevelInfo,
			map[string]string{"status": "401", "code": "invalid_token", "cause": "expired",
				"issuer": iss.Issuer(), "kid": kid, "client_id": "app-1"}, []string{expired}},
		{"cached token rejected: issuer and kid still known", g, bearer(bound), slog.LevelInfo,
			map[string]string{"status": "401", "code": "invalid_token", "cause": "bound_token_as_bearer",
				"issuer": iss.Issuer(), "kid": kid, "client_id": "app-2"}, []string{bound, "bob@example.com"}},
		{"use_dpop_nonce", nonceGuard, dpopRequest(t, bound, noProof), slog.LevelDebug,
			map[string]string{"status": "401", "code": "use_dpop_nonce", "cause": "nonce_required",
				"issuer": iss.Issuer(), "kid": kid, "client_id": "app-2"}, []string{bound, noProof}},
		{"htu mismatch: the URL this server computed", g, withQuery(dpopRequest(t, bound, badURL), "access_token=q-secret"), slog.LevelInfo,
			map[string]string{"status": "401", "code": "invalid_dpop_proof", "cause": "proof_htu",
				"issuer": iss.Issuer(), "kid": kid, "computed_htu": resource}, []string{bound, badURL, "q-secret"}},
		{"replay store down", downGuard, dpopRequest(t, bound, proof(t, client, "GET", resource, bound, "")), slog.LevelError,
			map[string]string{"status": "503", "cause": "replay_store_unavailable", "issuer": iss.Issuer(), "kid": kid}, []string{bound}},
		{"newlines in the path stay on the line", g, withPath(bearer(expired), "/a\nb\r\nc"), slog.LevelInfo,
			map[string]string{"cause": "expired", "path": "/a; b?; c"}, []string{expired}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.r.RemoteAddr = "192.0.2.10:5555"
			tt.g.Handler(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), tt.r)
			l := logs.take(t)
			assert.Equal(t, tt.level, l.level)
			assert.Equal(t, "request rejected", l.msg)
			assert.Equal(t, "GET", l.attrs["method"])
			assert.Equal(t, "192.0.2.10:5555", l.attrs["remote_addr"])
			assert.NotEmpty(t, l.attrs["reason"])
			if _, ok := tt.want["path"]; !ok {
				assert.Equal(t, tt.r.URL.Path, l.attrs["path"])
			}
			for k, v := range tt.want {
				assert.Equal(t, v, l.attrs[k], k)
			}
			for k, v := range l.attrs {
				assert.NotContains(t, v, "\n", k)
				assert.NotContains(t, v, "\r", k)
				for _, s := range tt.secret {
					for _, part := range strings.Split(s, ".") {
						assert.NotContains(t, v, part, k)
					}
				}
			}
		})
	}
}

// TestRejectionLogInsufficientScope: a RequireScopes rejection comes after
// the token verified, and its line names the token's issuer, kid and client.
func TestRejectionLogInsufficientScope(t *testing.T) {
	iss := newIssuer(t)
	logs := &capture{}
	g := newGuard(t, iss, middleware.WithLogger(slog.New(logs)), middleware.WithPublicURL("https://api.example.com"))
	tok := mint(t, iss, oauthtest.Token{ClientID: "app-1", Scope: "read:messages"})
	h := g.Handler(g.RequireScopes("write:messages")(http.NotFoundHandler()))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, bearer(tok))
	require.Equal(t, http.StatusForbidden, w.Code)
	l := logs.take(t)
	assert.Equal(t, slog.LevelInfo, l.level)
	assert.Equal(t, "insufficient_scope", l.attrs["cause"])
	assert.Equal(t, iss.Issuer(), l.attrs["issuer"])
	assert.Equal(t, iss.CurrentKeyID(), l.attrs["kid"])
	assert.Equal(t, "app-1", l.attrs["client_id"])
}

// TestRejectionLogUntrustedForwarder: a forwarded certificate header that
// was ignored because it did not come from a trusted proxy says so, which
// is how a proxy missing from the trusted list shows.
func TestRejectionLogUntrustedForwarder(t *testing.T) {
	iss := newIssuer(t)
	cert, _ := clientCert(t, "client")
	bound := mint(t, iss, oauthtest.Token{X5TS256: mtls.Thumbprint(cert)})
	src, err := mtls.NewSource(mtls.WithForwardedHeader("X-Client-Cert", mtls.EscapedPEM),
		mtls.WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8")))
	require.NoError(t, err)
	logs := &capture{}
	g := newGuard(t, iss, middleware.WithCertificateSource(src), middleware.WithLogger(slog.New(logs)), middleware.WithPublicURL("https://api.example.com"))

	r := bearer(bound)
	r.RemoteAddr = "192.0.2.7:4444"
	r.Header.Set("X-Client-Cert", url.PathEscape(string(pemOf(cert))))
	assert.Equal(t, http.StatusUnauthorized, serve(g, r).status)
	l := logs.take(t)
	assert.Equal(t, "certificate_untrusted_forwarder", l.attrs["cause"])
	assert.Contains(t, l.attrs["reason"], "not a trusted proxy")
	assert.Equal(t, "192.0.2.7:4444", l.attrs["remote_addr"])

	r = bearer(bound)
	r.RemoteAddr = "192.0.2.7:4444"
	assert.Equal(t, http.StatusUnauthorized, serve(g, r).status)
	assert.Equal(t, "certificate_missing", logs.take(t).attrs["cause"], "no header, nothing ignored")
}

func withQuery(r *http.Request, q string) *http.Request {
	r.URL.RawQuery = q
	return r
}

func withPath(r *http.Request, p string) *http.Request {
	r.URL.Path = p
	return r
}

// TestLogRejection: a rejection answered by the caller is logged like the
// Handler's; an error that is not an *Error is an invalid_token rejection.
func TestLogRejection(t *testing.T) {
	iss := newIssuer(t)
	logs := &capture{}
	g := newGuard(t, iss, middleware.WithLogger(slog.New(logs)), middleware.WithPublicURL("https://api.example.com"))
	r := bearer("garbage")
	r.RemoteAddr = "192.0.2.1:1"
	_, err := g.Check(r)
	require.Error(t, err)
	g.LogRejection(r, err)
	l := logs.take(t)
	assert.Equal(t, "malformed_token", l.attrs["cause"])
	assert.Equal(t, "/resource", l.attrs["path"])
	assert.Equal(t, "192.0.2.1:1", l.attrs["remote_addr"])

	g.LogRejection(&http.Request{Method: "POST"}, errors.New("something else"))
	l = logs.take(t)
	assert.Equal(t, "invalid_token", l.attrs["code"])
	assert.Equal(t, "other", l.attrs["cause"])
	assert.Equal(t, "401", l.attrs["status"])
	assert.Empty(t, l.attrs["path"])
}
