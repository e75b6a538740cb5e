package middleware

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"slices"
	"strings"
)

// Check verifies the credentials of r: the Authorization header (schemes
// Bearer and DPoP), the DPoP header, and the client certificate. It returns
// the verified token or an *Error.
func (g *Guard) Check(r *http.Request) (*Token, error) {
	tok, e := g.check(r)
	if e != nil {
		return nil, e
	}
	return tok, nil
}

// check extracts and verifies r's credentials and reports the decision.
func (g *Guard) check(r *http.Request) (*Token, *Error) { return g.checkInto(r, nil) }

// checkInto is check, writing an accepted token to dst when dst is not nil
// (Handler passes the Token of the context it will hand on). The request's
// input stays on the stack.
func (g *Guard) checkInto(r *http.Request, dst *Token) (*Token, *Error) {
	start := g.observeStart()
	var in input
	var extracted *input // nil for the observer when extraction failed
	e := g.extract(r, &in)
	var tok *Token
	if e == nil {
		extracted, in.dst = &in, dst
		tok, e = g.verify(r.Context(), &in)
	}
	g.observe(r.Context(), start, extracted, tok, e)
	return tok, e
}

// Handler returns a handler that calls next only for requests whose token
// (and binding) verified, with the [Token] in the request's context; every
// other request gets the error answer and next never runs.
func (g *Guard) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.cfg.fapi != nil {
			setInteractionID(w, r)
		}
		tc := new(tokenContext)
		tok, e := g.checkInto(r, &tc.tok)
		if e != nil {
			g.reject(w, r, e)
			return
		}
		if tok.DPoPNonce != "" {
			w.Header().Set("DPoP-Nonce", tok.DPoPNonce)
		}
		tc.Context = r.Context()
		next.ServeHTTP(w, r.WithContext(tc))
	})
}

// RequireScopes returns a wrapper for handlers behind [Guard.Handler] that
// answers 403 insufficient_scope unless the token grants every one of
// scopes, each either in its scope claim or in Auth0's permissions claim.
// It is g.Require(Scopes(scopes)).
func (g *Guard) RequireScopes(scopes ...string) func(http.Handler) http.Handler {
	return g.Require(Scopes(slices.Clone(scopes)))
}

// Grants reports whether the token grants scope, either in its scope claim
// or in Auth0's permissions claim.
func (c *Claims) Grants(scope string) bool { return c.HasScope(scope) || c.HasPermission(scope) }

// WriteError writes err as the HTTP answer: status, WWW-Authenticate
// challenges (RFC 6750 §3, RFC 9449 §7.1), DPoP-Nonce or Retry-After. An
// error that is not an *Error is answered as 401 invalid_token.
func (g *Guard) WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = newError(CodeInvalidToken, "invalid token", err)
	}
	c := g.challenge
	if (e.scheme == SchemeBearer && !c.bearer) || (e.scheme == SchemeDPoP && !c.dpop) {
		cp := *e
		cp.scheme = ""
		e = &cp
	}
	c.writeError(w, e)
}

func (g *Guard) reject(w http.ResponseWriter, r *http.Request, e *Error) {
	g.logRejection(r, e)
	if g.cfg.errorHandler != nil {
		g.cfg.errorHandler(w, r, e)
		return
	}
	g.WriteError(w, e)
}

type tokenKey struct{}

// tokenContext is a request's context carrying its verified token, as
// NewContext would make it, in one allocation where context.WithValue and
// the Token were two (Handler's hot path).
type tokenContext struct {
	context.Context
	tok Token
}

// Value returns the token for tokenKey, else the parent's value.
func (c *tokenContext) Value(key any) any {
	if _, ok := key.(tokenKey); ok {
		return &c.tok
	}
	return c.Context.Value(key)
}

// TokenFromContext returns the token that [Guard.Handler] verified for this
// request.
func TokenFromContext(ctx context.Context) (*Token, bool) {
	t, ok := ctx.Value(tokenKey{}).(*Token)
	return t, ok
}

// ClaimsFromContext returns the verified claims that [Guard.Handler] put in
// the request's context.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	t, ok := TokenFromContext(ctx)
	if !ok {
		return nil, false
	}
	return t.Claims, true
}

