// Package dpop implements OAuth 2.0 Demonstrating Proof of Possession
// ([RFC 9449]) for both ends of a request: the resource server that
// verifies proofs, and the client that makes them.
//
// # Server side
//
// A [Verifier] checks one DPoP proof against the request it came with:
// every check of RFC 9449 §4.3 in order, with the §7 additions for
// resource servers (ath, and the token's cnf.jkt), then replay detection
// (§11.1) through a [ReplayCache]. A [MemoryReplayCache] serves one process;
// a fleet shares one cache (see package dpopredis). Server nonces (§8, §9)
// come from a [NonceSource]; [HMACNonces] is stateless, so every instance of
// a fleet can check the nonces of every other. A [URLResolver] finds the
// external URL of a request, behind proxies only when they are trusted, and
// [NormalizeURI] compares htu values as RFC 3986 §6.2.2 and §6.2.3 allow.
// [Thumbprint] and [ThumbprintJWK] compute RFC 7638 JWK thumbprints, the
// values of a token's cnf.jkt. Most servers do not use this package
// directly: package middleware (and grpcguard) run a Verifier for them,
// configured with middleware.WithDPoP.
//
// # Replay entries and clocks
//
// A [Verifier] accepts a proof while its clock reads from iat − skew to
// iat + window + skew, and records it in the [ReplayCache] until
// iat + window + 2·skew + 1 ms by that clock: the extra skew covers every
// server of a fleet whose clock lags the recording one by up to the skew
// allowance, so none of them can accept the proof again after its entry
// expires. A [MemoryReplayCache] compares times as its clock reads them,
// wherever that clock steps after the start, and fails closed for a time
// it cannot represent.
//
// # Client side
//
// A [Signer] makes proofs with a [crypto.Signer], and a [Transport] (an
// http.RoundTripper) adds a token and a fresh proof to every request and
// answers a server's use_dpop_nonce challenge once. A [ClientCredentials]
// token source obtains the DPoP-bound tokens it presents from an
// authorization server's token endpoint (the client credentials grant,
// with a client secret or a private-key JWT), and refreshes them before
// they expire. See ExampleTransport and ExampleClientCredentials.
//
// Both ends live in this one package on purpose, as net/http keeps its
// client and server together: they share the proof format, thumbprints,
// the rules for a nonce's validity, htu normalisation and the parsing of
// DPoP challenges. A separate client package would have to export those a
// second time, or add a third package for what is shared, and a server
// that also calls other DPoP-protected APIs (as gateways do) would import
// both anyway.
//
// [RFC 9449]: https://www.rfc-editor.org/rfc/rfc9449
package dpop
