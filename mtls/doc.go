// Package mtls implements the resource-server side of certificate-bound
// access tokens ([RFC 8705] §3): the SHA-256 thumbprint of a client
// certificate, its constant-time comparison with the token's
// cnf["x5t#S256"], and finding the client certificate of a request.
//
// # Where the certificate comes from
//
// A [Source] is configured once. Without options it uses only the
// certificate the client presented on the TLS connection
// (r.TLS.PeerCertificates[0]). Behind a TLS-terminating proxy, name the
// header in which the proxy forwards the certificate and its [HeaderFormat]
// with [WithForwardedHeader], and the proxy's addresses with
// [WithTrustedProxies]. The rule is:
//
//   - A request whose RemoteAddr is a trusted proxy takes its certificate
//     only from the header. The proxy terminated the client's TLS, so a
//     certificate on the proxy's own connection identifies the proxy and
//     is never used instead; no header means no certificate.
//   - Any other request takes its certificate only from its TLS connection;
//     a forwarded header is ignored as if absent (not merged, not an error),
//     so a client that reaches the server directly cannot inject one.
//
// Configure the proxy to overwrite the header rather than pass on a
// client's value (Envoy: forward_client_cert_details SANITIZE_SET; nginx:
// proxy_set_header). With Envoy's APPEND_FORWARD only the last XFCC element,
// added by the nearest proxy, is used.
//
// Envoy forwards by default only the certificate's Hash; [Source.Thumbprint]
// accepts it, [Source.Certificate] cannot return a certificate for it. The
// Hash is the SHA-256 of the certificate's DER, the very value RFC 8705's
// x5t#S256 encodes, so it is all a certificate-bound token needs, and it is
// as trustworthy as a forwarded Cert: both are the trusted proxy's word. The
// middleware binds with it over HTTP (it calls Source.Thumbprint) and over
// gRPC (grpcguard passes it as middleware.Request.CertificateThumbprint). A
// middleware of your own that only needs the binding should call
// Source.Thumbprint and compare with [EqualThumbprints].
//
// # Binding, not authentication
//
// The binding is proven by the client's possession of the certificate's
// private key during the TLS handshake, so chain validation is not needed
// for the binding itself and self-signed client certificates work.
// [ServerTLSConfig] builds a server configuration that requests (but does
// not require) a client certificate, with optional chain validation.
//
// [RFC 8705]: https://www.rfc-editor.org/rfc/rfc8705
package mtls