// extract reads the credentials of r (RFC 6750 §2, RFC 9449 §7), checking
// sizes before anything is parsed.
func (g *Guard) extract(r *http.Request, in *input) *Error {
	in.method = r.Method
	auth := r.Header["Authorization"] // canonical already: no per-request canonicalization
	if len(auth) > 1 {
		return newError(CodeInvalidRequest, "more than one Authorization header", ErrMultipleCredentials)
	}
	if len(auth) == 1 {
		scheme, token, ok := strings.Cut(auth[0], " ")
		// RFC 9110 §11.4, RFC 6750 §2.1, RFC 9449 §7.1: auth-scheme 1*SP
		// token68. Only spaces: a tab or other whitespace stays malformed.
		token = strings.TrimLeft(token, " ")
		if len(token) > g.cfg.maxTokenSize {
			return newError(CodeInvalidToken, "token too large", ErrTokenTooLarge)
		}
		switch {
		case strings.EqualFold(scheme, SchemeBearer):
			in.scheme = SchemeBearer
		case strings.EqualFold(scheme, SchemeDPoP):
			in.scheme = SchemeDPoP
		}
		if in.scheme != "" {
			if !ok || !g.wellFormed(in, token) {
				return newError(CodeInvalidRequest, "malformed Authorization header", ErrMalformedRequest)
			}
			in.token = token
		}
	}
	if g.cfg.queryTokens || g.cfg.formTokens {
		if e := g.extractParam(r, in, len(auth) == 0); e != nil {
			return e
		}
	}
	if in.token == "" {
		return newError(CodeNone, "", ErrNoCredentials)
	}
	proofs := r.Header["Dpop"] // the canonical form of "DPoP", without canonicalizing it per request
	if len(proofs) > 1 {
		// RFC 9449 §4.3 (1): not more than one DPoP header field.
		return g.proofError(CodeInvalidDPoPProof, "more than one DPoP header", ErrMultipleProofs)
	}
	if len(proofs) == 1 {
		in.proof = proofs[0]
	}
	in.r, in.urls, in.certs = r, &g.cfg.urls, g.certs
	return nil
}

// wellFormed reports whether token has token68 syntax. With a token cache,
// it first looks token up there (verifyToken reuses the lookup): a token
// found there has the syntax, because only tokens that verified are
// cached, and a verified token is a compact JWS or JWE, all of whose
// characters (base64url and ".") are token68's; the cache's exact
// comparison (sameToken) is cheaper than the per-character scan.
func (g *Guard) wellFormed(in *input, token string) bool {
	if g.cache != nil {
		in.lookedUp, in.cacheKey = token, g.cache.key(token)
		if in.cached = g.cache.get(in.cacheKey, token, g.cfg.now()); in.cached != nil {
			return true
		}
	}
	return token68(token)
}

// token68Chars is 1 for the characters of token68 before its padding, 0
// for every other byte.
var token68Chars = func() (t [256]uint8) {
	for c := range 256 {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			t[c] = 1
		}
	}
	return t
}()

// extractParam reads access_token from the query or a form body, when those
// methods are enabled. A second credential is a 400 (RFC 6750 §2). The body
// is read only when readBody (the request has no Authorization header), so
// that a request authenticating by header keeps its body, whatever its size.
func (g *Guard) extractParam(r *http.Request, in *input, readBody bool) *Error {
	var found []string
	if g.cfg.queryTokens {
		if len(r.URL.RawQuery) > g.cfg.maxTokenSize+4096 {
			return newError(CodeInvalidToken, "token too large", ErrTokenTooLarge)
		}
		found = append(found, r.URL.Query()["access_token"]...)
	}
	if g.cfg.formTokens && readBody && r.Method == http.MethodPost && r.Body != nil {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt == "application/x-www-form-urlencoded" {
			r.Body = http.MaxBytesReader(nil, r.Body, int64(g.cfg.maxTokenSize)+1024)
			if err := r.ParseForm(); err != nil {
				return newError(CodeInvalidRequest, "malformed form body", ErrMalformedRequest)
			}
			found = append(found, r.PostForm["access_token"]...)
		}
	}
	if len(found) == 0 {
		return nil
	}
	if len(found) > 1 || in.token != "" {
		return newError(CodeInvalidRequest, "more than one access token", ErrMultipleCredentials)
	}
	if len(found[0]) > g.cfg.maxTokenSize {
		return newError(CodeInvalidToken, "token too large", ErrTokenTooLarge)
	}
	in.scheme, in.token = SchemeBearer, found[0]
	return nil
}

// token68 reports whether s is an RFC 7235 token68:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func token68(s string) bool {
	if s == "" {
		return false
	}
	// Eight characters at a time, one branch for all eight: a token is
	// hundreds of characters, checked on every request that is not served
	// from the cache. The last few, or the eight holding the first
	// character outside token68, go one at a time.
	i := 0
	for ; len(s)-i >= 8; i += 8 {
		c := s[i : i+8]
		if token68Chars[c[0]]&token68Chars[c[1]]&token68Chars[c[2]]&token68Chars[c[3]]&
			token68Chars[c[4]]&token68Chars[c[5]]&token68Chars[c[6]]&token68Chars[c[7]] == 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if token68Chars[s[i]] == 0 {
			break
		}
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
