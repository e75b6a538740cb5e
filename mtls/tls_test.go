package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seen is what the server-side handler observed.
type seen struct {
	cert       *x509.Certificate
	certErr    error
	thumbprint string
	tpErr      error
}

// startServer serves TLS with ServerTLSConfig(server, clientCAs) and reports
// what src found for every request on the returned channel.
func startServer(t *testing.T, src *Source, clientCAs *x509.CertPool) (*httptest.Server, <-chan seen) {
	t.Helper()
	ch := make(chan seen, 16) // buffered: an unexpected request must not block the server
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var s seen
		s.cert, s.certErr = src.Certificate(r)
		s.thumbprint, s.tpErr = src.Thumbprint(r)
		ch <- s
	}))
	srv.TLS = ServerTLSConfig(fixtures(t).server.tls(), clientCAs)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, ch
}

// client returns an HTTP client that trusts the test server and presents
// cert (none when nil), with the extra request headers.
func client(t *testing.T, srv *httptest.Server, cert *testCert) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(fixtures(t).server.cert)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		// Present the certificate whatever CAs the server names; with
		// Certificates, crypto/tls would silently send none.
		tc := cert.tls()
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &tc, nil
		}
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func get(t *testing.T, c *http.Client, u string, h http.Header) error {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func TestTLSHandshakeRequestClientCert(t *testing.T) {
	f := fixtures(t)
	src, err := NewSource()
	require.NoError(t, err)
	srv, ch := startServer(t, src, nil)

	tests := []struct {
		name   string
		client *testCert
	}{
		{"ECDSA self-signed", &f.ecSelf},
		{"RSA self-signed", &f.rsaSelf},
		{"ECDSA CA-issued", &f.ecCA},
		{"RSA CA-issued", &f.rsaCA},
		{"issued by an unknown CA", &f.otherCAIssued},
		{"no certificate", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, get(t, client(t, srv, tt.client), srv.URL, nil))
			s := <-ch
			if tt.client == nil {
				assert.ErrorIs(t, s.certErr, ErrNoCertificate)
				assert.ErrorIs(t, s.tpErr, ErrNoCertificate)
				assert.Nil(t, s.cert)
				assert.False(t, MatchThumbprint(s.cert, Thumbprint(f.ecSelf.cert)))
				return
			}
			require.NoError(t, s.certErr)
			require.NoError(t, s.tpErr)
			assert.Equal(t, tt.client.cert.Raw, s.cert.Raw)
			want := Thumbprint(tt.client.cert) // computed on the client side
			assert.True(t, MatchThumbprint(s.cert, want))
			assert.True(t, EqualThumbprints(s.thumbprint, want))
			// A token bound to another certificate does not match.
			other := Thumbprint(f.another.cert)
			assert.False(t, MatchThumbprint(s.cert, other))
			assert.False(t, EqualThumbprints(s.thumbprint, other))
		})
	}
}

func TestTLSHandshakeVerifyClientCertIfGiven(t *testing.T) {
	f := fixtures(t)
	src, err := NewSource()
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(f.ca.cert)
	srv, ch := startServer(t, src, pool)

	tests := []struct {
		name     string
		client   *testCert
		wantFail bool
	}{
		{"ECDSA issued by the CA", &f.ecCA, false},
		{"RSA issued by the CA", &f.rsaCA, false},
		{"issued by another CA", &f.otherCAIssued, true},
		{"self-signed", &f.ecSelf, true},
		{"no certificate", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := get(t, client(t, srv, tt.client), srv.URL, nil)
			if tt.wantFail {
				require.Error(t, err)
				assert.Empty(t, ch, "handler must not run")
				return
			}
			require.NoError(t, err)
			s := <-ch
			if tt.client == nil {
				assert.ErrorIs(t, s.certErr, ErrNoCertificate)
				return
			}
			require.NoError(t, s.certErr)
			assert.True(t, MatchThumbprint(s.cert, Thumbprint(tt.client.cert)))
		})
	}
}

func TestServerTLSConfig(t *testing.T) {
	cert := fixtures(t).server.tls()
	cfg := ServerTLSConfig(cert, nil)
	assert.Equal(t, tls.RequestClientCert, cfg.ClientAuth)
	assert.Equal(t, uint16(tls.VersionTLS12), cfg.MinVersion)
	assert.Nil(t, cfg.ClientCAs)

	pool := x509.NewCertPool()
	cfg = ServerTLSConfig(cert, pool)
	assert.Equal(t, tls.VerifyClientCertIfGiven, cfg.ClientAuth)
	assert.Same(t, pool, cfg.ClientCAs)
}

// Over a real TLS connection from 127.0.0.1: a forwarded header is ignored
// unless 127.0.0.1 is a trusted proxy, and from a trusted proxy only the
// header counts, never the proxy's own connection certificate.
func TestTLSForwardedHeaderTrust(t *testing.T) {
	f := fixtures(t)
	fwd := http.Header{"X-Client-Cert": {url.PathEscape(f.ecSelf.pem())}}

	tests := []struct {
		name     string
		trusted  string
		conn     *testCert
		header   http.Header
		wantCert *testCert
		wantErr  error
	}{
		{"untrusted: header ignored although it would match", "10.0.0.0/8", nil, fwd, nil, ErrNoCertificate},
		{"untrusted: connection certificate, header ignored", "10.0.0.0/8", &f.rsaSelf, fwd, &f.rsaSelf, nil},
		{"trusted: header wins over the connection certificate", "127.0.0.0/8", &f.rsaSelf, fwd, &f.ecSelf, nil},
		{"trusted: header without connection certificate", "127.0.0.1/32", nil, fwd, &f.ecSelf, nil},
		{"trusted: no header, proxy's own certificate not used", "127.0.0.0/8", &f.rsaSelf, nil, nil, ErrNoCertificate},
		{"trusted IPv6 prefix does not cover 127.0.0.1", "::1/128", nil, fwd, nil, ErrNoCertificate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := NewSource(
				WithForwardedHeader("X-Client-Cert", EscapedPEM),
				WithTrustedProxies(netip.MustParsePrefix(tt.trusted)),
			)
			require.NoError(t, err)
			srv, ch := startServer(t, src, nil)
			require.NoError(t, get(t, client(t, srv, tt.conn), srv.URL, tt.header))
			s := <-ch
			if tt.wantErr != nil {
				assert.ErrorIs(t, s.certErr, tt.wantErr)
				assert.ErrorIs(t, s.tpErr, tt.wantErr)
				return
			}
			require.NoError(t, s.certErr)
			assert.Equal(t, tt.wantCert.cert.Raw, s.cert.Raw)
			assert.Equal(t, Thumbprint(tt.wantCert.cert), s.thumbprint)
		})
	}
}
