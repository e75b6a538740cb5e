// Package observe defines the events that senderbound reports to an
// optional observer: one per request decision of a middleware Guard, and
// one per background event (a JWKS refresh, a replay-store failure, a nonce
// issued).
//
// An [Observer] is a set of optional callbacks, in the manner of
// net/http/httptrace's ClientTrace: set the ones you need, leave the others
// nil. A component given no Observer, or an Observer whose callback for an
// event is nil, pays only a nil check for it. The package has no
// dependencies; the OpenTelemetry adapter,
// [github.com/senderbound/senderbound/otelobserve], turns these events into
// metrics and spans.
//
// A middleware Guard reports with middleware.WithObserver: one [Request]
// per decision of Handler, Check and Verify (a later Require or RequireScopes
// rejection is logged, not reported again), [Observer.ReplayStoreError] and
// [Observer.NonceIssued]. The jwks key source reports [Refresh] events, an
// introspect client [Introspection] events.
//
// No event ever holds a token, a proof, a nonce or a claim value (the
// subject included): only outcomes, error codes, sentinel causes,
// mechanisms, issuers, key IDs and durations.
package observe

import (
	"context"
	"time"
)

// Observer receives senderbound's events. Every field is optional. The
// callbacks are called synchronously on the path that produced the event
// (the request's goroutine, or the refresh goroutine), so they must be
// quick, must not block, and must be safe for concurrent use. They must not
// retain the events' error values beyond the call if those could be large.
type Observer struct {
	// Request is called once per request a Guard decided, accepted or not.
	Request func(ctx context.Context, e Request)

	// Refresh is called after every attempt to load an issuer's keys.
	Refresh func(ctx context.Context, e Refresh)

	// ReplayStoreError is called when the DPoP replay store failed to
	// answer (the request then fails closed with 503). It is called before
	// Request reports that request.
	ReplayStoreError func(ctx context.Context, err error)

	// NonceIssued is called when a DPoP nonce is issued for a client: in
	// a use_dpop_nonce answer, or as a fresh nonce sent with an accepted
	// request before the client's one expires.
	NonceIssued func(ctx context.Context)

	// Introspection is called once per token an introspection client was
	// asked about (RFC 7662): answered from its cache, by a call to the
	// authorization server, or refused by its call limits. It is called
	// before Request reports the request that asked.
	Introspection func(ctx context.Context, e Introspection)
}

// Outcome is how a request ended.
type Outcome int

// The outcomes of a request.
const (
	// Accepted: the token (and its binding) verified; the handler runs.
	Accepted Outcome = iota + 1
	// Rejected: the client is at fault (400, 401 or 403).
	Rejected
	// Unavailable: the verifier could not decide and failed closed (503).
	Unavailable
)

// String returns "accepted", "rejected" or "unavailable".
func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case Rejected:
		return "rejected"
	case Unavailable:
		return "unavailable"
	}
	return "unknown"
}

// The mechanisms of [Request.Mechanism].
const (
	MechanismBearer = "bearer"
	MechanismDPoP   = "dpop"
	MechanismMTLS   = "mtls"
)

// Request describes one request decision.
type Request struct {
	// Start is when verification began; Duration is how long it took.
	Start    time.Time
	Duration time.Duration

	Outcome Outcome
	// Status is the HTTP status the decision answers (200 when accepted).
	Status int
	// Code is the RFC 6750 / 9449 / 9470 error code ("" when accepted,
	// and when credentials were missing).
	Code string
	// Reason is the cause of a rejection, errors.Is-able against the
	// packages' sentinel errors; nil when accepted.
	Reason error
	// ReasonName names Reason's sentinel in a few stable words, such as
	// "expired", "proof_replayed" or "keys_unavailable" ("" when
	// accepted). The set of names is small and fixed, so it suits a metric
	// label where Reason's text does not.
	ReasonName string

	// Mechanism is how the token was bound and proven, or presented when
	// verification stopped earlier: MechanismBearer, MechanismDPoP or
	// MechanismMTLS ("" when no token was read).
	Mechanism string
	// Issuer is the token's issuer once it is known to be trusted (the
	// key source knows it), and KeyID the key that signed the token once
	// that key was found: both are bounded by configuration, never
	// whatever a client wrote in a token it forged.
	Issuer string
	KeyID  string
	// CacheHit reports whether the verified-token cache answered.
	CacheHit bool
}

// IntrospectionOutcome is how one introspection ended.
type IntrospectionOutcome int

// The outcomes of an introspection.
const (
	// IntrospectionActive: the authorization server said active: true.
	IntrospectionActive IntrospectionOutcome = iota + 1
	// IntrospectionInactive: active: false (a revoked, expired or unknown
	// token); the request is refused with 401.
	IntrospectionInactive
	// IntrospectionFailed: no usable answer (a timeout, a connection
	// error, a 5xx, our client authentication refused, an oversized or
	// malformed answer, an untrustworthy signed answer); the request fails
	// closed with 503.
	IntrospectionFailed
	// IntrospectionLimited: the client's bound on concurrent or
	// per-second calls refused to make the call; the request fails closed
	// with 503 and Retry-After. Many of these mean a flood of unknown
	// tokens, or limits set too low.
	IntrospectionLimited
)

// String returns "active", "inactive", "failed" or "limited".
func (o IntrospectionOutcome) String() string {
	switch o {
	case IntrospectionActive:
		return "active"
	case IntrospectionInactive:
		return "inactive"
	case IntrospectionFailed:
		return "failed"
	case IntrospectionLimited:
		return "limited"
	}
	return "unknown"
}

// Introspection describes one answer of an introspection client: from its
// cache (CacheHit), from a call to the authorization server, or a refusal
// by its limits. A caller that waited for another caller's call for the
// same token (single flight) reports the shared call's outcome, with
// Shared set and Duration its own wait.
type Introspection struct {
	// Issuer is the configured issuer whose endpoint was asked.
	Issuer string
	// Start is when the caller asked; Duration how long it took.
	Start    time.Time
	Duration time.Duration
	Outcome  IntrospectionOutcome
	// CacheHit reports an answer from the cache (no call).
	CacheHit bool
	// Shared reports that this caller waited for a call another caller
	// made for the same token.
	Shared bool
	// Status is the HTTP status the authorization server answered (0 for
	// a cache hit, a refusal by the limits or a connection error).
	Status int
	// Err is the cause of IntrospectionFailed or IntrospectionLimited,
	// errors.Is-able against the introspect package's sentinels; it never
	// holds the token or the answer's body.
	Err error
}

// Refresh describes one attempt to load an issuer's keys.
type Refresh struct {
	Issuer string
	// Start is when the attempt began; Duration is how long it took.
	Start    time.Time
	Duration time.Duration
	// Keys is the number of usable keys now held for the issuer.
	Keys int
	// Err is nil when the attempt succeeded.
	Err error
}
