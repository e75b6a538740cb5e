package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
)

// binary is the resource server, built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "resource-server-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "resource-server")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one running resource-server process.
type server struct {
	cmd    *exec.Cmd
	addr   string
	before []string // stdout lines before the listening line
	stderr *syncBuffer
	lines  chan string // stdout lines after the listening line
	exited chan struct{}
}

// start runs the binary with args (and -addr 127.0.0.1:0) and waits for its
// listening line.
func start(t *testing.T, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	s := &server{cmd: cmd, stderr: &syncBuffer{}, lines: make(chan string, 100), exited: make(chan struct{})}
	cmd.Stderr = s.stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			_ = cmd.Process.Kill()
			<-s.exited
		}
	})
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 64<<10)
		seen := false
		for sc.Scan() {
			line := sc.Text()
			if !seen {
				if addr, ok := strings.CutPrefix(line, "listening on "); ok {
					seen = true
					listening <- strings.Fields(addr)[0]
					continue
				}
				s.before = append(s.before, line)
				continue
			}
			s.lines <- line
		}
		_ = cmd.Wait()
		close(s.lines)
		close(s.exited)
	}()
	select {
	case s.addr = <-listening:
	case <-s.exited:
		t.Fatalf("server exited before listening: %s", s.stderr)
	case <-time.After(15 * time.Second):
		t.Fatalf("no listening line; stderr: %s", s.stderr)
	}
	return s
}

// stop sends sig and requires a graceful exit with status 0.
func (s *server) stop(t *testing.T, sig os.Signal) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(sig))
	var rest []string
	timeout := time.After(15 * time.Second)
	for {
		select {
		case line, ok := <-s.lines:
			if ok {
				rest = append(rest, line)
				continue
			}
			<-s.exited
			assert.Equal(t, 0, s.cmd.ProcessState.ExitCode(), "stderr: %s", s.stderr)
			assert.Contains(t, rest, "shutting down")
			return
		case <-timeout:
			t.Fatal("server did not exit after", sig)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine of exec.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// reply is a response read in full.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) challenges() string { return strings.Join(r.header.Values("WWW-Authenticate"), "; ") }

func do(t *testing.T, c *http.Client, method, url string, header http.Header) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: body}
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// privateReply is the JSON of /api/private.
type privateReply struct {
	Subject string         `json:"sub"`
	Binding string         `json:"binding"`
	Claims  map[string]any `json:"claims"`
}

func decodePrivate(t *testing.T, r reply) privateReply {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, "challenges: %s", r.challenges())
	var p privateReply
	require.NoError(t, json.Unmarshal(r.body, &p))
	return p
}

func metadata(t *testing.T, c *http.Client, base string) map[string]any {
	t.Helper()
	r := do(t, c, http.MethodGet, base+"/.well-known/oauth-protected-resource", nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m))
	return m
}

func healthz(t *testing.T, c *http.Client, base string) {
	t.Helper()
	r := do(t, c, http.MethodGet, base+"/healthz", nil)
	assert.Equal(t, http.StatusOK, r.status)
}

// getReadyz returns the status and decoded body of GET /readyz.
func getReadyz(t *testing.T, c *http.Client, base string) (int, map[string]any) {
	t.Helper()
	r := do(t, c, http.MethodGet, base+"/readyz", nil)
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "%s", r.body)
	return r.status, m
}

// TestReadiness: /readyz answers 503 while the issuer's keys are not
// loaded (the issuer is down at start), says why, and 200 once they are.
func TestReadiness(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	iss.SetFault(oauthtest.Fault{Down: true})
	s := start(t, "-issuer", iss.Issuer())
	base := "http://" + s.addr
	healthz(t, plainClient, base)
	status, m := getReadyz(t, plainClient, base)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, false, m["ready"])
	issuers, ok := m["issuers"].([]any)
	require.True(t, ok, "%v", m)
	require.Len(t, issuers, 1)
	first := issuers[0].(map[string]any)
	assert.Equal(t, iss.Issuer(), first["issuer"])
	assert.EqualValues(t, 0, first["keys"])
	assert.Contains(t, first["last_error"], "discovery")
	tok := mint(t, iss, oauthtest.Token{})
	assert.Equal(t, http.StatusServiceUnavailable, do(t, plainClient, http.MethodGet, base+"/api/private", bearer(tok)).status)
	s.stop(t, os.Interrupt)

	iss.SetFault(oauthtest.Fault{})
	s = start(t, "-issuer", iss.Issuer())
	base = "http://" + s.addr
	status, m = getReadyz(t, plainClient, base)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, true, m["ready"])
	first = m["issuers"].([]any)[0].(map[string]any)
	assert.Positive(t, first["keys"])
	assert.NotContains(t, first, "last_error")
	assert.Contains(t, first, "last_refresh")
	s.stop(t, os.Interrupt)
}

