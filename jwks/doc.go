// Package jwks provides the public keys that verify access tokens, one JSON
// Web Key Set per trusted issuer (tenant).
//
// [New] builds a [Keys] for issuers configured up front ([WithIssuer] finds
// the JWKS through OpenID Connect discovery or RFC 8414 metadata,
// [WithIssuerJWKS] names it directly) or resolved at run time
// ([WithResolver]). [Keys.Key] answers, on the request path, which public key
// verifies a token from an issuer whose header names a kid and an alg.
//
// # Lifecycle
//
// The context given to New bounds only the initial load of the static
// issuers' keys (a start-up deadline); background refresh runs until
// [Keys.Close], which waits for it and for the loads requests started, and
// starts no load after it. An issuer that did not load by then is
// not an error: its tokens are refused with [ErrUnavailable] (503) until a
// retry succeeds. [Keys.Ready] waits until every static issuer has keys and
// says which have none and why; [Keys.Status] is a snapshot per issuer for
// health endpoints.
//
// A failure that retrying will not fix ([ErrPermanent]: the discovered
// metadata names another issuer, such as the configured issuer without its
// trailing slash; a 404 or other client error from a discovery or JWKS
// URL; a plaintext URL refused; a body that is not a JWK Set) ends
// Ready's wait at once, with the reason and the fix; connection errors,
// timeouts, 5xx and 429 keep it waiting. Either way the issuer is retried
// in the background once per rate-limit window and recovers on the first
// load that succeeds, so an operator can fix the issuer without a restart.
// Until then its tokens are refused with [ErrUnavailable] (503, never 401),
// and so are tokens naming the issuer its metadata named instead.
//
// # keyfunc and jwkset
//
// Each issuer has its own [github.com/MicahParks/keyfunc/v3] Keyfunc, never
// shared between issuers (their sets would merge and one tenant's key would
// verify another's tokens). It sits on a [github.com/MicahParks/jwkset] HTTP
// client of the issuer's JWKS URL whose storage is this package's indexed
// store. jwkset fetches, decodes and validates every set; an unknown kid is
// looked up through the keyfunc's storage, whose HTTP client refreshes the
// set under the issuer's own rate limiter (RefreshUnknownKID), so one
// tenant's key rotation never refreshes another's and a flood of random kids
// causes at most one fetch per window per issuer. Only one request per
// issuer waits on that limiter at a time, so it never holds more than one
// reservation and cannot be left in debt by cancelled requests.
//
// What keyfunc's default set-up does not give is done here: a known kid is
// answered from an immutable per-issuer index, swapped atomically after each
// successful load, without locks, scans or allocation (a keyfunc call costs
// a JWK copy and several allocations); the key must fit the token's alg;
// a JWK whose "key_ops" lacks "verify" never verifies; a JWK that
// publishes private members, or whose "use" and "key_ops" contradict each
// other, is skipped with a warning and a status entry (a published
// private key must stop verifying at once, which refusing its whole set
// and keeping the last good keys would not do); a set that is empty, too
// large or has no usable signing key is refused and the last good keys
// kept; fetches have a timeout and a body size
// limit; and the periodic refresh is a goroutine of this package, stopped
// and waited for by Close (jwkset's own refresh goroutine cannot be waited
// for, so it is not started).
//
// A failed load keeps the last good keys; after one, an issuer without keys
// fails at once until its next permitted retry (once per rate-limit window),
// so a down issuer never costs each request an HTTP timeout. Plaintext http
// is refused except on loopback hosts or with [WithInsecurePlaintextHTTP],
// on every redirect hop too.
// Nothing named by a token (jku, x5u, jwk, x5c) is ever fetched or used.
//
// Rotation works as at Auth0: the current, next and previous keys in the
// JWKS all verify; a key removed from the JWKS stops verifying after the next
// refresh, periodic or triggered by an unknown kid.
//
// For code that already runs keyfunc, [NewKeyfuncSource] adapts one
// Keyfunc per issuer to the middleware; [Keys.Keyfunc] goes the other way,
// giving golang-jwt code (ID tokens, logout tokens) the keys Keys holds.
package jwks
