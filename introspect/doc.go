// Package introspect asks an authorization server about opaque access
// tokens: an RFC 7662 token introspection client for a resource server,
// with a cache, single flight, call limits and fail-closed faults.
//
// Many authorization servers issue opaque (reference) tokens, whose only
// meaning is what the server says about them when asked. A [Client] asks
// one issuer's introspection endpoint (found by RFC 8414 / OpenID
// discovery, or configured with [WithEndpoint]), authenticating as the
// resource server with a [clientauth.Method]. The answer counts only when
// its active member is the JSON value true.
//
// Most programs do not call a Client themselves: they give it to a
// middleware Guard (middleware.WithIntrospection), which sends it the
// tokens that are not JWTs and then holds the answer to every rule a JWT
// gets (exp, nbf, iat, iss, aud, scopes, and the DPoP or certificate
// binding of cnf), with the same code.
//
// # Which tokens go where
//
// An opaque token does not name its issuer, so a Client only ever sends a
// token to the one endpoint its operator configured for it: a Client has
// exactly one issuer, and a Guard at most one Client. An API that accepts
// opaque tokens from several issuers routes each path (or host) to its own
// Guard. Nothing a token or a request says can make a Client call another
// URL: discovery runs once, in [New], and introspection requests never
// follow redirects.
//
// # Cache and revocation latency
//
// Active answers are kept by SHA-256 of the token (never the token) for at
// most the cache time ([WithCache], default [DefaultCacheMaxAge]) and never
// past their exp; a token revoked at the authorization server keeps
// working here for at most that long. [WithCache](0) asks the server every
// time, so revocation takes effect at once. Inactive answers are kept
// briefly ([WithInactiveCache], default [DefaultInactiveCacheMaxAge]), so
// that a client retrying a dead token does not call the server each time.
// The cache is bounded (entries and bytes). Concurrent requests for the
// same token wait for one call (single flight). A cache hit still passes
// every check of the Guard: a DPoP proof or a client certificate is
// verified on every request.
//
// # Limits and faults
//
// Random tokens cannot turn the API into a flood on the authorization
// server: calls are bounded per Client in number at once and per second
// ([WithLimits]); beyond the bound a call is not made and [Client.Introspect]
// fails with [ErrLimited] (a Guard answers 503 with Retry-After).
//
// Faults fail closed: a timeout, a connection error, a redirect, a status
// other than 200, the server refusing our own client authentication (401),
// an answer over the size cap ([WithMaxResponseSize]) or one that is not a
// JSON object with a boolean active, and for signed answers anything
// wrong with the JWT, all fail with [ErrUnavailable] (and a more specific
// sentinel), are logged at Error level with their cause, and a Guard
// answers 503, never 200 and never 401. Only active: false is
// [ErrInactive]. No log, error text, metric or span ever holds the token or
// the answer's body.
//
// # Signed answers
//
// [WithJWTResponse] asks for RFC 9701 JWT answers (Accept:
// application/token-introspection+jwt) and verifies them with the issuer's
// keys ([github.com/senderbound/senderbound/jwks]): the signature with an
// allowed asymmetric algorithm, typ token-introspection+jwt, iss the
// issuer and aud the resource server's client ID; the token's data is the
// token_introspection member. Encrypted answers are not supported.
//
// A Client is safe for concurrent use. [Client.Close] stops the calls in
// flight and waits for them.
package introspect
