package middleware

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrorCode is an OAuth 2.0 error code for the WWW-Authenticate challenge
// (RFC 6750 §3.1, RFC 9449 §7.1). Each code is defined once, here.
type ErrorCode string

// The error codes a resource server answers with.
const (
	// CodeNone marks a challenge without an error attribute: the request
	// carried no credentials at all (RFC 6750 §3.1).
	CodeNone              ErrorCode = ""
	CodeInvalidRequest    ErrorCode = "invalid_request"
	CodeInvalidToken      ErrorCode = "invalid_token"
	CodeInsufficientScope ErrorCode = "insufficient_scope"
	CodeInvalidDPoPProof  ErrorCode = "invalid_dpop_proof"
	CodeUseDPoPNonce      ErrorCode = "use_dpop_nonce"
	// CodeInsufficientUserAuthentication is RFC 9470 §3: the user's
	// authentication is too weak or too old ([StepUp]).
	CodeInsufficientUserAuthentication ErrorCode = "insufficient_user_authentication"
	// CodeInsufficientAuthorizationDetails is proposed by an IETF
	// Internet-Draft on Rich Authorization Request errors
	// (draft-ietf-oauth-rar-metadata-remediation, formerly
	// draft-zehavi-oauth-rar-metadata). It is a draft, not a standard, and
	// clients that do not know it see only a 403: [Details] answers
	// insufficient_scope (RFC 6750 §3.1) unless told to use it.
	CodeInsufficientAuthorizationDetails ErrorCode = "insufficient_authorization_details"
)

// status maps each code to its HTTP status; this table is the only place
// where that mapping lives.
var status = map[ErrorCode]int{
	CodeNone:              http.StatusUnauthorized,
	CodeInvalidRequest:    http.StatusBadRequest,
	CodeInvalidToken:      http.StatusUnauthorized,
	CodeInsufficientScope: http.StatusForbidden,
	CodeInvalidDPoPProof:  http.StatusUnauthorized,
	CodeUseDPoPNonce:      http.StatusUnauthorized,

	CodeInsufficientUserAuthentication:   http.StatusUnauthorized,
	CodeInsufficientAuthorizationDetails: http.StatusForbidden,
}

// Reasons for a rejection. Every [Error] wraps one of these (or a sentinel of
// the dpop, mtls or jwks package), so callers can tell causes apart with
// [errors.Is] for logs and metrics. Their texts never contain a token.
var (
	ErrNoCredentials       = errors.New("middleware: no credentials")
	ErrMalformedRequest    = errors.New("middleware: malformed authorization request")
	ErrMultipleCredentials = errors.New("middleware: more than one credential in the request")
	ErrTokenTooLarge       = errors.New("middleware: access token exceeds the size limit")
	ErrMalformedToken      = errors.New("middleware: malformed access token")
	ErrAlgorithm           = errors.New("middleware: token algorithm not allowed")
	ErrSignature           = errors.New("middleware: token signature invalid")
	ErrUnknownKey          = errors.New("middleware: no key for the token's issuer and kid")
	ErrTokenType           = errors.New("middleware: token typ is not at+jwt")
	ErrCritical            = errors.New("middleware: token header has unsupported crit parameters")
	ErrIssuer              = errors.New("middleware: token issuer not trusted")
	ErrAudience            = errors.New("middleware: token audience not accepted")
	ErrExpired             = errors.New("middleware: token expired")
	ErrNotYetValid         = errors.New("middleware: token not valid yet")
	ErrIssuedInFuture      = errors.New("middleware: token issued in the future")
	ErrClaims              = errors.New("middleware: token claims invalid")
	ErrBoundTokenAsBearer  = errors.New("middleware: sender-constrained token presented as a bearer token")
	ErrBindingRequired     = errors.New("middleware: token is not sender-constrained but the policy requires it")
	ErrBindingNotAllowed   = errors.New("middleware: token's binding is not accepted by the policy")
	ErrUnsupportedBinding  = errors.New("middleware: token's cnf names no confirmation method this library verifies")
	ErrNoBinding           = errors.New("middleware: DPoP scheme used with a token that has no DPoP binding")
	ErrBindingMismatch     = errors.New("middleware: sender constraint not proven")
	ErrMissingProof        = errors.New("middleware: DPoP proof missing")
	ErrMultipleProofs      = errors.New("middleware: more than one DPoP header")
	ErrInvalidProof        = errors.New("middleware: DPoP proof invalid")
	ErrNonceRequired       = errors.New("middleware: DPoP nonce required")
	ErrInsufficientScope   = errors.New("middleware: insufficient scope")
	ErrUnavailable         = errors.New("middleware: verification temporarily unavailable")
)

