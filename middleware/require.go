package middleware

import (
	"net/http"
	"strings"
)

// A Requirement is what one resource asks of a verified token beyond what
// every request needs: [Scopes], [Details] (RFC 9396) or [StepUp]
// (RFC 9470). [Guard.Require] applies requirements to net/http handlers and
// [Guard.Authorize] to a token from [Guard.Verify], with the same answers.
// The requirements of this package are the only implementations.
type Requirement interface {
	// check returns nil when tok meets the requirement, else the rejection
	// (its scheme is set by the caller). g gives the clock and leeway.
	check(tok *Token, g *Guard) *Error
}

// Scopes requires every one of the scopes, each either in the token's scope
// claim or in Auth0's permissions claim. Otherwise the answer is 403
// insufficient_scope with scope="…" listing them (RFC 6750 §3.1).
type Scopes []string

func (r Scopes) check(tok *Token, _ *Guard) *Error {
	for _, s := range r {
		if !tok.Claims.Grants(s) {
			e := newError(CodeInsufficientScope, "insufficient scope", ErrInsufficientScope)
			e.Scope = strings.Join(r, " ")
			return e
		}
	}
	return nil
}

// Authorize reports whether tok, verified by [Guard.Verify] or
// [Guard.Check], meets every one of reqs. It returns nil, or the *Error of
// the first requirement not met, to be answered on the scheme the token was
// presented with (as [Guard.Require] does), for transports other than
// net/http (gRPC, a gateway). A nil tok is refused as no credentials.
func (g *Guard) Authorize(tok *Token, reqs ...Requirement) error {
	if e := g.authorize(tok, reqs); e != nil {
		return e
	}
	return nil
}

func (g *Guard) authorize(tok *Token, reqs []Requirement) *Error {
	if tok == nil || tok.Claims == nil {
		return newError(CodeNone, "", ErrNoCredentials)
	}
	for _, r := range reqs {
		if e := r.check(tok, g); e != nil {
			// Only a DPoP-bound token can have been presented with the
			// DPoP scheme (see bind), so the binding tells the scheme.
			e.scheme = SchemeBearer
			if tok.Binding.Mechanism == MechanismDPoP {
				e.scheme = SchemeDPoP
			}
			return e
		}
	}
	return nil
}

// Require returns a wrapper for handlers behind [Guard.Handler] that calls
// next only when the request's token meets every one of reqs, and otherwise
// writes the answer of the first one not met (on the scheme the client
// used, through [WithErrorHandler] if set).
func (g *Guard) Require(reqs ...Requirement) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, _ := TokenFromContext(r.Context())
			if e := g.authorize(tok, reqs); e != nil {
				g.reject(w, r, e)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
