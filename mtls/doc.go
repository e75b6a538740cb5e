// Package mtls implements the resource-server side of certificate-bound
// access tokens ([RFC 8705] §3): the SHA-256 thumbprint of a client
// certificate, its constant-time comparison with the token's
// cnf["x5t#S256"], and finding the client certificate of a request.
//
// The certificate comes from the TLS connection itself
// (r.TLS.PeerCertificates[0]) or, behind a TLS-terminating proxy that the
// operator trusts, from a header that the proxy sets. A [Source] is
// configured once with the header's name and [HeaderFormat] and the
// addresses of the trusted proxies; a forwarded header from any other
// address is ignored, so a client that reaches the server directly cannot
// inject a certificate.
//
// The binding is proven by the client's possession of the certificate's
// private key during the TLS handshake, so chain validation is not needed
// for the binding itself and self-signed client certificates work.
// [ServerTLSConfig] builds a server configuration that requests (but does not
// require) a client certificate.
//
// [RFC 8705]: https://www.rfc-editor.org/rfc/rfc8705
package mtls
