package jwks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// permanentError is a failed load that retrying will not fix, with what
// the operator most likely has to change. It wraps [ErrPermanent].
type permanentError struct {
	err error
	fix string
}

func (e *permanentError) Error() string {
	return fmt.Sprintf("%v (permanent; fix: %s)", e.err, e.fix)
}

func (e *permanentError) Unwrap() []error { return []error{ErrPermanent, e.err} }

// statusError is the error status a discovery or JWKS URL answered.
type statusError struct{ code int }

func (e *statusError) Error() string {
	return fmt.Sprintf("HTTP status %d %s", e.code, http.StatusText(e.code))
}

func (e *statusError) Unwrap() error { return ErrHTTPStatus }

// permanent reports whether the status is a final answer: a client error
// other than 408 (Request Timeout), 425 (Too Early) and 429 (Too Many
// Requests), or a success other than the 200 asked for. Server errors may
// clear by themselves.
func (e *statusError) permanent() bool {
	switch e.code {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return false
	}
	return e.code < 500
}

// permanentExchange reports whether one HTTP exchange (client.Do's error)
// failed for good: an error status that is a final answer, a plaintext URL
// or redirect refused, or a body over the size limit. Connection errors,
// timeouts and cancellations are transient.
func permanentExchange(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.permanent()
	}
	return errors.Is(err, ErrPlaintext) || errors.Is(err, errTooLarge)
}

// permanentAnswer reports whether a request's error is permanent: the
// exchange failed for good (permanentExchange), or it succeeded and what
// came back is unusable (any error that is not the exchange's).
func permanentAnswer(err error) bool {
	var ue *url.Error
	switch {
	case errors.As(err, &ue):
		return permanentExchange(err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	}
	return true
}

// jwksError classifies the error of a JWKS fetch through jwkset: a body
// that jwkset or the index refused wraps [ErrKeySet]; what will not fix
// itself becomes a permanentError.
func jwksError(err error) error {
	if err == nil || !permanentAnswer(err) {
		return err
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		err = fmt.Errorf("%w: %w", ErrKeySet, err)
	}
	return &permanentError{err: err, fix: fixFor(err, false)}
}

// fixFor says what an operator most likely has to change after a permanent
// failure of discovery (discovery) or of the JWKS fetch.
func fixFor(err error, discovery bool) string {
	var mm *mismatchError
	var se *statusError
	switch {
	case errors.As(err, &mm):
		return mm.fix()
	case errors.Is(err, ErrPlaintext):
		return "serve discovery, the JWKS and every redirect over https, or allow plaintext with WithInsecurePlaintextHTTP"
	case errors.Is(err, errTooLarge):
		return "the answer exceeds the body size limit; raise WithMaxBodySize if the issuer is right"
	case errors.As(err, &se) && discovery:
		return fmt.Sprintf("no usable discovery document at the issuer (HTTP %d): check the issuer URL, or name its JWKS URL with WithIssuerJWKS", se.code)
	case errors.As(err, &se):
		return fmt.Sprintf("the JWKS URL answered HTTP %d: check the URL (and that it is public)", se.code)
	case discovery:
		return "the issuer's metadata is unusable: check the issuer URL, or name its JWKS URL with WithIssuerJWKS"
	}
	return "check that the JWKS URL serves the issuer's JWK Set (RFC 7517) with its signing keys"
}
