// Package middleware protects net/http handlers with OAuth 2.0 access
// tokens, including sender-constrained ones: DPoP-bound tokens (RFC 9449)
// and certificate-bound tokens (RFC 8705).
//
// # Minimal wiring
//
// Keys from the issuer, a [Guard], and handlers wrapped in [Guard.Handler]:
//
//	keys, err := jwks.New(ctx, jwks.WithIssuer("https://YOUR_TENANT.auth0.com/"))
//	if err != nil {
//		return err
//	}
//	defer keys.Close()
//	guard, err := middleware.New(keys,
//		middleware.WithAudience("https://api.example.com"),
//		middleware.WithPublicURL("https://api.example.com"), // the URL clients call
//		middleware.WithLogger(logger))                       // one line per rejection
//	if err != nil {
//		return err
//	}
//	mux.Handle("GET /api/me", guard.Handler(me))
//	mux.Handle("GET /api/messages", guard.Handler(guard.RequireScopes("read:messages")(list)))
//
// In a handler, [ClaimsFromContext] returns the verified claims, and
// [TokenFromContext] also the binding that was proven. That accepts bearer
// tokens, and DPoP- or certificate-bound tokens with their proofs;
// [WithProofOfPossession] requires a binding. [Guard.Check] verifies one
// request without wrapping, and [Guard.Verify] takes plain inputs so that
// other transports (gRPC, gateways) reuse the verification.
//
// A DPoP proof names the URL its client addressed (htu), so a Guard that
// accepts DPoP must be told the URL clients call with [WithPublicURL] (or
// [WithTrustedProxies] behind a proxy). If it differs, DPoP requests fail
// with 401 invalid_dpop_proof, and the [WithLogger] line shows the URL the
// server compared (computed_htu). Without either option, htu is checked
// against the request's own Host header, and a proof made for another
// deployment reached under the same host name is accepted; [New] logs a
// warning then. See the package Example and ExampleWithProofOfPossession.
//
// The rest of this documentation walks through what happens inside.
//
// # One request
//
//  1. Extract: Authorization with scheme Bearer or DPoP (case-insensitive,
//     exactly one credential, RFC 6750 §2), at most one DPoP header. Sizes
//     are checked before parsing.
//  2. Verify the access token: split and decode once; the key comes from the
//     key source by iss and kid, never from jku, x5u, jwk or x5c; only the
//     allowed asymmetric algorithms (HS256 only for an issuer configured
//     with [WithHMACSecret]); the key type must fit alg; exp (required), nbf,
//     iat with leeway; aud must contain a configured audience; crit is
//     refused; typ at+jwt with [WithRFC9068].
//  3. Read the binding from cnf and apply the policy below; a DPoP proof is
//     verified with the dpop package, a certificate with the mtls package,
//     and thumbprints are compared in constant time.
//  4. Put the [Token] (claims and proven binding) in the request context.
//
// # Sender-constraining policy
//
// [WithProofOfPossession] mirrors Auth0's proof_of_possession setting:
//
//	token's cnf  presented as               none    dpop    dpop,required  mtls
//	none         Bearer                     accept  accept  401            401
//	none         DPoP + proof               401     401     401            401
//	jkt          DPoP + valid proof         accept  accept  accept         401
//	jkt          Bearer (downgrade)         401     401     401            401
//	x5t#S256     matching client cert       accept  accept  401            accept
//	x5t#S256     no or another certificate  401     401     401            401
//
// A binding that a token carries is always enforced, whatever the policy. A
// cnf that names no method this package verifies (jwk, kid, jku, an empty
// object) is refused (401 invalid_token), never read as unbound, and so is
// a cnf with both jkt and x5t#S256.
//
// # Errors
//
//	no credentials                            401, challenges without error
//	malformed request, several credentials    400 invalid_request
//	token invalid, expired, iss/aud, binding  401 invalid_token
//	DPoP proof invalid, several DPoP headers  401 invalid_dpop_proof
//	nonce required or stale                   401 use_dpop_nonce + DPoP-Nonce
//	scope or permission missing               403 insufficient_scope
//	authorization detail missing ([Details])  403 insufficient_scope
//	authentication too weak or old ([StepUp]) 401 insufficient_user_authentication
//	keys, replay store or nonces unavailable  503 + Retry-After (fail closed)
//
// Every rejection is an [*Error] whose cause wraps a sentinel (ErrExpired,
// dpop.ErrReplayed, mtls.ErrNoCertificate, …) for errors.Is.
package middleware
