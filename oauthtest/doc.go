// Package oauthtest is a fake OAuth 2.0 / OpenID Connect issuer for TESTS,
// demos and examples only. Never use it in production: it generates keys in
// memory, serves them over a local httptest server and mints any token it is
// asked for.
//
// An [Issuer] serves discovery metadata at
// /.well-known/openid-configuration and /.well-known/oauth-authorization-server
// and its JWK Set at /.well-known/jwks.json, and mints access tokens in
// Auth0's "access_token" dialect or the RFC 9068 profile ([Issuer.Mint]).
// Its keys rotate like an Auth0 tenant's ([Issuer.Rotate], [Issuer.Revoke]),
// and [Issuer.SetFault] makes it slow, down or broken so that clients'
// failure handling can be tested.
//
// Its token endpoint ([TokenPath], advertised as token_endpoint) answers
// client-credentials requests from clients registered with
// [Issuer.RegisterClient] the way an Auth0 tenant does: client_secret_basic,
// client_secret_post or private_key_jwt; a DPoP nonce demanded first (RFC
// 9449 §8), then a token bound to the proof's key (cnf.jkt, token_type
// DPoP); over mutual TLS ([WithMTLSTokenEndpoint], advertised in
// mtls_endpoint_aliases, or [WithTLS]) a token bound to the client
// certificate (cnf["x5t#S256"], RFC 8705); otherwise a bearer token. A
// client's tokens can carry authorization_details, acr, amr and auth_time
// ([Client].Token), and a request's authorization_details parameter (RFC
// 9396) is copied into its token.
//
// Its introspection endpoint ([IntrospectionPath], advertised as
// introspection_endpoint) answers RFC 7662 requests from registered clients
// about opaque tokens ([Issuer.MintOpaque], or the token endpoint for a
// client registered with Opaque): their claims with active true, token_type
// DPoP and cnf.jkt for a DPoP-bound token, cnf["x5t#S256"] for a
// certificate-bound one, and active false once revoked
// ([Issuer.RevokeToken]) or expired. Asked with Accept:
// application/token-introspection+jwt it answers with an RFC 9701 signed
// JWT. [Issuer.SetIntrospectionFault] makes it slow, down, oversized,
// malformed, or sign for the wrong iss or aud.
//
// It does not need a testing.TB, so examples and demo programs can embed it.
package oauthtest
