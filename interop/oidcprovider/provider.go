// Package oidcprovider runs a real, independent OAuth 2.0 authorization
// server for senderbound's interoperability tests: panva's oidc-provider
// (Node.js, OpenID Certified), configured by server.mjs in this directory
// and started by [Start] on 127.0.0.1 on a free port.
//
// Why this server. The tests need an authorization server that shares no
// code with senderbound and issues what the Guard must verify: opaque
// access tokens, RFC 7662 introspection with client authentication
// (client_secret_basic) advertised by discovery, RFC 7009 revocation,
// audiences (RFC 8707 resource indicators), scopes, RFC 9701 JWT
// introspection responses, and DPoP-bound (RFC 9449) and certificate-bound
// (RFC 8705) opaque tokens whose introspection answers carry cnf and
// token_type. oidc-provider does all of it in a different language, with a
// different JOSE library (panva's jose). Its install is 40 npm packages,
// 3.4 MB, about two seconds from a cold cache (npm ci). The alternatives
// weighed: Ory Hydra v2.3.0 is a large Go program (hundreds of modules to
// download and compile on a cold 2-core machine, minutes of CI), and its
// introspection is an admin endpoint without client authentication that
// discovery does not advertise, so neither discovery nor the resource
// server's credentials would be tested; a server on zitadel/oidc's OP
// package would be glue code of ours around its example storage, which
// answers introspection only to clients in the token's audience and has
// no DPoP.
//
// The server needs Node.js (20.19 or later) and its npm packages:
//
//	npm ci --prefix interop/oidcprovider
//
// Without them [Start] skips the test, or fails it when the CI environment
// variable is set (CI must not pass by skipping).
package oidcprovider

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/senderbound/senderbound/dpop"
)

// Audience and OtherAudience are the resource indicators (RFC 8707) of the
// two resource servers of [DefaultResources]: a token requested for one
// carries it as aud.
const (
	Audience      = "https://api.example.com"
	OtherAudience = "https://other.example.com"
)

// Resource is a resource server known to the authorization server.
type Resource struct {
	// Scope lists, space-separated, the scopes a token for it may carry;
	// the server drops requested scopes not listed.
	Scope string
	// TTL is the lifetime of its access tokens (default 10 minutes).
	TTL time.Duration
}

// DefaultResources are the resource servers of a zero [Config].
var DefaultResources = map[string]Resource{
	Audience:      {Scope: "read:messages write:messages"},
	OtherAudience: {Scope: "read:messages"},
}

// Config configures [Start].
type Config struct {
	// Resources are the resource servers by resource indicator (default
	// DefaultResources).
	Resources map[string]Resource
}

// Client is a client's credentials at the server (client_secret_basic).
type Client struct{ ID, Secret string }

// Server is a running authorization server.
type Server struct {
	issuer string
	meta   metadata
	// ResourceServer is the resource server's own client: it may
	// introspect, and asks for RFC 9701 JWT answers (signed with ES256)
	// when it sends Accept: application/token-introspection+jwt.
	ResourceServer Client
	// App is the client that gets access tokens (client_credentials) and
	// may revoke them.
	App Client
	// CertificateApp is a client like App whose tokens are all
	// certificate-bound (tls_client_certificate_bound_access_tokens).
	CertificateApp Client
}

type metadata struct {
	Issuer        string `json:"issuer"`
	Token         string `json:"token_endpoint"`
	Introspection string `json:"introspection_endpoint"`
	Revocation    string `json:"revocation_endpoint"`
	JWKS          string `json:"jwks_uri"`
}

// startTimeout bounds the server's start.
const startTimeout = 30 * time.Second

