package middleware

import (
	"context"
	"errors"
	"time"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/introspect"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/observe"
)

// WithObserver reports every decision of [Guard.Handler], [Guard.Check] and
// [Guard.Verify] to o (one [observe.Request] each), every replay-store
// failure, and every DPoP nonce issued. A [Guard.Require] or
// [Guard.RequireScopes] rejection (a 403, or the StepUp 401) comes after the
// request was reported as accepted, and is logged but not reported again. The Guard reads o's callbacks once,
// in [New]; a nil callback costs a nil check. See the observe package, and
// otelobserve for OpenTelemetry metrics and spans.
func WithObserver(o *observe.Observer) Option {
	return func(c *config) {
		if o == nil {
			c.fail("nil observer")
		}
		c.observer = o
	}
}

// hooks are the observer's callbacks, copied once so that a Guard without
// an observer pays one nil check per event.
type hooks struct {
	request     func(context.Context, observe.Request)
	replayError func(context.Context, error)
	nonceIssued func(context.Context)
}

func newHooks(o *observe.Observer) hooks {
	if o == nil {
		return hooks{}
	}
	return hooks{request: o.Request, replayError: o.ReplayStoreError, nonceIssued: o.NonceIssued}
}

// observeStart is when a decision began, read only when someone observes.
func (g *Guard) observeStart() time.Time {
	if g.hooks.request == nil {
		return time.Time{}
	}
	return time.Now()
}

// observe reports one decision; in is nil when the credentials could not
// be read at all. It inlines to a nil check.
func (g *Guard) observe(ctx context.Context, start time.Time, in *input, tok *Token, e *Error) {
	if g.hooks.request != nil {
		g.report(ctx, start, in, tok, e)
	}
}

func (g *Guard) report(ctx context.Context, start time.Time, in *input, tok *Token, e *Error) {
	ev := observe.Request{
		Start:    start,
		Duration: time.Since(start),
		Outcome:  observe.Accepted,
		Status:   200,
	}
	if in != nil {
		ev.Mechanism = in.mechanism()
		if in.knownIssuer {
			ev.Issuer = in.issuer
		}
		if in.knownKey {
			ev.KeyID = in.kid
		}
		ev.CacheHit = in.cacheHit
	}
	if tok != nil {
		switch tok.Binding.Mechanism {
		case MechanismDPoP:
			ev.Mechanism = observe.MechanismDPoP
		case MechanismMTLS:
			ev.Mechanism = observe.MechanismMTLS
		}
	}
	if e != nil {
		ev.Outcome = observe.Rejected
		if e.Status >= 500 {
			ev.Outcome = observe.Unavailable
		}
		ev.Status, ev.Code, ev.Reason, ev.ReasonName = e.Status, string(e.Code), e.Err, reasonName(e.Err)
	}
	g.hooks.request(ctx, ev)
}

// mechanism is how the request's token was presented or bound, as far as
// verification got: "dpop" for the DPoP scheme, "mtls" for a
// certificate-bound token, else "bearer"; "" when no token was read.
func (in *input) mechanism() string {
	switch {
	case in.token == "" || in.scheme == "":
		return ""
	case in.scheme == SchemeDPoP:
		return observe.MechanismDPoP
	case in.certBound:
		return observe.MechanismMTLS
	}
	return observe.MechanismBearer
}

// reasons names the sentinels for metric labels and logs. The most specific
// come first: a rejection joins this package's sentinel (the category) with
// the dpop, jwks or mtls one that says exactly what failed.
var reasons = []struct {
	err  error
	name string
}{
	{dpop.ErrReplayed, "proof_replayed"},
	{dpop.ErrReplayCacheFull, "replay_store_full"},
	{dpop.ErrReplayCacheUnavailable, "replay_store_unavailable"},
	{dpop.ErrNoNonces, "nonces_unavailable"},
	{jwks.ErrUnavailable, "keys_unavailable"},
	{introspect.ErrLimited, "introspection_limited"},
	{introspect.ErrClientAuth, "introspection_client_auth"},
	{introspect.ErrResponse, "introspection_response"},
	{introspect.ErrUnavailable, "introspection_unavailable"},
	{ErrInactive, "inactive"},
	{ErrNonceRequired, "nonce_required"},
	{dpop.ErrMalformed, "proof_malformed"},
	{dpop.ErrTooLarge, "proof_too_large"},
	{dpop.ErrType, "proof_type"},
	{dpop.ErrAlgorithm, "proof_algorithm"},
	{dpop.ErrSignature, "proof_signature"},
	{dpop.ErrPrivateKey, "proof_private_key"},
	{dpop.ErrKey, "proof_key"},
	{dpop.ErrMethod, "proof_htm"},
	{dpop.ErrURL, "proof_htu"},
	{dpop.ErrIssuedAt, "proof_iat"},
	{dpop.ErrAccessTokenHash, "proof_ath"},
	{dpop.ErrKeyMismatch, "proof_key_mismatch"},
	{mtls.ErrUntrustedForwarder, "certificate_untrusted_forwarder"},
	{mtls.ErrHeaderTooLarge, "certificate_header_too_large"},
	{mtls.ErrMalformedHeader, "certificate_header_malformed"},
	{mtls.ErrNotVerified, "certificate_not_verified"},
	{mtls.ErrNoCertificate, "certificate_missing"},
	{ErrNoCredentials, "no_credentials"},
	{ErrMalformedRequest, "malformed_request"},
	{ErrMultipleCredentials, "multiple_credentials"},
	{ErrTokenTooLarge, "token_too_large"},
	{ErrMalformedToken, "malformed_token"},
	{ErrAlgorithm, "algorithm"},
	{ErrSignature, "signature"},
	{ErrUnknownKey, "unknown_key"},
	{ErrTokenType, "token_type"},
	{ErrCritical, "critical_header"},
	{ErrIssuer, "issuer"},
	{ErrAudience, "audience"},
	{ErrExpired, "expired"},
	{ErrNotYetValid, "not_yet_valid"},
	{ErrIssuedInFuture, "issued_in_future"},
	{ErrClaims, "claims"},
	{ErrBoundTokenAsBearer, "bound_token_as_bearer"},
	{ErrBindingRequired, "binding_required"},
	{ErrBindingNotAllowed, "binding_not_allowed"},
	{ErrUnsupportedBinding, "unsupported_binding"},
	{ErrNoBinding, "no_binding"},
	{ErrBindingMismatch, "binding_mismatch"},
	{ErrMissingProof, "proof_missing"},
	{ErrMultipleProofs, "multiple_proofs"},
	{ErrInvalidProof, "proof_invalid"},
	{ErrInsufficientScope, "insufficient_scope"},
	{ErrAuthorizationDetails, "insufficient_authorization_details"},
	{ErrAuthenticationLevel, "authentication_level"},
	{ErrAuthenticationAge, "authentication_age"},
	{ErrUnavailable, "unavailable"},
}

// reasonName is the stable name of err's most specific sentinel, or
// "other" for an error that wraps none of them ("" for nil).
func reasonName(err error) string {
	if err == nil {
		return ""
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return "other"
}

func (g *Guard) nonceIssued(ctx context.Context) {
	if g.hooks.nonceIssued != nil {
		g.hooks.nonceIssued(ctx)
	}
}
