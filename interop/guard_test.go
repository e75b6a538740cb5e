package interop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/senderbound/senderbound/clientauth"
	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/interop/oidcprovider"
	"github.com/senderbound/senderbound/introspect"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a test clock for the introspection cache.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// api is a resource server protected by a Guard that introspects the
// authorization server's opaque tokens: /private takes any valid token,
// /read needs scope read:messages and /write write:messages.
type api struct {
	as  *oidcprovider.Server
	url string
	srv *httptest.Server
}

// apiConfig configures newAPI.
type apiConfig struct {
	tls        bool                // serve HTTPS, asking clients for a certificate
	introspect []introspect.Option // besides the resource server's credentials
	guard      []middleware.Option // besides the audience and the introspection client
}

// newAPI starts the API for as.
func newAPI(t *testing.T, as *oidcprovider.Server, cfg apiConfig) *api {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keys := newKeys(t, as)
	rs := as.ResourceServer
	opts := append([]introspect.Option{introspect.WithClientAuth(clientauth.ClientSecretBasic(rs.ID, rs.Secret))}, cfg.introspect...)
	ic, err := introspect.New(ctx, as.Issuer(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { ic.Close() })

	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	scheme := "http"
	if cfg.tls {
		scheme = "https"
	}
	guard, err := middleware.New(keys, append([]middleware.Option{
		middleware.WithAudience(oidcprovider.Audience),
		middleware.WithIntrospection(ic),
		middleware.WithPublicURL(scheme + "://" + srv.Listener.Addr().String()),
	}, cfg.guard...)...)
	require.NoError(t, err)
	mux.Handle("/private", guard.Handler(http.HandlerFunc(answer)))
	mux.Handle("/read", guard.Handler(guard.RequireScopes("read:messages")(http.HandlerFunc(answer))))
	mux.Handle("/write", guard.Handler(guard.RequireScopes("write:messages")(http.HandlerFunc(answer))))
	if cfg.tls {
		// httptest's certificate; client certificates asked for, not
		// required, and self-signed ones accepted (as mtls.ServerTLSConfig).
		srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return &api{as: as, url: srv.URL, srv: srv}
}

// answer echoes the verified token's subject, scopes and binding.
func answer(w http.ResponseWriter, r *http.Request) {
	tok, _ := middleware.TokenFromContext(r.Context())
	_ = json.NewEncoder(w).Encode(map[string]any{
		"sub":     tok.Claims.Subject(),
		"client":  tok.Claims.ClientID(),
		"scopes":  tok.Claims.Scopes(),
		"binding": tok.Binding.Mechanism.String(),
	})
}

// response is what the tests read of an API answer.
type response struct {
	status    int
	challenge string
	body      map[string]any
}

// call sends a GET to path with the Authorization header auth, a DPoP
// proof when proof is set, over client (default the server's).
func (a *api) call(t *testing.T, client *http.Client, path, auth, proof string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.url+path, nil)
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	if client == nil {
		client = a.srv.Client()
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := response{status: resp.StatusCode, challenge: strings.Join(resp.Header.Values("WWW-Authenticate"), ", ")}
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.Unmarshal(body, &r.body), "%s", body)
	}
	return r
}

func (a *api) bearer(t *testing.T, path, token string) response {
	t.Helper()
	return a.call(t, nil, path, "Bearer "+token, "")
}

func TestOpaqueBearerToken(t *testing.T) {
	as := oidcprovider.Start(t, oidcprovider.Config{})
	tests := []struct {
		name string
		opts []introspect.Option
	}{
		{"JSON answers, discovery", nil},
		{"JSON answers, configured endpoint", []introspect.Option{introspect.WithEndpoint(as.IntrospectionURL())}},
		{"JWT answers (RFC 9701)", nil}, // options set below: they need the keys
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			if strings.HasPrefix(tt.name, "JWT") {
				keys := newKeys(t, as)
				opts = []introspect.Option{introspect.WithJWTResponse(keys, as.ResourceServer.ID)}
			}
			a := newAPI(t, as, apiConfig{introspect: opts})
			tok := as.Token(t, oidcprovider.TokenRequest{Scopes: []string{"read:messages"}})
			r := a.bearer(t, "/private", tok.AccessToken)
			require.Equal(t, http.StatusOK, r.status, r.challenge)
			assert.Equal(t, as.App.ID, r.body["sub"])
			assert.Equal(t, as.App.ID, r.body["client"])
			assert.Equal(t, []any{"read:messages"}, r.body["scopes"])
			assert.Equal(t, "none", r.body["binding"])
			assert.Equal(t, http.StatusOK, a.bearer(t, "/read", tok.AccessToken).status)

			r = a.bearer(t, "/private", rand.Text())
			assert.Equal(t, http.StatusUnauthorized, r.status)
			assert.Contains(t, r.challenge, `error="invalid_token"`)
		})
	}
}

func newKeys(t *testing.T, as *oidcprovider.Server) *jwks.Keys {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keys, err := jwks.New(ctx, jwks.WithIssuer(as.Issuer()))
	require.NoError(t, err)
	t.Cleanup(func() { keys.Close() })
	return keys
}

func TestRevokedOpaqueToken(t *testing.T) {
	as := oidcprovider.Start(t, oidcprovider.Config{})

	t.Run("cache off: refused at once", func(t *testing.T) {
		a := newAPI(t, as, apiConfig{introspect: []introspect.Option{introspect.WithCache(0)}})
		tok := as.Token(t, oidcprovider.TokenRequest{Scopes: []string{"read:messages"}})
		require.Equal(t, http.StatusOK, a.bearer(t, "/private", tok.AccessToken).status)
		as.Revoke(t, tok.AccessToken)
		r := a.bearer(t, "/private", tok.AccessToken)
		assert.Equal(t, http.StatusUnauthorized, r.status)
		assert.Contains(t, r.challenge, `error="invalid_token"`)
	})
	t.Run("cache on: refused once the cached answer is too old", func(t *testing.T) {
		clk := newClock()
		a := newAPI(t, as, apiConfig{
			introspect: []introspect.Option{introspect.WithCache(time.Minute), introspect.WithClock(clk.Now)},
			guard:      []middleware.Option{middleware.WithClock(clk.Now)}, // its token cache too
		})
		tok := as.Token(t, oidcprovider.TokenRequest{Scopes: []string{"read:messages"}})
		require.Equal(t, http.StatusOK, a.bearer(t, "/private", tok.AccessToken).status)
		as.Revoke(t, tok.AccessToken)
		clk.Add(59 * time.Second)
		assert.Equal(t, http.StatusOK, a.bearer(t, "/private", tok.AccessToken).status,
			"the cached answer stands for up to a minute: the price of the cache")
		clk.Add(2 * time.Second)
		r := a.bearer(t, "/private", tok.AccessToken)
		assert.Equal(t, http.StatusUnauthorized, r.status)
		assert.Contains(t, r.challenge, `error="invalid_token"`)
	})
}

func TestOpaqueTokenForAnotherAudience(t *testing.T) {
	as := oidcprovider.Start(t, oidcprovider.Config{})
	a := newAPI(t, as, apiConfig{})
	tok := as.Token(t, oidcprovider.TokenRequest{Resource: oidcprovider.OtherAudience, Scopes: []string{"read:messages"}})
	r := a.bearer(t, "/private", tok.AccessToken)
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Contains(t, r.challenge, `error="invalid_token"`)
}

func TestOpaqueTokenScopes(t *testing.T) {
	as := oidcprovider.Start(t, oidcprovider.Config{})
	a := newAPI(t, as, apiConfig{})
	read := as.Token(t, oidcprovider.TokenRequest{Scopes: []string{"read:messages"}})
	both := as.Token(t, oidcprovider.TokenRequest{Scopes: []string{"read:messages", "write:messages"}})
	none := as.Token(t, oidcprovider.TokenRequest{})

	tests := []struct {
		name, path, token string
		status            int
	}{
		{"read scope reads", "/read", read.AccessToken, http.StatusOK},
		{"read scope cannot write", "/write", read.AccessToken, http.StatusForbidden},
		{"both scopes write", "/write", both.AccessToken, http.StatusOK},
		{"no scope cannot read", "/read", none.AccessToken, http.StatusForbidden},
		{"no scope reaches /private", "/private", none.AccessToken, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.bearer(t, tt.path, tt.token)
			assert.Equal(t, tt.status, r.status, r.challenge)
			if tt.status == http.StatusForbidden {
				assert.Contains(t, r.challenge, `error="insufficient_scope"`)
			}
		})
	}
}

