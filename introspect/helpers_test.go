package introspect_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/clientauth"
	"github.com/senderbound/senderbound/introspect"
	"github.com/senderbound/senderbound/oauthtest"
)

const rsID, rsSecret = "resource-server", "rs-secret:%+"

// clock is a test clock that steps only when told to.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newIssuer starts a test issuer with the resource server registered as
// a client, closed when the test ends.
func newIssuer(t testing.TB, opts ...oauthtest.Option) *oauthtest.Issuer {
	t.Helper()
	iss, err := oauthtest.NewIssuer(opts...)
	require.NoError(t, err)
	t.Cleanup(iss.Close)
	require.NoError(t, iss.RegisterClient(oauthtest.Client{ID: rsID, Secret: rsSecret}))
	return iss
}

// newClient returns a Client for iss authenticating with
// client_secret_basic, closed when the test ends.
func newClient(t testing.TB, iss *oauthtest.Issuer, opts ...introspect.Option) *introspect.Client {
	t.Helper()
	opts = append([]introspect.Option{introspect.WithClientAuth(clientauth.ClientSecretBasic(rsID, rsSecret))}, opts...)
	c, err := introspect.New(context.Background(), iss.Issuer(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func opaque(t testing.TB, iss *oauthtest.Issuer, tok oauthtest.Token) string {
	t.Helper()
	s, err := iss.MintOpaque(tok)
	require.NoError(t, err)
	return s
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// signed makes a JWS with our choice of header, signed by key.
func signed(t testing.TB, key crypto.Signer, alg, kid, typ string, claims map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(alg), jwt.MapClaims(claims))
	tok.Header["kid"] = kid
	tok.Header["typ"] = typ
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// unsignedJWT builds header.payload. with an empty signature.
func unsignedJWT(t testing.TB, header, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(header)
	require.NoError(t, err)
	p, err := json.Marshal(claims)
	require.NoError(t, err)
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(p) + "."
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }
