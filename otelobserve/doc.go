// Package otelobserve turns senderbound's events into OpenTelemetry
// metrics and spans.
//
// [New] returns an [observe.Observer]; give it to the components that
// report events:
//
//	obs, err := otelobserve.New() // the global MeterProvider and TracerProvider
//	guard, err := middleware.New(keys, middleware.WithAudience(aud), middleware.WithObserver(obs))
//
// It lives in a module of its own so that a user of the core never
// downloads OpenTelemetry.
//
// # Metrics
//
//	name                                unit       attributes
//	senderbound.requests                {request}  senderbound.outcome, .reason, .mechanism, .error_code, .issuer
//	senderbound.verification.duration   s          senderbound.outcome, .mechanism, .token_cache.hit
//	senderbound.token_cache.lookups     {lookup}   senderbound.token_cache.hit
//	senderbound.jwks.refreshes          {refresh}  senderbound.issuer, senderbound.outcome (success, failure)
//	senderbound.jwks.refresh.duration   s          senderbound.issuer, senderbound.outcome
//	senderbound.jwks.last_success_age   s          senderbound.issuer (gauge, read at collection)
//	senderbound.jwks.keys               {key}      senderbound.issuer (gauge)
//	senderbound.replay_store.errors     {error}    error.type (unavailable, full, timeout, canceled)
//	senderbound.dpop.nonces.issued      {nonce}
//	senderbound.introspections          {answer}   senderbound.issuer, .introspection.outcome, .introspection.cache.hit
//	senderbound.introspection.duration  s          senderbound.issuer, .introspection.outcome (calls, not cache hits)
//
// An introspection's outcome is active, inactive, failed (no usable answer:
// the request failed closed) or limited (the client's call limits refused
// to call: a flood of unknown tokens, or limits set too low). Its cache
// hit ratio is senderbound.introspections with
// senderbound.introspection.cache.hit=true over all of them.
//
// The outcome is accepted, rejected or unavailable (failed closed with
// 503); the reason is the stable name of the rejection's sentinel
// ([observe.Request].ReasonName, such as "expired" or "proof_replayed");
// the mechanism is bearer, dpop or mtls. The token-cache hit ratio is
// lookups with senderbound.token_cache.hit=true over all lookups. An
// attribute that does not apply (a reason or error code when accepted, a
// mechanism when no token came) is absent rather than empty.
//
// Every attribute value comes from a small fixed set or from the
// configuration (issuers and key IDs are reported only once the key source
// knows them), so a client sending forged tokens cannot grow the number of
// time series.
//
// # Spans
//
// Each introspection that was not a cache hit is one span
// "senderbound.introspect" (kind client) with the issuer, the outcome, the
// authorization server's status and, for a failure, error.type (limited,
// client_auth, response, closed, timeout, canceled, unavailable). Each
// decision is one span "senderbound.verify", from the event's Start to
// Start+Duration, a child of the span in the request's context (such as the
// HTTP server span of otelhttp). Its attributes are the outcome,
// http.response.status_code, the mechanism, the token-cache hit, the
// issuer and kid when known, and for a rejection the reason (also as
// error.type) and the error code; a rejection sets the status Error. No
// attribute ever holds a token, a proof, or a claim value: not even the
// subject.
package otelobserve
