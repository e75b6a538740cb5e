package grpcguard

import (
	"net/http"
	"strings"

	"github.com/senderbound/senderbound/middleware"
)

// schemeSlack bounds what an authorization value may hold beyond the token:
// the scheme and the spaces after it.
const schemeSlack = 32

// credential is what a call's metadata presents.
type credential struct {
	scheme, token, proof string
}

// extract reads the credentials of a call from its metadata values with the rules
// of the HTTP adapter (RFC 6750 §2.1, RFC 9449 §7.1, RFC 9110 §11.4): at
// most one authorization value, "Bearer" or "DPoP" (case-insensitive), one
// or more spaces (no tabs), a token68; at most one dpop value (RFC 9449
// §4.3 (1)). Sizes are checked before anything is parsed. An authorization
// value of another scheme counts as no credentials.
func extract(auth, proofs []string, maxToken int) (credential, *middleware.Error) {
	var c credential
	if len(auth) > 1 {
		return c, reject(middleware.CodeInvalidRequest, "more than one authorization value", middleware.ErrMultipleCredentials)
	}
	if len(auth) == 1 {
		v := auth[0]
		if len(v) > maxToken+schemeSlack {
			return c, reject(middleware.CodeInvalidToken, "token too large", middleware.ErrTokenTooLarge)
		}
		scheme, token, ok := strings.Cut(v, " ")
		switch {
		case strings.EqualFold(scheme, middleware.SchemeBearer):
			c.scheme = middleware.SchemeBearer
		case strings.EqualFold(scheme, middleware.SchemeDPoP):
			c.scheme = middleware.SchemeDPoP
		}
		if c.scheme != "" {
			token = strings.TrimLeft(token, " ")
			if !ok || !token68(token) {
				return credential{}, reject(middleware.CodeInvalidRequest, "malformed authorization value", middleware.ErrMalformedRequest)
			}
			if len(token) > maxToken {
				return credential{}, reject(middleware.CodeInvalidToken, "token too large", middleware.ErrTokenTooLarge)
			}
			c.token = token
		}
	}
	if c.token == "" {
		return credential{}, reject(middleware.CodeNone, "", middleware.ErrNoCredentials)
	}
	if len(proofs) > 1 {
		return credential{}, reject(middleware.CodeInvalidDPoPProof, "more than one DPoP value", middleware.ErrMultipleProofs)
	}
	if len(proofs) == 1 {
		c.proof = proofs[0]
	}
	return c, nil
}

// statusOf is the HTTP status of each code the extraction answers with.
var statusOf = map[middleware.ErrorCode]int{
	middleware.CodeNone:             http.StatusUnauthorized,
	middleware.CodeInvalidRequest:   http.StatusBadRequest,
	middleware.CodeInvalidToken:     http.StatusUnauthorized,
	middleware.CodeInvalidDPoPProof: http.StatusUnauthorized,
}

func reject(code middleware.ErrorCode, desc string, cause error) *middleware.Error {
	return &middleware.Error{Status: statusOf[code], Code: code, Description: desc, Err: cause}
}

// token68 reports whether s is an RFC 9110 token68:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func token68(s string) bool {
	i := 0
	for i < len(s) && token68Chars[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

var token68Chars = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
	}
	return t
}()