func newIssuer(t *testing.T) *oauthtest.Issuer {
	t.Helper()
	iss, err := oauthtest.NewIssuer()
	require.NoError(t, err)
	t.Cleanup(iss.Close)
	return iss
}

func mint(t *testing.T, iss *oauthtest.Issuer, tok oauthtest.Token) string {
	t.Helper()
	s, err := iss.Mint(tok)
	require.NoError(t, err)
	return s
}

func newSigner(t *testing.T) *dpop.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	s, err := dpop.NewSigner(key)
	require.NoError(t, err)
	return s
}

var plainClient = &http.Client{Timeout: 10 * time.Second}

func TestEmbeddedIssuer(t *testing.T) {
	t.Parallel()
	s := start(t)
	var token string
	for _, l := range s.before {
		if v, ok := strings.CutPrefix(l, "TOKEN="); ok {
			token = v
		}
	}
	require.NotEmpty(t, token, "printed lines: %q", s.before)
	base := "http://" + s.addr
	assert.Contains(t, strings.Join(s.before, "\n"), "curl -H \"Authorization: Bearer $TOKEN\" "+base+"/api/scoped")

	healthz(t, plainClient, base)
	p := decodePrivate(t, do(t, plainClient, http.MethodGet, base+"/api/private", bearer(token)))
	assert.Equal(t, "auth0|user-123", p.Subject)
	assert.Equal(t, "none", p.Binding)
	assert.Equal(t, "read:messages", p.Claims["scope"])
	decodePrivate(t, do(t, plainClient, http.MethodGet, base+"/api/scoped", bearer(token)))

	r := do(t, plainClient, http.MethodGet, base+"/api/private", nil)
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Contains(t, r.challenges(), `resource_metadata="`+base+`/.well-known/oauth-protected-resource"`)
	assert.NotContains(t, r.challenges(), "error=")

	m := metadata(t, plainClient, base)
	assert.Equal(t, base, m["resource"])
	assert.Equal(t, []any{"read:messages"}, m["scopes_supported"])
	s.stop(t, os.Interrupt)
}

func TestBearerWithIssuer(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	s := start(t, "-issuer", iss.Issuer())
	base := "http://" + s.addr
	healthz(t, plainClient, base)

	// Any method on /api/private.
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		p := decodePrivate(t, do(t, plainClient, method, base+"/api/private", bearer(mint(t, iss, oauthtest.Token{Subject: "u1"}))))
		assert.Equal(t, "u1", p.Subject, method)
	}
	// /api/scoped: scope or permission read:messages, else 403.
	r := do(t, plainClient, http.MethodGet, base+"/api/scoped", bearer(mint(t, iss, oauthtest.Token{Scope: "profile"})))
	assert.Equal(t, http.StatusForbidden, r.status)
	assert.Contains(t, r.challenges(), `error="insufficient_scope"`)
	assert.Contains(t, r.challenges(), `scope="read:messages"`)
	decodePrivate(t, do(t, plainClient, http.MethodPut, base+"/api/scoped", bearer(mint(t, iss, oauthtest.Token{Scope: "read:messages"}))))
	decodePrivate(t, do(t, plainClient, http.MethodGet, base+"/api/scoped", bearer(mint(t, iss, oauthtest.Token{Permissions: []string{"read:messages"}}))))

	// Wrong audience, expired.
	r = do(t, plainClient, http.MethodGet, base+"/api/private", bearer(mint(t, iss, oauthtest.Token{Audience: []string{"https://other.example.com"}})))
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Contains(t, r.challenges(), `error="invalid_token"`)
	r = do(t, plainClient, http.MethodGet, base+"/api/private", bearer(mint(t, iss, oauthtest.Token{ExpiresIn: -time.Hour})))
	assert.Equal(t, http.StatusUnauthorized, r.status)

	// A DPoP-bound token is accepted with its proof, never as Bearer.
	signer := newSigner(t)
	tok := mint(t, iss, oauthtest.Token{JKT: signer.Thumbprint()})
	c := &http.Client{Timeout: 10 * time.Second, Transport: &dpop.Transport{Signer: signer, Source: dpop.StaticToken(tok)}}
	p := decodePrivate(t, do(t, c, http.MethodGet, base+"/api/private", nil))
	assert.Equal(t, "dpop", p.Binding)
	r = do(t, plainClient, http.MethodGet, base+"/api/private", bearer(tok))
	assert.Equal(t, http.StatusUnauthorized, r.status)

	m := metadata(t, plainClient, base)
	assert.Equal(t, base, m["resource"])
	assert.Equal(t, []any{iss.Issuer()}, m["authorization_servers"])
	assert.Equal(t, false, m["dpop_bound_access_tokens_required"])
	assert.Equal(t, false, m["tls_client_certificate_bound_access_tokens"])
	s.stop(t, syscall.SIGTERM)
}

