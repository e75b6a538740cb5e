package mtls

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const proxyAddr = "10.1.2.3:44321"

var proxyNet = netip.MustParsePrefix("10.0.0.0/8")

func hexSum(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// request builds a request from remoteAddr with the header values and,
// when conn is non-nil, a TLS connection on which conn was presented.
func request(remoteAddr string, h http.Header, conn *x509.Certificate) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://api.example/", nil)
	r.RemoteAddr = remoteAddr
	for k, v := range h {
		r.Header[http.CanonicalHeaderKey(k)] = v
	}
	if conn != nil {
		r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{conn}}
	} else {
		r.TLS = &tls.ConnectionState{}
	}
	return r
}

func TestHeaderFormats(t *testing.T) {
	f := fixtures(t)
	ec, other := f.ecCA.cert, f.another.cert
	fixed := fixedCert(t)
	fixedPEMStr := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fixed.Raw}))
	require.True(t, strings.ContainsAny(fixedPEMStr, "+/"), "the fixed certificate exercises '+' and '/'")
	ecPEM, caPEM, otherPEM := f.ecCA.pem(), f.ca.pem(), f.another.pem()
	esc := fullEscape
	std := base64.StdEncoding.EncodeToString(fixed.Raw)

	tests := []struct {
		name    string
		format  HeaderFormat
		values  []string
		want    *x509.Certificate // the certificate found
		hashOf  *x509.Certificate // only its hash was forwarded
		wantErr error
	}{
		// Envoy XFCC.
		{"XFCC Cert quoted", XFCC, []string{`By=spiffe://proxy;Hash=` + hexSum(ec) + `;Cert="` + esc(ecPEM) + `";Subject="/CN=ec";URI=spiffe://client`}, ec, nil, nil},
		{"XFCC Istio style, empty URI", XFCC, []string{`By=spiffe://cluster.local/ns/a/sa/b;Hash=` + hexSum(ec) + `;Cert="` + esc(ecPEM) + `";Subject="";URI=;DNS=a.example`}, ec, nil, nil},
		{"XFCC bare value with = (unescaped padding)", XFCC, []string{`By=x;Cert=` + strings.ReplaceAll(esc(fixedPEMStr), "%3D", "=")}, fixed, nil, nil},
		{"XFCC Cert bare", XFCC, []string{`Cert=` + esc(ecPEM)}, ec, nil, nil},
		{"XFCC keys case-insensitive", XFCC, []string{`HASH=` + strings.ToUpper(hexSum(ec)) + `;cert=` + esc(ecPEM)}, ec, nil, nil},
		{"XFCC Chain only: leaf first", XFCC, []string{`By=a;Chain="` + esc(ecPEM+caPEM) + `"`}, ec, nil, nil},
		{"XFCC Cert and Chain agree", XFCC, []string{`Cert=` + esc(ecPEM) + `;Chain=` + esc(ecPEM+caPEM)}, ec, nil, nil},
		{"XFCC Hash only", XFCC, []string{`By=spiffe://proxy;Hash=` + hexSum(ec) + `;Subject="/CN=ec";DNS=a.example;DNS=b.example`}, nil, ec, nil},
		{"XFCC nearest proxy is the last element", XFCC, []string{`By=x;Cert=` + esc(otherPEM) + `,By=y;Cert=` + esc(ecPEM)}, ec, nil, nil},
		{"XFCC last element even if it is hash only", XFCC, []string{`Cert=` + esc(ecPEM) + `, By=y;Hash=` + hexSum(other)}, nil, other, nil},
		{"XFCC several header lines", XFCC, []string{`By=x;Cert=` + esc(otherPEM), `By=y;Cert=` + esc(ecPEM)}, ec, nil, nil},
		{"XFCC quoted values with escaped quotes, commas, semicolons", XFCC, []string{`By=x;Subject="/CN=a\"b,c;d=e\\";Cert=` + esc(otherPEM) + `,Subject="/O=\",;=";URI="spiffe://x;y";Cert="` + esc(ecPEM) + `"`}, ec, nil, nil},
		{"XFCC unbalanced quote in an earlier element", XFCC, []string{`Subject="/CN=evil,By=y;Cert=` + esc(ecPEM)}, nil, nil, ErrMalformedHeader},
		{"XFCC unbalanced quote", XFCC, []string{`Cert="` + esc(ecPEM)}, nil, nil, ErrMalformedHeader},
		{"XFCC dangling escape", XFCC, []string{`Cert=` + esc(ecPEM) + `;Subject="a\`}, nil, nil, ErrMalformedHeader},
		{"XFCC trailing comma", XFCC, []string{`Cert=` + esc(ecPEM) + `,`}, nil, nil, ErrMalformedHeader},
		{"XFCC empty pair", XFCC, []string{`Cert=` + esc(ecPEM) + `;;By=x`}, nil, nil, ErrMalformedHeader},
		{"XFCC pair without =", XFCC, []string{`By;Cert=` + esc(ecPEM)}, nil, nil, ErrMalformedHeader},
		{"XFCC empty key", XFCC, []string{`=x;Cert=` + esc(ecPEM)}, nil, nil, ErrMalformedHeader},
		{"XFCC backslash in a bare value", XFCC, []string{`By=a\b;Cert=` + esc(ecPEM)}, nil, nil, ErrMalformedHeader},
		{"XFCC text after a quoted value", XFCC, []string{`Subject="a"b;Cert=` + esc(ecPEM)}, nil, nil, ErrMalformedHeader},
		{"XFCC repeated Cert", XFCC, []string{`Cert=` + esc(ecPEM) + `;Cert=` + esc(otherPEM)}, nil, nil, ErrMalformedHeader},
		{"XFCC repeated Hash", XFCC, []string{`Hash=` + hexSum(ec) + `;hash=` + hexSum(ec)}, nil, nil, ErrMalformedHeader},
		{"XFCC Hash does not match Cert", XFCC, []string{`Hash=` + hexSum(other) + `;Cert=` + esc(ecPEM)}, nil, nil, ErrMalformedHeader},
		{"XFCC Cert is not the leaf of Chain", XFCC, []string{`Cert=` + esc(ecPEM) + `;Chain=` + esc(caPEM+ecPEM)}, nil, nil, ErrMalformedHeader},
		{"XFCC Hash not hex", XFCC, []string{`Hash=` + strings.Repeat("zz", 32)}, nil, nil, ErrMalformedHeader},
		{"XFCC Hash SHA-1 length", XFCC, []string{`Hash=` + hexSum(ec)[:40]}, nil, nil, ErrMalformedHeader},
		{"XFCC Cert truncated PEM", XFCC, []string{`Cert=` + esc(ecPEM[:len(ecPEM)/2])}, nil, nil, ErrMalformedHeader},
		{"XFCC Cert without END line", XFCC, []string{`Cert=` + esc(strings.TrimSuffix(ecPEM, "-----END CERTIFICATE-----\n"))}, nil, nil, ErrMalformedHeader},
		{"XFCC Cert holds two certificates", XFCC, []string{`Cert=` + esc(ecPEM+caPEM)}, nil, nil, ErrMalformedHeader},
		{"XFCC Cert empty", XFCC, []string{`Cert=;By=x`}, nil, nil, ErrMalformedHeader},
		{"XFCC nearest element has no certificate", XFCC, []string{`Cert=` + esc(ecPEM) + `,By=spiffe://proxy;URI=spiffe://client`}, nil, nil, ErrNoCertificate},

		// URL-encoded PEM.
		{"EscapedPEM nginx", EscapedPEM, []string{esc(fixedPEMStr)}, fixed, nil, nil},
		{"EscapedPEM AWS ALB, +=/ unescaped", EscapedPEM, []string{albEscape(fixedPEMStr)}, fixed, nil, nil},
		{"EscapedPEM url.PathEscape", EscapedPEM, []string{url.PathEscape(fixedPEMStr)}, fixed, nil, nil},
		{"EscapedPEM chain: first certificate", EscapedPEM, []string{albEscape(ecPEM + caPEM)}, ec, nil, nil},
		{"EscapedPEM surrounding newlines", EscapedPEM, []string{esc("\n" + ecPEM + "\n\n")}, ec, nil, nil},
		{"EscapedPEM form encoding is not supported", EscapedPEM, []string{url.QueryEscape(fixedPEMStr)}, nil, nil, ErrMalformedHeader},
		{"EscapedPEM truncated", EscapedPEM, []string{esc(ecPEM[:len(ecPEM)-40])}, nil, nil, ErrMalformedHeader},
		{"EscapedPEM cut inside the base64", EscapedPEM, []string{esc(ecPEM[:100] + "\n-----END CERTIFICATE-----\n")}, nil, nil, ErrMalformedHeader},
		{"EscapedPEM text before", EscapedPEM, []string{esc("subject=CN=x\n" + ecPEM)}, nil, nil, ErrMalformedHeader},
		{"EscapedPEM text after", EscapedPEM, []string{esc(ecPEM + "trailer")}, nil, nil, ErrMalformedHeader},
		{"EscapedPEM key block", EscapedPEM, []string{esc(strings.ReplaceAll(ecPEM, "CERTIFICATE", "PRIVATE KEY"))}, nil, nil, ErrMalformedHeader},
		{"EscapedPEM certificate after a key", EscapedPEM, []string{esc(ecPEM + strings.ReplaceAll(caPEM, "CERTIFICATE", "PRIVATE KEY"))}, nil, nil, ErrMalformedHeader},
		{"EscapedPEM PEM headers", EscapedPEM, []string{esc(strings.Replace(ecPEM, "-----\n", "-----\nProc-Type: 4,ENCRYPTED\n\n", 1))}, nil, nil, ErrMalformedHeader},
		{"EscapedPEM not a certificate", EscapedPEM, []string{esc(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")})))}, nil, nil, ErrMalformedHeader},
		{"EscapedPEM bad percent escape", EscapedPEM, []string{esc(ecPEM) + "%zz"}, nil, nil, ErrMalformedHeader},
		{"EscapedPEM base64 DER", EscapedPEM, []string{std}, nil, nil, ErrMalformedHeader},
		{"EscapedPEM sent twice", EscapedPEM, []string{esc(ecPEM), esc(ecPEM)}, nil, nil, ErrMalformedHeader},
		{"EscapedPEM empty: no certificate", EscapedPEM, []string{""}, nil, nil, ErrNoCertificate},

		// Base64 of the DER.
		{"Base64DER standard padded", Base64DER, []string{std}, fixed, nil, nil},
		{"Base64DER standard unpadded", Base64DER, []string{strings.TrimRight(std, "=")}, fixed, nil, nil},
		{"Base64DER URL-safe padded", Base64DER, []string{base64.URLEncoding.EncodeToString(fixed.Raw)}, fixed, nil, nil},
		{"Base64DER URL-safe unpadded", Base64DER, []string{base64.RawURLEncoding.EncodeToString(fixed.Raw)}, fixed, nil, nil},
		{"Base64DER mixed alphabets", Base64DER, []string{strings.Replace(std, "+", "-", 1)}, nil, nil, ErrMalformedHeader},
		{"Base64DER line breaks", Base64DER, []string{std[:64] + "\n" + std[64:]}, nil, nil, ErrMalformedHeader},
		{"Base64DER spaces", Base64DER, []string{std[:64] + " " + std[64:]}, nil, nil, ErrMalformedHeader},
		{"Base64DER non-canonical final bits", Base64DER, []string{strings.TrimSuffix(std, "w==") + "x=="}, nil, nil, ErrMalformedHeader},
		{"Base64DER wrong padding", Base64DER, []string{std + "="}, nil, nil, ErrMalformedHeader},
		{"Base64DER truncated DER", Base64DER, []string{std[:200]}, nil, nil, ErrMalformedHeader},
		{"Base64DER trailing data after the DER", Base64DER, []string{base64.StdEncoding.EncodeToString(append(append([]byte{}, fixed.Raw...), 0))}, nil, nil, ErrMalformedHeader},
		{"Base64DER PEM", Base64DER, []string{esc(fixedPEMStr)}, nil, nil, ErrMalformedHeader},
		{"Base64DER RFC 9440 colons", Base64DER, []string{":" + std + ":"}, nil, nil, ErrMalformedHeader},

		// RFC 9440 Client-Cert.
		{"RFC9440", RFC9440, []string{":" + std + ":"}, fixed, nil, nil},
		{"RFC9440 unpadded", RFC9440, []string{":" + strings.TrimRight(std, "=") + ":"}, fixed, nil, nil},
		{"RFC9440 without colons", RFC9440, []string{std}, nil, nil, ErrMalformedHeader},
		{"RFC9440 one colon", RFC9440, []string{":" + std}, nil, nil, ErrMalformedHeader},
		{"RFC9440 URL-safe alphabet", RFC9440, []string{":" + base64.URLEncoding.EncodeToString(fixed.Raw) + ":"}, nil, nil, ErrMalformedHeader},
		{"RFC9440 empty byte sequence", RFC9440, []string{"::"}, nil, nil, ErrMalformedHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := NewSource(WithForwardedHeader("X-Client-Cert", tt.format), WithTrustedProxies(proxyNet))
			require.NoError(t, err)
			r := request(proxyAddr, http.Header{"X-Client-Cert": tt.values}, nil)

			cert, certErr := src.Certificate(r)
			tp, tpErr := src.Thumbprint(r)
			switch {
			case tt.wantErr != nil:
				assert.ErrorIs(t, certErr, tt.wantErr)
				assert.ErrorIs(t, tpErr, tt.wantErr)
				assert.True(t, cert == nil, "no certificate with an error")
				assert.Empty(t, tp)
			case tt.hashOf != nil:
				assert.ErrorIs(t, certErr, ErrNoCertificate)
				require.NoError(t, tpErr)
				assert.Equal(t, Thumbprint(tt.hashOf), tp)
			default:
				require.NoError(t, certErr)
				require.NoError(t, tpErr)
				assert.Equal(t, tt.want.Raw, cert.Raw)
				assert.Equal(t, Thumbprint(tt.want), tp)
				assert.True(t, MatchThumbprint(cert, Thumbprint(tt.want)))
			}
		})
	}
}

func TestHeaderSizeLimit(t *testing.T) {
	f := fixtures(t)
	valid := fullEscape(f.rsaCA.pem())
	tests := []struct {
		name    string
		max     int
		values  []string
		wantErr error
	}{
		{"within the limit", len(valid), []string{valid}, nil},
		{"one byte over", len(valid) - 1, []string{valid}, ErrHeaderTooLarge},
		{"garbage over the limit is not parsed", 10, []string{strings.Repeat("%", 11)}, ErrHeaderTooLarge},
		{"default limit", 0, []string{strings.Repeat("A", DefaultMaxHeaderSize+1)}, ErrHeaderTooLarge},
		{"lines add up", 2 * len(valid), []string{valid, valid, valid}, ErrHeaderTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []Option{WithForwardedHeader("X-Client-Cert", XFCC), WithTrustedProxies(proxyNet)}
			if tt.max > 0 {
				opts = append(opts, WithMaxHeaderSize(tt.max))
			}
			src, err := NewSource(opts...)
			require.NoError(t, err)
			vals := make([]string, len(tt.values))
			for i, v := range tt.values {
				vals[i] = "Cert=" + v
			}
			if tt.max > 0 && tt.wantErr == nil {
				require.NoError(t, err)
				src, err = NewSource(WithForwardedHeader("X-Client-Cert", EscapedPEM), WithTrustedProxies(proxyNet), WithMaxHeaderSize(tt.max))
				require.NoError(t, err)
				vals = tt.values
			}
			_, err = src.Certificate(request(proxyAddr, http.Header{"X-Client-Cert": vals}, nil))
			if tt.wantErr == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tt.wantErr)
			_, err = src.Thumbprint(request(proxyAddr, http.Header{"X-Client-Cert": vals}, nil))
			assert.ErrorIs(t, err, tt.wantErr)
		})
	}
}

func TestVerifiedHeaderGate(t *testing.T) {
	f := fixtures(t)
	certHeader := fullEscape(f.ecSelf.pem())
	tests := []struct {
		name     string
		remote   string
		verified []string
		cert     bool
		wantErr  error
	}{
		{"SUCCESS", proxyAddr, []string{"SUCCESS"}, true, nil},
		{"FAILED", proxyAddr, []string{"FAILED"}, true, ErrNotVerified},
		{"absent", proxyAddr, nil, true, ErrNotVerified},
		{"case differs", proxyAddr, []string{"success"}, true, ErrNotVerified},
		{"sent twice", proxyAddr, []string{"SUCCESS", "SUCCESS"}, true, ErrNotVerified},
		{"SUCCESS without a certificate", proxyAddr, []string{"SUCCESS"}, false, ErrNoCertificate},
		{"SUCCESS from an untrusted address", "192.0.2.1:443", []string{"SUCCESS"}, true, ErrNoCertificate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := NewSource(
				WithForwardedHeader("client-certificate", EscapedPEM),
				WithVerifiedHeader("client-certificate-ca-verified", "SUCCESS"),
				WithTrustedProxies(proxyNet),
			)
			require.NoError(t, err)
			h := http.Header{}
			if tt.cert {
				h["Client-Certificate"] = []string{certHeader}
			}
			if tt.verified != nil {
				h["Client-Certificate-Ca-Verified"] = tt.verified
			}
			cert, err := src.Certificate(request(tt.remote, h, nil))
			_, tpErr := src.Thumbprint(request(tt.remote, h, nil))
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				assert.ErrorIs(t, tpErr, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.NoError(t, tpErr)
			assert.True(t, MatchThumbprint(cert, Thumbprint(f.ecSelf.cert)))
		})
	}
}

func TestTrustedProxies(t *testing.T) {
	f := fixtures(t)
	conn, fwd := f.rsaSelf.cert, f.ecSelf.cert
	header := http.Header{"X-Client-Cert": {fullEscape(f.ecSelf.pem())}}
	bad := http.Header{"X-Client-Cert": {"garbage"}}
	tests := []struct {
		name    string
		remote  string
		header  http.Header
		conn    *x509.Certificate
		want    *x509.Certificate
		wantErr error
	}{
		{"untrusted, header only: ignored", "192.0.2.7:5555", header, nil, nil, ErrNoCertificate},
		{"untrusted, header and connection certificate: connection", "192.0.2.7:5555", header, conn, conn, nil},
		{"untrusted, malformed header: ignored, not an error", "192.0.2.7:5555", bad, conn, conn, nil},
		{"untrusted IPv6", "[2001:db8::1]:443", header, nil, nil, ErrNoCertificate},
		{"unparsable RemoteAddr is untrusted", "not-an-address", header, nil, nil, ErrNoCertificate},
		{"empty RemoteAddr is untrusted", "", header, nil, nil, ErrNoCertificate},
		{"trusted: header", proxyAddr, header, nil, fwd, nil},
		{"trusted: header wins over the connection", proxyAddr, header, conn, fwd, nil},
		{"trusted without header: proxy's connection certificate not used", proxyAddr, nil, conn, nil, ErrNoCertificate},
		{"trusted IPv4-mapped IPv6", "[::ffff:10.9.8.7]:443", header, nil, fwd, nil},
		{"trusted by an IPv4-mapped prefix", "172.16.0.9:443", header, nil, fwd, nil},
		{"outside the IPv4-mapped prefix", "172.32.0.9:443", header, nil, nil, ErrNoCertificate},
		{"trusted, malformed header", proxyAddr, bad, conn, nil, ErrMalformedHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := NewSource(WithForwardedHeader("X-Client-Cert", EscapedPEM), WithTrustedProxies(proxyNet, netip.MustParsePrefix("::ffff:172.16.0.0/108")))
			require.NoError(t, err)
			r := request(tt.remote, tt.header, tt.conn)
			cert, err := src.Certificate(r)
			tp, tpErr := src.Thumbprint(r)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				assert.ErrorIs(t, tpErr, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.NoError(t, tpErr)
			assert.Equal(t, tt.want.Raw, cert.Raw)
			assert.Equal(t, Thumbprint(tt.want), tp)
		})
	}
}

func TestDefaultSourceIgnoresHeaders(t *testing.T) {
	f := fixtures(t)
	src, err := NewSource()
	require.NoError(t, err)
	h := http.Header{"X-Forwarded-Client-Cert": {"Cert=" + fullEscape(f.ecSelf.pem())}}
	for _, remote := range []string{proxyAddr, "127.0.0.1:1"} {
		_, err = src.Certificate(request(remote, h, nil))
		assert.ErrorIs(t, err, ErrNoCertificate)
	}
	// No TLS at all.
	r := httptest.NewRequest(http.MethodGet, "http://api.example/", nil)
	_, err = src.Certificate(r)
	assert.ErrorIs(t, err, ErrNoCertificate)
	_, err = src.Thumbprint(r)
	assert.ErrorIs(t, err, ErrNoCertificate)
	// A TLS state with a nil certificate.
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{nil}}
	_, err = src.Certificate(r)
	assert.ErrorIs(t, err, ErrNoCertificate)
}