func TestDPoPBoundOpaqueToken(t *testing.T) {
	as := oidcprovider.Start(t, oidcprovider.Config{})
	a := newAPI(t, as, apiConfig{})
	alice, thief := newSigner(t), newSigner(t)
	tok := as.Token(t, oidcprovider.TokenRequest{Scopes: []string{"read:messages"}, DPoP: alice})
	require.Equal(t, "DPoP", tok.TokenType)
	proof := func(s *dpop.Signer) string {
		p, err := s.Proof(http.MethodGet, a.url+"/read", tok.AccessToken, "")
		require.NoError(t, err)
		return p
	}

	r := a.call(t, nil, "/read", "DPoP "+tok.AccessToken, proof(alice))
	require.Equal(t, http.StatusOK, r.status, r.challenge)
	assert.Equal(t, "dpop", r.body["binding"])

	r = a.call(t, nil, "/read", "Bearer "+tok.AccessToken, "")
	assert.Equal(t, http.StatusUnauthorized, r.status, "stolen and sent as Bearer")
	assert.Contains(t, r.challenge, `error="invalid_token"`)

	r = a.call(t, nil, "/read", "DPoP "+tok.AccessToken, proof(thief))
	assert.Equal(t, http.StatusUnauthorized, r.status, "a proof by another key")

	r = a.call(t, nil, "/read", "DPoP "+tok.AccessToken, "")
	assert.Equal(t, http.StatusUnauthorized, r.status, "no proof")
}

func TestCertificateBoundOpaqueToken(t *testing.T) {
	as := oidcprovider.Start(t, oidcprovider.Config{})
	a := newAPI(t, as, apiConfig{tls: true})
	bob, bobPEM := clientCertificate(t, "bob")
	other, _ := clientCertificate(t, "someone else")
	tok := as.Token(t, oidcprovider.TokenRequest{Scopes: []string{"read:messages"}, CertificatePEM: bobPEM})
	over := func(cert *tls.Certificate) *http.Client {
		c := a.srv.Client()
		tr := c.Transport.(*http.Transport).Clone()
		if cert != nil {
			tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
		}
		return &http.Client{Transport: tr}
	}

	r := a.call(t, over(&bob), "/read", "Bearer "+tok.AccessToken, "")
	require.Equal(t, http.StatusOK, r.status, r.challenge)
	assert.Equal(t, "mtls", r.body["binding"])

	r = a.call(t, over(&other), "/read", "Bearer "+tok.AccessToken, "")
	assert.Equal(t, http.StatusUnauthorized, r.status, "another client's certificate")
	assert.Contains(t, r.challenge, `error="invalid_token"`)

	r = a.call(t, over(nil), "/read", "Bearer "+tok.AccessToken, "")
	assert.Equal(t, http.StatusUnauthorized, r.status, "no certificate")
}

func TestIntrospectionClientAuthRefused(t *testing.T) {
	as := oidcprovider.Start(t, oidcprovider.Config{})
	a := newAPI(t, as, apiConfig{introspect: []introspect.Option{
		introspect.WithClientAuth(clientauth.ClientSecretBasic(as.ResourceServer.ID, "not the secret")),
	}})
	tok := as.Token(t, oidcprovider.TokenRequest{Scopes: []string{"read:messages"}})
	r := a.bearer(t, "/private", tok.AccessToken)
	assert.Equal(t, http.StatusServiceUnavailable, r.status, "our own credentials refused: fail closed")
}

func newSigner(t *testing.T) *dpop.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	s, err := dpop.NewSigner(key)
	require.NoError(t, err)
	return s
}

// clientCertificate is a self-signed client certificate and its PEM.
func clientCertificate(t *testing.T, name string) (tls.Certificate, string) {
	t.Helper()
	certPEM, keyPEM := selfSigned(t, name)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	return cert, string(certPEM)
}

func selfSigned(t *testing.T, name string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}
