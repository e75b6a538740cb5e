package mtls

import (
	"crypto/tls"
	"crypto/x509"
)

// ServerTLSConfig returns a server configuration (TLS 1.2 or later) with
// cert as the server certificate that asks clients for a certificate without
// requiring one, so that clients which call only public paths still connect.
//
// With clientCAs nil, any client certificate is accepted
// (tls.RequestClientCert): the handshake still proves that the client holds
// its private key, which is all the RFC 8705 binding needs, so self-signed
// client certificates (common with Auth0) work. Validity dates are not
// checked either. With clientCAs set, a presented certificate must chain to
// one of them (tls.VerifyClientCertIfGiven) or the handshake fails.
//
// The caller may modify the returned configuration.
func ServerTLSConfig(cert tls.Certificate, clientCAs *x509.CertPool) *tls.Config {
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequestClientCert,
	}
	if clientCAs != nil {
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		cfg.ClientCAs = clientCAs
	}
	return cfg
}