func TestSourceDoesNotModifyRequest(t *testing.T) {
	f := fixtures(t)
	src, err := NewSource(
		WithForwardedHeader("X-Forwarded-Client-Cert", XFCC),
		WithVerifiedHeader("X-Verified", "ok"),
		WithTrustedProxies(proxyNet),
	)
	require.NoError(t, err)
	h := http.Header{
		"X-Forwarded-Client-Cert": {`By=x;Cert="` + fullEscape(f.ecSelf.pem()) + `"`, `Hash=` + hexSum(f.ecCA.cert)},
		"X-Verified":              {"ok"},
	}
	r := request(proxyAddr, h, f.rsaSelf.cert)
	before := r.Header.Clone()
	tlsBefore := *r.TLS
	tp, err := src.Thumbprint(r)
	require.NoError(t, err)
	assert.Equal(t, Thumbprint(f.ecCA.cert), tp)
	assert.Equal(t, before, r.Header)
	assert.Equal(t, tlsBefore.PeerCertificates, r.TLS.PeerCertificates)
	assert.Equal(t, proxyAddr, r.RemoteAddr)
}

func TestNewSourceOptions(t *testing.T) {
	tests := []struct {
		name  string
		opts  []Option
		valid bool
		count int // errors reported together
	}{
		{"no options", nil, true, 0},
		{"header and proxies", []Option{WithForwardedHeader("X-Client-Cert", XFCC), WithTrustedProxies(proxyNet)}, true, 0},
		{"header without proxies (never honoured)", []Option{WithForwardedHeader("X-Client-Cert", Base64DER)}, false, 1},
		{"empty header name", []Option{WithForwardedHeader("", XFCC), WithTrustedProxies(proxyNet)}, false, 1},
		{"header name with a space", []Option{WithForwardedHeader("X Client", XFCC), WithTrustedProxies(proxyNet)}, false, 1},
		{"zero format", []Option{WithForwardedHeader("X-Client-Cert", 0), WithTrustedProxies(proxyNet)}, false, 1},
		{"unknown format", []Option{WithForwardedHeader("X-Client-Cert", RFC9440+1), WithTrustedProxies(proxyNet)}, false, 1},
		{"invalid prefix", []Option{WithForwardedHeader("X-Client-Cert", XFCC), WithTrustedProxies(netip.Prefix{})}, false, 1},
		{"proxies without header", []Option{WithTrustedProxies(proxyNet)}, false, 1},
		{"verified without header", []Option{WithVerifiedHeader("X-Verified", "SUCCESS")}, false, 1},
		{"verified with empty value", []Option{WithForwardedHeader("X-Client-Cert", XFCC), WithTrustedProxies(proxyNet), WithVerifiedHeader("X-Verified", "")}, false, 1},
		{"verified header is the certificate header", []Option{WithForwardedHeader("x-client-cert", XFCC), WithTrustedProxies(proxyNet), WithVerifiedHeader("X-Client-Cert", "ok")}, false, 1},
		{"zero size", []Option{WithMaxHeaderSize(0)}, false, 1},
		{"negative size", []Option{WithMaxHeaderSize(-1)}, false, 1},
		{"everything wrong at once", []Option{WithForwardedHeader("", 9), WithTrustedProxies(netip.Prefix{}), WithMaxHeaderSize(0), WithVerifiedHeader("", "")}, false, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := NewSource(tt.opts...)
			if tt.valid {
				require.NoError(t, err)
				require.NotNil(t, src)
				return
			}
			require.ErrorIs(t, err, ErrInvalidOption)
			assert.Nil(t, src)
			var joined interface{ Unwrap() []error }
			require.True(t, errors.As(err, &joined))
			assert.GreaterOrEqual(t, len(joined.Unwrap()), tt.count)
		})
	}
}

