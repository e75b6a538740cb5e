package mcpguard_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/mcpguard"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The protocol versions a go-sdk client can speak: the newest, sessionless
// one (server/discover) and the last with sessions, Mcp-Session-Id and a
// standalone SSE stream.
const (
	sessionless = "2026-07-28"
	withSession = "2025-11-25"
)

// messages is the fixed answer of the read_messages tool.
const messages = "3 messages: hello, world, bye"

// env is a real go-sdk MCP server, over HTTPS with client certificates
// requested, behind an mcpguard.Guard, and the issuer whose tokens it
// accepts (audience: the server's canonical URI).
type env struct {
	iss      *oauthtest.Issuer
	srv      *httptest.Server
	base     string // https://127.0.0.1:PORT
	resource string // base + "/mcp"
	metaURL  string
	guard    *middleware.Guard
	// arrivals counts the requests that reached the MCP handler, and
	// infos the TokenInfo each one carried.
	arrivals atomic.Int64
	mu       sync.Mutex
	seen     []seenRequest
}

// seenRequest is what the MCP handler saw of one request.
type seenRequest struct {
	method, authorization, proof, session string
	info                                  *auth.TokenInfo
}

type envConfig struct {
	guard []middleware.Option
	dpop  []dpop.Option
	mcp   []mcpguard.Option
}

func newEnv(t testing.TB, cfg envConfig) *env {
	t.Helper()
	e := &env{}
	e.srv = httptest.NewUnstartedServer(nil)
	e.base = "https://" + e.srv.Listener.Addr().String()
	e.resource = e.base + "/mcp"
	var err error
	e.metaURL, err = mcpguard.MetadataURL(e.resource)
	require.NoError(t, err)

	e.iss, err = oauthtest.NewIssuer(oauthtest.WithAudience(e.resource))
	require.NoError(t, err)
	t.Cleanup(e.iss.Close)
	require.NoError(t, e.iss.RegisterClient(oauthtest.Client{ID: "agent", Secret: "agent-secret",
		Token: oauthtest.Token{Scope: "read:messages"}}))
	require.NoError(t, e.iss.RegisterClient(oauthtest.Client{ID: "intern", Secret: "intern-secret"}))

	keys, err := jwks.New(context.Background(), jwks.WithIssuer(e.iss.Issuer()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = keys.Close() })
	verifier, err := dpop.NewVerifier(cfg.dpop...)
	require.NoError(t, err)
	e.guard, err = middleware.New(keys, append([]middleware.Option{
		middleware.WithAudience(e.resource),
		middleware.WithPublicURL(e.base),
		middleware.WithResourceMetadata(e.metaURL),
		middleware.WithDPoP(verifier),
	}, cfg.guard...)...)
	require.NoError(t, err)
	mg, err := mcpguard.New(e.guard, append([]mcpguard.Option{
		mcpguard.WithTool("read_messages", middleware.Scopes{"read:messages"})}, cfg.mcp...)...)
	require.NoError(t, err)

	server := newServer()
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	mux := http.NewServeMux()
	mux.Handle("/mcp", mg.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.arrivals.Add(1)
		e.mu.Lock()
		e.seen = append(e.seen, seenRequest{r.Method, r.Header.Get("Authorization"), r.Header.Get("DPoP"),
			r.Header.Get("Mcp-Session-Id"), auth.TokenInfoFromContext(r.Context())})
		e.mu.Unlock()
		h.ServeHTTP(w, r)
	})))
	meta := mcpguard.MetadataHandler(e.guard.Metadata(e.resource, []string{e.iss.Issuer()}, []string{"read:messages"}))
	mux.Handle("/.well-known/oauth-protected-resource/mcp", meta)
	mux.Handle("/.well-known/oauth-protected-resource", meta)
	e.srv.Config.Handler = mux

	serverCert := selfSigned(t, "localhost", true)
	e.srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.RequestClientCert}
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	return e
}

// newServer is the MCP server of the tests: whoami answers the token's
// subject, read_messages (which needs read:messages) a fixed text.
func newServer() *mcp.Server {
	server := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, nil)
	server.AddTool(&mcp.Tool{Name: "whoami", InputSchema: map[string]any{"type": "object"}},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if req.Extra.TokenInfo == nil { // the bare server of the benchmark
				return text("<anonymous>"), nil
			}
			return text(req.Extra.TokenInfo.UserID), nil
		})
	server.AddTool(&mcp.Tool{Name: "read_messages", InputSchema: map[string]any{"type": "object"}},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return text(messages), nil
		})
	return server
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

// httpClient returns a client that trusts the server and presents cert
// (when not nil), sending its requests through wrap (when not nil).
func (e *env) httpClient(cert *tls.Certificate, wrap func(http.RoundTripper) http.RoundTripper) *http.Client {
	tr := e.srv.Client().Transport.(*http.Transport).Clone()
	if cert != nil {
		tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
	}
	var rt http.RoundTripper = tr
	if wrap != nil {
		rt = wrap(tr)
	}
	return &http.Client{Transport: rt}
}

// connect opens a go-sdk client session over hc.
func (e *env) connect(t testing.TB, hc *http.Client, version string) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "agent", Version: "v1"}, nil)
	cs, err := client.Connect(context.Background(),
		&mcp.StreamableClientTransport{Endpoint: e.resource, HTTPClient: hc},
		&mcp.ClientSessionOptions{ProtocolVersion: version})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// dpopClient is a go-sdk client's http.Client that obtains DPoP-bound
// tokens for clientID and sends them with fresh proofs: configuration only.
func (e *env) dpopClient(t testing.TB, clientID, secret string) (*http.Client, *dpop.Signer) {
	t.Helper()
	signer := newSigner(t)
	source, err := dpop.NewClientCredentials(e.iss.TokenURL(), signer,
		dpop.ClientSecretBasic(clientID, secret), dpop.WithTokenAudience(e.resource))
	require.NoError(t, err)
	return e.httpClient(nil, func(base http.RoundTripper) http.RoundTripper {
		return &dpop.Transport{Base: base, Signer: signer, Source: source}
	}), signer
}

// bearer sends every request with "Authorization: Bearer <token>".
type bearer struct {
	base  http.RoundTripper
	token string
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

func (e *env) bearerClient(cert *tls.Certificate, token string) *http.Client {
	return e.httpClient(cert, func(base http.RoundTripper) http.RoundTripper { return bearer{base, token} })
}

func (e *env) mint(t testing.TB, tok oauthtest.Token) string {
	t.Helper()
	s, err := e.iss.Mint(tok)
	require.NoError(t, err)
	return s
}

func (e *env) seenRequests() []seenRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]seenRequest(nil), e.seen...)
}

func newSigner(t testing.TB) *dpop.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	s, err := dpop.NewSigner(k)
	require.NoError(t, err)
	return s
}

// selfSigned returns a certificate for name (a server certificate for
// localhost and 127.0.0.1 when server is set, else a client certificate).
func selfSigned(t testing.TB, name string, server bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}
