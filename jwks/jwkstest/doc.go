// Package jwkstest is a fake OAuth 2.0 / OpenID Connect issuer for TESTS,
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
// failure handling can be tested. It does not need a testing.TB, so examples
// and demo programs can embed it.
package jwkstest