func TestHeaderFormatString(t *testing.T) {
	assert.Equal(t, "XFCC", XFCC.String())
	assert.Equal(t, "EscapedPEM", EscapedPEM.String())
	assert.Equal(t, "Base64DER", Base64DER.String())
	assert.Equal(t, "RFC9440", RFC9440.String())
	assert.Equal(t, "HeaderFormat(0)", HeaderFormat(0).String())
}

// BenchmarkSourceThumbprint is the per-request cost of finding the client
// certificate's thumbprint on each path.
func BenchmarkSourceThumbprint(b *testing.B) {
	f := fixtures(b)
	cert := f.ecCA.cert
	certPEM := f.ecCA.pem()
	cases := []struct {
		name   string
		format HeaderFormat
		value  string
		remote string
	}{
		{"TLS connection", XFCC, "", "192.0.2.1:1"},
		{"XFCC Hash only", XFCC, `By=spiffe://p;Hash=` + hexSum(cert) + `;Subject="/CN=x"`, proxyAddr},
		{"XFCC Cert", XFCC, `By=spiffe://p;Hash=` + hexSum(cert) + `;Cert="` + fullEscape(certPEM) + `"`, proxyAddr},
		{"EscapedPEM", EscapedPEM, fullEscape(certPEM), proxyAddr},
		{"Base64DER", Base64DER, base64.StdEncoding.EncodeToString(cert.Raw), proxyAddr},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			src, err := NewSource(WithForwardedHeader("X-Client-Cert", tc.format), WithTrustedProxies(proxyNet))
			require.NoError(b, err)
			h := http.Header{}
			if tc.value != "" {
				h["X-Client-Cert"] = []string{tc.value}
			}
			r := request(tc.remote, h, cert)
			want := Thumbprint(cert)
			b.ReportAllocs()
			for b.Loop() {
				tp, err := src.Thumbprint(r)
				if err != nil || !EqualThumbprints(tp, want) {
					b.Fatal(tp, err)
				}
			}
		})
	}
}
