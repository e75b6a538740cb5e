package middleware_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
)

// tlsServer serves g over real TLS, requesting (not requiring) client
// certificates, and returns a client maker for a given certificate.
func tlsServer(t *testing.T, g *middleware.Guard) (*httptest.Server, func(cert *tls.Certificate) *http.Client) {
	t.Helper()
	srv := httptest.NewUnstartedServer(g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := middleware.TokenFromContext(r.Context())
		_, _ = io.WriteString(w, tok.Binding.Mechanism.String())
	})))
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return srv, func(cert *tls.Certificate) *http.Client {
		cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	}
}

func TestMTLSOverRealTLS(t *testing.T) {
	iss := newIssuer(t)
	g := newGuard(t, iss, middleware.WithProofOfPossession(middleware.MechanismMTLS, true))
	srv, client := tlsServer(t, g)
	cert, pair := clientCert(t, "client")
	_, otherPair := clientCert(t, "thief")
	bound := mint(t, iss, oauthtest.Token{X5TS256: mtls.Thumbprint(cert)})
	unbound := mint(t, iss, oauthtest.Token{})

	tests := []struct {
		name   string
		cert   *tls.Certificate
		token  string
		status int
		body   string
	}{
		{"matching self-signed certificate", &pair, bound, 200, "mtls"},
		{"no certificate", nil, bound, 401, ""},
		{"another certificate", &otherPair, bound, 401, ""},
		{"unbound token when mTLS is required", &pair, unbound, 401, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/r", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+tc.token)
			resp, err := client(tc.cert).Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, tc.status, resp.StatusCode)
			if tc.status == 200 {
				assert.Equal(t, tc.body, string(body))
			} else {
				assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`)
			}
		})
	}
}

func TestForwardedCertificateOnlyFromTrustedProxies(t *testing.T) {
	iss := newIssuer(t)
	cert, _ := clientCert(t, "client")
	bound := mint(t, iss, oauthtest.Token{X5TS256: mtls.Thumbprint(cert)})
	src, err := mtls.NewSource(mtls.WithForwardedHeader("X-Client-Cert", mtls.EscapedPEM),
		mtls.WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8")))
	require.NoError(t, err)
	g := newGuard(t, iss, middleware.WithCertificateSource(src))
	header := url.PathEscape(string(pemOf(cert)))

	for _, tc := range []struct {
		name   string
		remote string
		status int
	}{
		{"from the trusted proxy", "10.1.2.3:4444", 200},
		{"from anywhere else, even though it would match", "192.0.2.7:4444", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := bearer(bound)
			r.RemoteAddr = tc.remote
			r.Header.Set("X-Client-Cert", header)
			assert.Equal(t, tc.status, serve(g, r).status)
		})
	}
}

func tlsState(c *x509.Certificate) *tls.ConnectionState {
	return &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}}
}

// TestEnvoyHashOnly: Envoy forwards only the certificate's hash by default;
// a trusted proxy's hash is enough to prove the binding.
func TestEnvoyHashOnly(t *testing.T) {
	iss := newIssuer(t)
	cert, _ := clientCert(t, "client")
	other, _ := clientCert(t, "other")
	bound := mint(t, iss, oauthtest.Token{X5TS256: mtls.Thumbprint(cert)})
	src, err := mtls.NewSource(mtls.WithForwardedHeader("X-Forwarded-Client-Cert", mtls.XFCC),
		mtls.WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8")))
	require.NoError(t, err)
	g := newGuard(t, iss, middleware.WithCertificateSource(src))
	for _, tc := range []struct {
		name   string
		cert   *x509.Certificate
		status int
	}{{"matching hash", cert, 200}, {"another certificate's hash", other, 401}} {
		t.Run(tc.name, func(t *testing.T) {
			sum := sha256.Sum256(tc.cert.Raw)
			r := bearer(bound)
			r.RemoteAddr = "10.0.0.9:5555"
			r.Header.Set("X-Forwarded-Client-Cert", "By=spiffe://api;Hash="+hex.EncodeToString(sum[:])+";Subject=\"CN=client\"")
			assert.Equal(t, tc.status, serve(g, r).status)
		})
	}
}

// TestVerifyCertificateThumbprint: Guard.Verify binds a certificate-bound
// token to Request.CertificateThumbprint when no Certificate is given (a
// transport whose trusted proxy forwarded only the hash); a Certificate,
// when given, is what counts.
func TestVerifyCertificateThumbprint(t *testing.T) {
	iss := newIssuer(t)
	cert, _ := clientCert(t, "client")
	other, _ := clientCert(t, "other")
	bound := mint(t, iss, oauthtest.Token{X5TS256: mtls.Thumbprint(cert)})
	g := newGuard(t, iss)
	for _, tc := range []struct {
		name  string
		cert  *x509.Certificate
		thumb string
		err   error
	}{
		{"matching thumbprint", nil, mtls.Thumbprint(cert), nil},
		{"another certificate's thumbprint", nil, mtls.Thumbprint(other), middleware.ErrBindingMismatch},
		{"neither", nil, "", middleware.ErrBindingMismatch},
		{"the certificate counts, not the thumbprint", other, mtls.Thumbprint(cert), middleware.ErrBindingMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := g.Verify(context.Background(), middleware.Request{Scheme: "Bearer", Token: bound,
				Certificate: tc.cert, CertificateThumbprint: tc.thumb})
			if tc.err == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.err)
		})
	}
}
