// Package grpcguard verifies OAuth 2.0 access tokens, DPoP-bound (RFC 9449)
// and certificate-bound (RFC 8705) ones included, on grpc-go servers, and
// sends DPoP-bound tokens from grpc-go clients. It is the gRPC adapter of
// [middleware.Guard]: the same verification, the same policy, the same
// errors and the same context accessors as the net/http adapter.
//
// It is a module of its own, so that programs which use senderbound only
// with net/http never download grpc-go.
//
// # Server
//
// [New] wraps a Guard in an [Interceptor] whose [Interceptor.Unary] and
// [Interceptor.Stream] methods are grpc-go interceptors. For every call
// they read the credentials from the call's metadata with the rules of
// HTTP: at most one "authorization" value, "Bearer <token>" or
// "DPoP <token>" (the scheme compared case-insensitively, one or more
// spaces, a token68, the size checked before parsing), and at most one
// "dpop" value, the proof. The client certificate of a certificate-bound
// token is the TLS connection's (peer.FromContext, credentials.TLSInfo) or,
// with [WithCertificateSource], the one a trusted proxy forwards in
// metadata, in the same formats as the HTTP headers.
//
// The handler finds the verified token with [middleware.TokenFromContext]
// and [middleware.ClaimsFromContext]. [WithScopes] requires scopes per
// method, [WithoutAuthentication] names the methods (health checks) that
// need no token; every other method needs one.
//
// A rejection answers:
//
//	401 (no, invalid or unproven credentials)     codes.Unauthenticated
//	400 invalid_request (malformed credentials)   codes.Unauthenticated
//	403 insufficient_scope                        codes.PermissionDenied
//	503 (keys, replay cache, nonces unavailable)  codes.Unavailable
//
// with the RFC 6750 and RFC 9449 challenges as "www-authenticate" response
// metadata (the values the HTTP answer has as WWW-Authenticate fields),
// "dpop-nonce" when a nonce is needed and "retry-after" with Unavailable.
// The status message is a short generic description; it never holds a
// token, a proof or a claim. Malformed credentials (HTTP's 400) are
// Unauthenticated rather than InvalidArgument: in gRPC, InvalidArgument
// speaks of the request message, while Unauthenticated is the code clients
// act on to fix their credentials; the challenge's error="invalid_request"
// keeps the finer distinction.
//
// Every rejection is also written to the Guard's logger
// ([middleware.WithLogger]), on the same one line as an HTTP rejection and
// under the same flood limit ([middleware.WithLogLimit]): method POST, the
// full method name as the path, the peer's address as remote_addr.
//
// # The htu of a gRPC call
//
// RFC 9449 binds a DPoP proof to an HTTP method (htm) and URI (htu) and
// says nothing of gRPC. A gRPC call is an HTTP/2 POST to the path
// "/package.Service/Method" (the call's full method name), on the
// authority the client dialled. So this package, on both sides, uses
//
//	htm = "POST"
//	htu = <external base URL> + <full method name>
//	    = https://api.example.com/package.Service/Method
//
// which is exactly the request line a DPoP client would sign for the same
// HTTP/2 request, so a gRPC client, a gRPC-Web or Connect client and a
// proxy all agree on it. The server's external base URL is configuration
// ([WithPublicURL]) whenever a proxy or load balancer stands in front of
// it; otherwise it is derived from the call's :authority and the
// connection: https over TLS, http without. The client ([Credentials])
// signs https://<authority><full method>, the authority grpc-go sends as
// :authority. As with HTTP's Host, a derived base URL lets the client
// choose the authority, so a fleet behind several names should set
// WithPublicURL.
//
// # Client
//
// [Credentials] are per-RPC credentials that add the DPoP token and a fresh
// proof to every call, and require a secure transport.
// [Credentials.Unary] is a client interceptor that retries a unary call
// once when the server asks for a DPoP nonce (use_dpop_nonce), and
// remembers the last nonce per target for the next calls;
// [Credentials.Stream] remembers the nonces of streaming calls, which
// cannot be retried.
//
// # Connect
//
// Connect (connectrpc.com/connect) handlers are net/http handlers: protect
// them with [middleware.Guard.Handler] directly, and give Connect clients a
// [dpop.Transport]. The htu is the same: the procedure's URL.
package grpcguard
