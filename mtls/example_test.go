package mtls_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"

	"github.com/senderbound/senderbound/mtls"
)

// clientPEM is a self-signed client certificate.
const clientPEM = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUa7OMKgypSdkeue53i4ap7MnGdtwwCgYIKoZIzj0EAwIw
IjEgMB4GA1UEAwwXc2VuZGVyYm91bmQgdGVzdCBjbGllbnQwIBcNMjYxMTIyMjAw
MjAwWhgPMjEyNjEwMjkyMDAyMDBaMCIxIDAeBgNVBAMMF3NlbmRlcmJvdW5kIHRl
c3QgY2xpZW50MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEjucx1gRNFD4pVQxw
BnxzrNeq5TJytd1aBdMzsIpO6UCALKPt907elU6NOse2v7BtDpG0pwblY8rpm/4X
uVGf8KNTMFEwHQYDVR0OBBYEFCjBJQgM++WqFfTssrIseFj5HqFSMB8GA1UdIwQY
MBaAFCjBJQgM++WqFfTssrIseFj5HqFSMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZI
zj0EAwIDSAAwRQIhAKJGAgBD9xQ5tWEy14vo6UnYJKBTtlmtZv+8fQfwmgOaAiBV
l6/DMvSLCZxSyZLkyGhbvNiqJxZedzSWyHFMfuEWBw==
-----END CERTIFICATE-----
`

func clientCert() *x509.Certificate {
	block, _ := pem.Decode([]byte(clientPEM))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		panic(err)
	}
	return cert
}

func ExampleThumbprint() {
	cert := clientCert()
	fmt.Println(mtls.Thumbprint(cert))
	// Output: IXzUpfYr_CZ3o-OeL1z5Cetk9pqdwIpY7LC-uGrRoo0
}

func ExampleMatchThumbprint() {
	cert := clientCert() // in a handler: r.TLS.PeerCertificates[0]

	// cnf["x5t#S256"] from a verified access token.
	bound := "IXzUpfYr_CZ3o-OeL1z5Cetk9pqdwIpY7LC-uGrRoo0"
	other := "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"

	fmt.Println(mtls.MatchThumbprint(cert, bound))
	fmt.Println(mtls.MatchThumbprint(cert, other))
	fmt.Println(mtls.MatchThumbprint(nil, bound))
	// Output:
	// true
	// false
	// false
}

// Behind nginx (proxy_set_header X-Client-Cert $ssl_client_escaped_cert)
// at 10.0.0.5: the header is honoured from that address only.
func ExampleNewSource() {
	src, err := mtls.NewSource(
		mtls.WithForwardedHeader("X-Client-Cert", mtls.EscapedPEM),
		mtls.WithTrustedProxies(netip.MustParsePrefix("10.0.0.5/32")),
	)
	if err != nil {
		fmt.Println(err)
		return
	}

	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.Header.Set("X-Client-Cert", url.PathEscape(clientPEM))

	r.RemoteAddr = "10.0.0.5:41000" // from the proxy
	tp, err := src.Thumbprint(r)
	fmt.Println(tp, err)
	fmt.Println(mtls.EqualThumbprints(tp, "IXzUpfYr_CZ3o-OeL1z5Cetk9pqdwIpY7LC-uGrRoo0"))

	r.RemoteAddr = "203.0.113.9:41000" // a client that bypassed the proxy
	_, err = src.Certificate(r)
	fmt.Println(errors.Is(err, mtls.ErrNoCertificate))
	// Output:
	// IXzUpfYr_CZ3o-OeL1z5Cetk9pqdwIpY7LC-uGrRoo0 <nil>
	// true
	// true
}

// Envoy with forward_client_cert_details: SANITIZE_SET. By default Envoy
// forwards only the certificate's Hash; Source.Thumbprint accepts it.
func ExampleSource_Thumbprint() {
	src, err := mtls.NewSource(
		mtls.WithForwardedHeader("X-Forwarded-Client-Cert", mtls.XFCC),
		mtls.WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8")),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.RemoteAddr = "10.1.2.3:41000"
	r.Header.Set("X-Forwarded-Client-Cert",
		`By=spiffe://example.org/api;Hash=217cd4a5f62bfc2677a3e39e2f5cf909eb64f69a9dc08a58ecb0beb86ad1a28d;Subject="CN=senderbound test client"`)

	tp, err := src.Thumbprint(r)
	fmt.Println(tp, err)
	_, err = src.Certificate(r)
	fmt.Println(errors.Is(err, mtls.ErrNoCertificate))
	// Output:
	// IXzUpfYr_CZ3o-OeL1z5Cetk9pqdwIpY7LC-uGrRoo0 <nil>
	// true
}