// Error is a rejection, carrying the fields of an RFC 6750 §3 challenge and
// the cause. [Guard.Check] and [Guard.Verify] return *Error for every
// rejection; [Guard.Handler] writes it with [Guard.WriteError].
type Error struct {
	// Status is the HTTP status: 400, 401, 403, or 503 when keys, the replay
	// store or the nonce source cannot answer (fail closed).
	Status int
	// Code is the error attribute of the challenge (empty: no error attribute).
	Code ErrorCode
	// Description is a short, generic, human-readable text. It never echoes
	// the token or says which value was expected.
	Description string
	// Scope lists the scopes that would have been enough, for
	// insufficient_scope.
	Scope string
	// ACRValues and MaxAge are the acr_values (space-separated, in order of
	// preference) and max_age (sent in whole seconds when positive)
	// challenge parameters of insufficient_user_authentication (RFC 9470
	// §3).
	ACRValues string
	MaxAge    time.Duration
	// DPoPNonce, when set, is sent as the DPoP-Nonce header (use_dpop_nonce).
	DPoPNonce string
	// Err is the cause: one of this package's sentinels joined with the
	// underlying error (for example a dpop or jwks sentinel).
	Err error

	// scheme is the scheme whose challenge carries the error ("Bearer" or
	// "DPoP"); empty means every offered scheme.
	scheme string
	// issuer, kid and clientID, when known, are logged with the rejection;
	// htu is the URL this server computed for a proof whose htu differed.
	issuer, kid, clientID, htu string
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	if e.Code != CodeNone {
		return "middleware: " + string(e.Code)
	}
	return "middleware: rejected"
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// newError builds an Error from a code; the status comes from the table.
func newError(code ErrorCode, desc string, cause error) *Error {
	return &Error{Status: status[code], Code: code, Description: desc, Err: cause}
}

// unavailable is the fail-closed answer when a dependency cannot decide.
func unavailable(cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Description: "temporarily unavailable", Err: cause}
}

// retryAfter is the Retry-After value, in seconds, sent with a 503.
const retryAfter = "5"

// challenge describes the WWW-Authenticate values a Guard offers.
type challenge struct {
	realm            string
	bearer, dpop     bool
	dpopAlgs         string // space-separated
	resourceMetadata string
}

// writeError writes e as an HTTP answer with its challenges.
func (c *challenge) writeError(w http.ResponseWriter, e *Error) {
	h := w.Header()
	if e.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", retryAfter)
		http.Error(w, http.StatusText(e.Status), e.Status)
		return
	}
	if c.bearer {
		h.Add("WWW-Authenticate", c.value("Bearer", e))
	}
	if c.dpop {
		h.Add("WWW-Authenticate", c.value("DPoP", e))
	}
	if e.DPoPNonce != "" {
		h.Set("DPoP-Nonce", e.DPoPNonce)
	}
	h.Set("Cache-Control", "no-store")
	http.Error(w, http.StatusText(e.Status), e.Status)
}

// value renders one challenge. The error attributes go on the challenge of
// the scheme the error concerns (or on every challenge when it concerns no
// particular scheme); the other challenge only advertises the scheme.
func (c *challenge) value(scheme string, e *Error) string {
	var b strings.Builder
	b.WriteString(scheme)
	sep := " "
	attr := func(name, v string) {
		b.WriteString(sep)
		b.WriteString(name)
		b.WriteString(`="`)
		b.WriteString(quotable(v))
		b.WriteByte('"')
		sep = ", "
	}
	if c.realm != "" {
		attr("realm", c.realm)
	}
	if scheme == "DPoP" && c.dpopAlgs != "" {
		attr("algs", c.dpopAlgs)
	}
	if c.resourceMetadata != "" {
		attr("resource_metadata", c.resourceMetadata)
	}
	if e.Code != CodeNone && (e.scheme == "" || e.scheme == scheme) {
		attr("error", string(e.Code))
		if e.Description != "" {
			attr("error_description", e.Description)
		}
		if e.Scope != "" {
			attr("scope", e.Scope)
		}
		if e.ACRValues != "" {
			attr("acr_values", e.ACRValues)
		}
		if e.MaxAge > 0 {
			attr("max_age", strconv.FormatInt(int64(e.MaxAge/time.Second), 10))
		}
	}
	return b.String()
}

// quotable returns s with every byte that may not stand in an RFC 6750
// quoted attribute value (anything but %x20-21 / %x23-5B / %x5D-7E) dropped,
// so no value can break out of its quotes or the header.
func quotable(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if !allowed(s[i]) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if allowed(s[i]) {
			b = append(b, s[i])
		}
	}
	return string(b)
}

func allowed(c byte) bool {
	return c == 0x20 || c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e)
}