func TestJWKSURLSkipsDiscovery(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	s := start(t, "-issuer", iss.Issuer(), "-jwks-url", iss.JWKSURL(), "-audience", "https://api.test")
	base := "http://" + s.addr
	decodePrivate(t, do(t, plainClient, http.MethodGet, base+"/api/private", bearer(mint(t, iss, oauthtest.Token{Audience: []string{"https://api.test"}}))))
	r := do(t, plainClient, http.MethodGet, base+"/api/private", bearer(mint(t, iss, oauthtest.Token{})))
	assert.Equal(t, http.StatusUnauthorized, r.status, "the default audience is no longer accepted")
	assert.Zero(t, iss.DiscoveryFetches())
	assert.Positive(t, iss.JWKSFetches())
	s.stop(t, syscall.SIGTERM)
}

func TestDPoPRequiredWithNoncesOverTLS(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	certFile, keyFile, roots := serverCert(t)
	s := start(t, "-issuer", iss.Issuer(), "-mechanism", "dpop", "-required", "-dpop-nonce", "-tls-cert", certFile, "-tls-key", keyFile)
	base := "https://" + s.addr
	tlsClient := clientFor(roots, nil)
	healthz(t, tlsClient, base)

	// An unbound token is refused; only the DPoP challenge is offered.
	r := do(t, tlsClient, http.MethodGet, base+"/api/private", bearer(mint(t, iss, oauthtest.Token{})))
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.NotContains(t, r.challenges(), "Bearer")
	assert.Contains(t, r.challenges(), `DPoP `)

	// The transport answers the nonce challenge and retries.
	signer := newSigner(t)
	tok := mint(t, iss, oauthtest.Token{JKT: signer.Thumbprint(), Scope: "read:messages"})
	counter := &counting{base: tlsClient.Transport}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &dpop.Transport{Base: counter, Signer: signer, Source: dpop.StaticToken(tok)}}
	p := decodePrivate(t, do(t, c, http.MethodPost, base+"/api/scoped", nil))
	assert.Equal(t, "dpop", p.Binding)
	assert.Equal(t, []int{401, 200}, counter.statuses, "a nonce was demanded first")
	decodePrivate(t, do(t, c, http.MethodGet, base+"/api/private", nil))
	assert.Equal(t, []int{401, 200, 200}, counter.statuses, "the remembered nonce is reused")

	m := metadata(t, tlsClient, base)
	assert.Equal(t, true, m["dpop_bound_access_tokens_required"])
	assert.Equal(t, base, m["resource"])
	s.stop(t, syscall.SIGTERM)
}

func TestDPoPPublicURL(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	const public = "https://api.example.test"
	s := start(t, "-issuer", iss.Issuer(), "-mechanism", "dpop", "-public-url", public)
	base := "http://" + s.addr
	signer := newSigner(t)
	tok := mint(t, iss, oauthtest.Token{JKT: signer.Thumbprint()})
	send := func(htu string) reply {
		proof, err := signer.Proof(http.MethodGet, htu, tok, "")
		require.NoError(t, err)
		return do(t, plainClient, http.MethodGet, base+"/api/private", http.Header{"Authorization": {"DPoP " + tok}, "DPoP": {proof}})
	}
	decodePrivate(t, send(public+"/api/private"))
	r := send(base + "/api/private")
	assert.Equal(t, http.StatusUnauthorized, r.status, "htu must name the public URL")
	assert.Contains(t, r.challenges(), `error="invalid_dpop_proof"`)

	m := metadata(t, plainClient, base)
	assert.Equal(t, public, m["resource"])
	r = do(t, plainClient, http.MethodGet, base+"/api/private", nil)
	assert.Contains(t, r.challenges(), `resource_metadata="`+public+`/.well-known/oauth-protected-resource"`)
	s.stop(t, syscall.SIGTERM)
}

