package middleware

import (
	"errors"
	"slices"
	"strings"
	"time"
)

// Reasons for an insufficient_user_authentication answer ([StepUp]).
var (
	ErrAuthenticationLevel = errors.New("middleware: user authentication context (acr) not accepted")
	ErrAuthenticationAge   = errors.New("middleware: user authentication too old or its time unknown")
)

// Auth0's values for a login that passed multi-factor authentication: the
// acr claim is [ACRAuth0MFA] and the amr claim contains [AMRMFA].
const (
	ACRAuth0MFA = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
	AMRMFA      = "mfa"
)

// ACR returns the acr claim: the authentication context class of the
// user's authentication (RFC 9470 §6.1, from OpenID Connect), or "".
func (c *Claims) ACR() string {
	if c.ext == nil {
		return ""
	}
	return c.ext.acr
}

// AMR returns a copy of the amr claim: the authentication methods used
// (RFC 8176 values such as "pwd", "otp", "mfa").
func (c *Claims) AMR() []string {
	if c.ext == nil {
		return nil
	}
	return slices.Clone(c.ext.amr)
}

// AuthTime returns auth_time, the time of the user's last active
// authentication, or the zero time when the token has none.
func (c *Claims) AuthTime() time.Time {
	if c.ext == nil {
		return time.Time{}
	}
	return c.ext.authTime
}

// StepUp requires a strong or recent enough user authentication (RFC 9470).
// A token that does not meet it is answered 401 with error
// insufficient_user_authentication and the acr_values and/or max_age
// parameters (RFC 9470 §3) on the challenge of the scheme the client used,
// so that the client can ask the authorization server for a new token.
// The zero StepUp requires nothing.
//
// For Auth0, a login with multi-factor authentication carries acr
// [ACRAuth0MFA] (and [AMRMFA] in amr): StepUp{ACRValues:
// []string{middleware.ACRAuth0MFA}}.
//
// Use it with [Guard.Require] for net/http handlers, or [Guard.Authorize]
// with a token from [Guard.Verify].
type StepUp struct {
	// ACRValues are the accepted acr values, in order of preference; the
	// token's acr must be one of them (compared exactly). Empty accepts
	// any acr.
	ACRValues []string
	// MaxAge, when positive, is how long ago (by the Guard's clock) the
	// user may last have authenticated. A token without auth_time does not
	// meet it, nor one whose auth_time is later than now by more than the
	// Guard's leeway (such a time says nothing about freshness). The
	// leeway does not extend MaxAge: an auth_time MaxAge ago is accepted,
	// one a second older is not (a skewed clock makes the client
	// authenticate again a little early, never lets an older login
	// through). The challenge carries it in whole seconds.
	MaxAge time.Duration
}

func (r StepUp) check(tok *Token, g *Guard) *Error {
	acr, authTime := tok.Claims.ACR(), tok.Claims.AuthTime()
	var level, age bool
	if len(r.ACRValues) > 0 && !slices.Contains(r.ACRValues, acr) {
		level = true
	}
	if r.MaxAge > 0 {
		now := g.cfg.now()
		age = authTime.IsZero() || now.Sub(authTime) > r.MaxAge || authTime.Sub(now) > g.cfg.leeway
	}
	if !level && !age {
		return nil
	}
	var e *Error
	switch {
	case level && age:
		e = newError(CodeInsufficientUserAuthentication, "a different and more recent authentication is required",
			errors.Join(ErrAuthenticationLevel, ErrAuthenticationAge))
	case level:
		e = newError(CodeInsufficientUserAuthentication, "a different authentication level is required", ErrAuthenticationLevel)
	default:
		e = newError(CodeInsufficientUserAuthentication, "more recent authentication is required", ErrAuthenticationAge)
	}
	// Both parameters whenever both are required: the next token must
	// meet both, whichever one this token missed.
	e.ACRValues = strings.Join(r.ACRValues, " ")
	if r.MaxAge > 0 {
		e.MaxAge = r.MaxAge
	}
	return e
}