// Start starts the server for the test t and stops it when t ends. It
// registers [Server.ResourceServer] and [Server.App] with fresh secrets.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	dir, err := sourceDir()
	if err != nil {
		unavailable(t, err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		unavailable(t, fmt.Errorf("node not found: %w", err))
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err != nil {
		unavailable(t, fmt.Errorf("oidc-provider is not installed: %w", err))
	}
	s := &Server{
		ResourceServer: Client{ID: "resource-server", Secret: rand.Text()},
		App:            Client{ID: "app", Secret: rand.Text()},
		CertificateApp: Client{ID: "certificate-app", Secret: rand.Text()},
	}
	config, err := s.config(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "server.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "INTEROP_AS_CONFIG="+string(config))
	cmd.SysProcAttr = procAttr()
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		unavailable(t, fmt.Errorf("starting node: %w", err))
	}
	listening := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if issuer, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				select {
				case listening <- issuer:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-drained:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-drained
		}
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("oidc-provider's stderr:\n%s", stderr.String())
		}
	})
	select {
	case s.issuer = <-listening:
	case <-drained:
		unavailable(t, fmt.Errorf("node exited before listening: %s", stderr.String()))
	case <-time.After(startTimeout):
		unavailable(t, fmt.Errorf("not listening after %v: %s", startTimeout, stderr.String()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := s.discover(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// unavailable ends a test that cannot start the server: a failure under
// CI (CI set and not empty), a skip elsewhere.
func unavailable(t testing.TB, err error) {
	t.Helper()
	msg := fmt.Sprintf("oidcprovider: the authorization server cannot start: %v\n"+
		"install it with: npm ci --prefix interop/oidcprovider (needs Node.js 20.19 or later)", err)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
		return
	}
	t.Skip(msg)
}

// sourceDir is the directory of this file, where server.mjs and
// node_modules are.
func sourceDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate server.mjs")
	}
	return filepath.Dir(file), nil
}

// config is the JSON that server.mjs reads.
func (s *Server) config(cfg Config) ([]byte, error) {
	resources := cfg.Resources
	if resources == nil {
		resources = DefaultResources
	}
	type resource struct {
		Scope string `json:"scope"`
		TTL   int64  `json:"ttl,omitempty"`
	}
	rs := make(map[string]resource, len(resources))
	for indicator, r := range resources {
		rs[indicator] = resource{Scope: r.Scope, TTL: int64(r.TTL / time.Second)}
	}
	return json.Marshal(map[string]any{
		"resources": rs,
		"clients": []map[string]any{
			clientMetadata(s.App, "grant_types", []string{"client_credentials"}),
			clientMetadata(s.CertificateApp, "grant_types", []string{"client_credentials"},
				"tls_client_certificate_bound_access_tokens", true),
			clientMetadata(s.ResourceServer, "introspection_signed_response_alg", "ES256"),
		},
	})
}

// clientMetadata is the registration of a client with client_secret_basic
// and no browser flows, plus the metadata in extra (name, value pairs).
func clientMetadata(c Client, extra ...any) map[string]any {
	none := []string{}
	m := map[string]any{
		"client_id":                  c.ID,
		"client_secret":              c.Secret,
		"token_endpoint_auth_method": "client_secret_basic",
		"grant_types":                none,
		"response_types":             none,
		"redirect_uris":              none,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}

// discover reads the server's metadata (OpenID discovery).
func (s *Server) discover(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.issuer+"/.well-known/openid-configuration", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("discovery: status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&s.meta); err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	if s.meta.Issuer != s.issuer || s.meta.Introspection == "" || s.meta.Revocation == "" || s.meta.Token == "" {
		return fmt.Errorf("discovery: unexpected metadata %+v", s.meta)
	}
	return nil
}

// Issuer is the server's issuer identifier, http://127.0.0.1:PORT.
func (s *Server) Issuer() string { return s.issuer }

// TokenURL is the token endpoint.
func (s *Server) TokenURL() string { return s.meta.Token }

// IntrospectionURL is the introspection endpoint (RFC 7662).
func (s *Server) IntrospectionURL() string { return s.meta.Introspection }

// RevocationURL is the revocation endpoint (RFC 7009).
func (s *Server) RevocationURL() string { return s.meta.Revocation }

// JWKSURL is the server's key set.
func (s *Server) JWKSURL() string { return s.meta.JWKS }

// TokenRequest is a client_credentials request of [Server.App].
type TokenRequest struct {
	// Resource is the resource indicator, the token's aud (default
	// Audience).
	Resource string
	// Scopes are requested; the server grants those its resource lists.
	Scopes []string
	// DPoP, when set, binds the token to its key (RFC 9449): the server
	// answers token_type DPoP and introspects cnf.jkt.
	DPoP *dpop.Signer
	// CertificatePEM, when set, binds the token to that client
	// certificate (RFC 8705, cnf["x5t#S256"]); the token is then
	// CertificateApp's. The harness serves plain HTTP, so the certificate
	// travels in a header, as from a TLS-terminating proxy.
	CertificatePEM string
}

// Token is a token endpoint's answer.
type Token struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	Scope       string `json:"scope"`
	ExpiresIn   int    `json:"expires_in"`
}

// Token gets an access token for [Server.App] (for
// [Server.CertificateApp] with a certificate).
func (s *Server) Token(t testing.TB, r TokenRequest) Token {
	t.Helper()
	if r.Resource == "" {
		r.Resource = Audience
	}
	form := url.Values{
		"grant_type": {"client_credentials"},
		"resource":   {r.Resource},
	}
	if len(r.Scopes) > 0 {
		form.Set("scope", strings.Join(r.Scopes, " "))
	}
	header := http.Header{}
	if r.DPoP != nil {
		proof, err := r.DPoP.Proof(http.MethodPost, s.meta.Token, "", "")
		if err != nil {
			t.Fatal(err)
		}
		header.Set("DPoP", proof)
	}
	client := s.App
	if r.CertificatePEM != "" {
		client = s.CertificateApp
		header.Set("X-Client-Cert", url.PathEscape(r.CertificatePEM)) // decodeURIComponent in server.mjs
	}
	status, _, body := s.post(t, s.meta.Token, client, form, header)
	if status != http.StatusOK {
		t.Fatalf("token endpoint: status %d: %s", status, body)
	}
	var tok Token
	if err := json.Unmarshal(body, &tok); err != nil {
		t.Fatalf("token endpoint: %v", err)
	}
	if tok.AccessToken == "" || strings.Count(tok.AccessToken, ".") == 2 {
		t.Fatalf("token endpoint: want an opaque access token, got %q", tok.AccessToken)
	}
	return tok
}

// Revoke revokes an access token of [Server.App] (RFC 7009).
func (s *Server) Revoke(t testing.TB, token string) {
	t.Helper()
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	if status, _, body := s.post(t, s.meta.Revocation, s.App, form, nil); status != http.StatusOK {
		t.Fatalf("revocation endpoint: status %d: %s", status, body)
	}
}

// Introspect asks the introspection endpoint about token as client c (RFC
// 7662), for an RFC 9701 JWT answer if jwt, and returns the raw answer.
func (s *Server) Introspect(t testing.TB, c Client, token string, jwt bool) (status int, contentType string, body []byte) {
	t.Helper()
	header := http.Header{}
	if jwt {
		header.Set("Accept", "application/token-introspection+jwt")
	}
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	return s.post(t, s.meta.Introspection, c, form, header)
}

// post sends a form authenticated as c with client_secret_basic.
func (s *Server) post(t testing.TB, endpoint string, c Client, form url.Values, header http.Header) (int, string, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// RFC 6749 §2.3.1: form-encode the credentials before Basic.
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", endpoint, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("POST %s: %v", endpoint, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// syncBuffer collects a process's stderr.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
