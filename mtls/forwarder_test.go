package mtls

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUntrustedForwarderSaysSo: a certificate header from an address that
// is not a trusted proxy is ignored, and when that leaves the request with
// no certificate the error says the header was ignored, so that a proxy
// missing from WithTrustedProxies shows in the logs. Without the header
// nothing was ignored, and the error does not say so.
func TestUntrustedForwarderSaysSo(t *testing.T) {
	fx := fixtures(t)
	src, err := NewSource(WithForwardedHeader("X-Client-Cert", EscapedPEM),
		WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8")))
	require.NoError(t, err)
	req := func(header bool) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "https://api.example.com/", nil)
		r.RemoteAddr = "192.0.2.7:4444"
		r.TLS = &tls.ConnectionState{}
		if header {
			r.Header.Set("X-Client-Cert", fullEscape(fx.ecSelf.pem()))
		}
		return r
	}

	_, err = src.Thumbprint(req(true))
	require.ErrorIs(t, err, ErrNoCertificate)
	require.ErrorIs(t, err, ErrUntrustedForwarder)
	_, err = src.Certificate(req(true))
	require.ErrorIs(t, err, ErrUntrustedForwarder)

	_, err = src.Thumbprint(req(false))
	require.ErrorIs(t, err, ErrNoCertificate)
	assert.NotErrorIs(t, err, ErrUntrustedForwarder)
}