func TestMTLS(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	certFile, keyFile, roots := serverCert(t)
	s := start(t, "-issuer", iss.Issuer(), "-mechanism", "mtls", "-tls-cert", certFile, "-tls-key", keyFile)
	base := "https://" + s.addr
	mine, other := clientCert(t), clientCert(t)
	withMine, withOther, without := clientFor(roots, &mine), clientFor(roots, &other), clientFor(roots, nil)

	healthz(t, without, base) // certificates are requested, not required
	tok := mint(t, iss, oauthtest.Token{X5TS256: mtls.Thumbprint(mine.Leaf)})
	p := decodePrivate(t, do(t, withMine, http.MethodGet, base+"/api/private", bearer(tok)))
	assert.Equal(t, "mtls", p.Binding)

	for name, c := range map[string]*http.Client{"another certificate": withOther, "no certificate": without} {
		r := do(t, c, http.MethodGet, base+"/api/private", bearer(tok))
		assert.Equal(t, http.StatusUnauthorized, r.status, name)
		assert.Contains(t, r.challenges(), `error="invalid_token"`, name)
	}
	r := do(t, withMine, http.MethodGet, base+"/api/private", bearer(mint(t, iss, oauthtest.Token{})))
	assert.Equal(t, http.StatusUnauthorized, r.status, "mtls is always required")

	m := metadata(t, without, base)
	assert.Equal(t, true, m["tls_client_certificate_bound_access_tokens"])
	assert.Nil(t, m["dpop_signing_alg_values_supported"])
	s.stop(t, syscall.SIGTERM)
}

func TestInvalidFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown mechanism", []string{"-mechanism", "magic"}, `-mechanism "magic"`},
		{"http issuer off loopback", []string{"-issuer", "http://issuer.example.com/"}, "http is only accepted on loopback"},
		{"not http", []string{"-issuer", "ftp://127.0.0.1/"}, "want an https URL"},
		{"jwks url off loopback", []string{"-issuer", "https://issuer.example.com/", "-jwks-url", "http://keys.example.com/jwks.json"}, "http is only accepted on loopback"},
		{"jwks url without issuer", []string{"-jwks-url", "https://keys.example.com/jwks.json"}, "-jwks-url needs -issuer"},
		{"cert without key", []string{"-tls-cert", "cert.pem"}, "-tls-cert and -tls-key go together"},
		{"mtls without tls", []string{"-mechanism", "mtls"}, "needs -tls-cert"},
		{"self-signed and a certificate", []string{"-tls-self-signed", "-tls-cert", "c.pem", "-tls-key", "k.pem"}, "-tls-self-signed replaces -tls-cert"},
		{"tls dir without self-signed", []string{"-tls-dir", "tls"}, "-tls-dir needs -tls-self-signed"},
		{"relative public url", []string{"-public-url", "/api"}, "-public-url"},
		{"unknown flag", []string{"-verbose"}, "flag provided but not defined"},
		{"extra argument", []string{"serve"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(binary, tt.args...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			require.Error(t, err)
			assert.Equal(t, 2, cmd.ProcessState.ExitCode())
			assert.Contains(t, stderr.String(), tt.want)
			assert.NotContains(t, stdout.String(), "listening on")
		})
	}
}

// counting records the status of every response on the wire.
type counting struct {
	base     http.RoundTripper
	mu       sync.Mutex
	statuses []int
}

func (c *counting) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if err == nil {
		c.mu.Lock()
		c.statuses = append(c.statuses, resp.StatusCode)
		c.mu.Unlock()
	}
	return resp, err
}

// clientFor returns an HTTPS client trusting roots, presenting cert if set.
func clientFor(roots *x509.CertPool, cert *tls.Certificate) *http.Client {
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

// serverCert writes a self-signed server certificate for 127.0.0.1 and
// its key as PEM files, and returns a pool that trusts it.
func serverCert(t *testing.T) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	c := selfSigned(t, true)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600))
	key, ok := c.PrivateKey.(*ecdsa.PrivateKey)
	require.True(t, ok)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	roots = x509.NewCertPool()
	roots.AddCert(c.Leaf)
	return certFile, keyFile, roots
}

func clientCert(t *testing.T) tls.Certificate { t.Helper(); return selfSigned(t, false) }

func selfSigned(t *testing.T, server bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.Subject.CommonName = "127.0.0.1"
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// TestListeningURL: the default public URL is the address the printed
// commands call, only when -addr pins one IP address.
func TestListeningURL(t *testing.T) {
	t.Parallel()
	listening := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8443}
	for addr, want := range map[string]string{
		"127.0.0.1:0":    "https://127.0.0.1:8443",
		"127.0.0.1:8443": "https://127.0.0.1:8443",
		"localhost:8443": "",
		":8443":          "",
		"0.0.0.0:8443":   "",
		"[::]:8443":      "",
		"nonsense":       "",
	} {
		assert.Equal(t, want, listeningURL(addr, "https", listening), addr)
	}
}
