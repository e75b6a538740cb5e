// Package jwks provides the public keys that verify access tokens, one JSON
// Web Key Set per trusted issuer (tenant).
//
// [New] builds a [Keys] for issuers configured up front ([WithIssuer] finds
// the JWKS through OpenID Connect discovery or RFC 8414 metadata,
// [WithIssuerJWKS] names it directly) or resolved at run time
// ([WithResolver]). [Keys.Key] answers, on the request path, which public key
// verifies a token from an issuer whose header names a kid and an alg.
//
// Key sets are fetched, parsed and validated with
// [github.com/MicahParks/jwkset]; each issuer has its own set, its own
// periodic refresh and its own rate limiter for refreshes caused by an
// unknown kid, so one tenant's key rotation never refreshes another's and a
// flood of random kids causes at most one fetch per window per issuer.
// Fetches have a timeout and a body size limit. A failed refresh keeps the
// last good keys; an issuer that was unreachable at start fails closed
// ([ErrUnavailable]) and is retried in the background and on demand until it
// answers. Nothing named by a token (jku, x5u, jwk, x5c) is ever fetched or
// used.
//
// Rotation works as at Auth0: the current, next and previous keys in the
// JWKS all verify; a key removed from the JWKS stops verifying after the next
// refresh, periodic or triggered by an unknown kid.
//
// The package does not use keyfunc/v3's Keyfunc: it needs a *jwt.Token per
// call, scans the key set linearly, does not check that the key type fits the
// algorithm, and its refresh goroutines cannot be waited for. [Keys.Key]
// instead reads an immutable per-issuer index that is swapped atomically
// after each successful refresh.
package jwks
