package middleware

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/internal/jose"
	"github.com/senderbound/senderbound/internal/jsonobj"
	"github.com/senderbound/senderbound/internal/jwe"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/mtls"
)

// Guard verifies access tokens and their sender constraints for a resource
// server. Build one with [New] and use [Guard.Handler] to protect handlers,
// [Guard.Check] for programmatic use with net/http, or [Guard.Verify] from
// other transports. A Guard is safe for concurrent use.
type Guard struct {
	keys      KeySource
	cfg       config
	validator *jwt.Validator
	// introspected validates introspection answers: as validator, but exp
	// is optional (RFC 7662 §2.2).
	introspected *jwt.Validator
	dpop         *dpop.Verifier
	certs        *mtls.Source
	cache        *tokenCache
	jwe          *jwe.Decrypter
	challenge    challenge
	logger       *slog.Logger
	logLimit     *logLimiter
	hooks        hooks
}

// New returns a Guard that takes signing keys from keys (usually a
// [jwks.Keys]). It reports every configuration problem at once.
func New(keys KeySource, opts ...Option) (*Guard, error) {
	c := config{
		algorithms:   defaultAlgorithms,
		leeway:       30 * time.Second,
		maxTokenSize: 16 << 10,
		maxDepth:     16,
		cacheSize:    defaultCacheSize,
		cacheMaxAge:  defaultCacheMaxAge,
		logLines:     defaultLogLines,
		logPeriod:    defaultLogPeriod,
		now:          time.Now,
	}
	for _, o := range opts {
		o(&c)
	}
	c.applyFAPI2()
	if keys == nil && len(c.hmac) == 0 && c.introspection == nil {
		c.fail("nil key source (and no WithHMACSecret or WithIntrospection)")
	}
	g := &Guard{keys: keys, cfg: c, logger: c.logger, hooks: newHooks(c.observer),
		logLimit: newLogLimiter(c.logLines, c.logPeriod)}
	if g.logger == nil {
		g.logger = slog.New(slog.DiscardHandler)
	}
	var err error
	if g.dpop = c.dpopVerifier; g.dpop == nil {
		if g.dpop, err = dpop.NewVerifier(c.dpopOptions()...); err != nil {
			c.errs = append(c.errs, err)
		}
	}
	if g.certs = c.certs; g.certs == nil {
		if g.certs, err = mtls.NewSource(); err != nil {
			c.errs = append(c.errs, err)
		}
	}
	if len(c.decryptKeys) > 0 {
		g.jwe, err = jwe.NewDecrypter(jwe.Config{
			Keys:                    c.decryptKeys,
			KeyAlgorithms:           c.jweKeyAlgs,
			ContentEncryptions:      c.jweEncs,
			MaxSize:                 c.maxTokenSize,
			AllowMissingContentType: c.jweNoCty,
		})
		if err != nil {
			c.errs = append(c.errs, err)
		}
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.mechanism != MechanismMTLS && c.urls.PublicURL == nil && len(c.urls.TrustedProxies) == 0 {
		warnHostHTU(c.logger)
	}
	g.validator = jwt.NewValidator(
		jwt.WithLeeway(c.leeway),
		jwt.WithAudience(c.audiences...),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(c.now),
	)
	g.introspected = jwt.NewValidator(
		jwt.WithLeeway(c.leeway),
		jwt.WithAudience(c.audiences...),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(c.now),
	)
	if c.cacheSize > 0 {
		g.cache = newTokenCache(c.cacheSize, c.cacheMaxAge)
	}
	g.challenge = challenge{
		realm:            c.realm,
		bearer:           !(c.mechanism == MechanismDPoP && c.required),
		dpop:             c.mechanism != MechanismMTLS,
		dpopAlgs:         joinAlgs(g.dpop.Algorithms()),
		resourceMetadata: c.metadataURL,
	}
	return g, nil
}

// warnHostHTU tells the operator, once per Guard, that DPoP proofs (which
// every mechanism but mTLS checks) are bound to nothing more than the Host
// the request names.
func warnHostHTU(l *slog.Logger) {
	if l == nil {
		l = slog.Default()
	}
	l.Warn("middleware: no public URL, so a DPoP proof's htu is checked against the request's own Host: " +
		"a proof made for another deployment reached under the same host name is accepted here; " +
		"set WithPublicURL to this API's external URL (or WithTrustedProxies behind a proxy)")
}

// Scheme names how the access token was presented.
const (
	SchemeBearer = "Bearer"
	SchemeDPoP   = "DPoP"
)

// Request is one request's credentials and context, in plain values, for
// [Guard.Verify]. The net/http adapter fills it from an *http.Request; other
// transports (gRPC, a gateway) fill it themselves.
type Request struct {
	// Scheme is SchemeBearer or SchemeDPoP (compared case-insensitively).
	Scheme string
	// Token is the access token as sent.
	Token string
	// Proof is the value of the single DPoP header, if any.
	Proof string
	// Method and URL are the request's method and external URL (for the
	// DPoP proof's htm and htu).
	Method string
	URL    *url.URL
	// Certificate is the client certificate of the connection (or the one
	// a trusted proxy forwarded), if any.
	Certificate *x509.Certificate
	// CertificateThumbprint, used only when Certificate is nil, is the
	// client certificate's RFC 8705 x5t#S256 thumbprint when only that is
	// known: a trusted proxy forwarded just the certificate's hash (Envoy's
	// XFCC Hash; [mtls.Source.Thumbprint] reads it). It is all a
	// certificate-bound token is compared with. Set it only from what a
	// trusted proxy asserts, never from anything the client sends.
	CertificateThumbprint string
}

// Token is an access token verified for one request.
type Token struct {
	// Claims are the verified claims. They are shared and immutable.
	Claims *Claims
	// Binding says which sender constraint was proven for this request.
	Binding Binding
	// DPoPNonce, when set, should be sent to the client as the DPoP-Nonce
	// response header (Handler does this): a fresh nonce before the one the
	// client uses expires.
	DPoPNonce string
	// kid is the token's key ID, for logs.
	kid string
}

// Binding is the sender constraint proven for one request.
type Binding struct {
	// Mechanism is MechanismNone for a bearer token, else how the binding
	// was proven.
	Mechanism Mechanism
	// Thumbprint is the proven thumbprint: the DPoP key's (cnf.jkt) or the
	// client certificate's (cnf["x5t#S256"]).
	Thumbprint string
}

// input is one request's credentials. The URL and the certificate are
// computed only when a binding needs them: from r when the request came
// through the net/http adapter, else from the plain Request.
type input struct {
	scheme, token, proof, method string
	// issuer and kid are the token's claims, for logs, once decoded, and
	// clientID once the signature verified; knownIssuer and knownKey say
	// whether the key source knew them (so they are bounded, for events);
	// undecidedIssuer that it could not tell whether it trusts the issuer.
	issuer, kid, clientID string
	knownIssuer, knownKey bool
	undecidedIssuer       bool
	cacheHit              bool
	certBound             bool   // the token is certificate-bound
	dst                   *Token // where bind writes the token, if not nil
	// lookedUp is the token that extract looked up in the token cache,
	// under cacheKey, finding cached (nil on a miss).
	lookedUp string
	cacheKey uint64
	cached   *cacheEntry
	r        *http.Request
	// reqURL and reqCert are the plain Request's (Verify), copied rather
	// than pointed to, so that the Request stays on the caller's stack.
	reqURL        *url.URL
	reqCert       *x509.Certificate
	reqThumbprint string
	urls          *dpop.URLResolver
	certs         *mtls.Source
}

func (in *input) url() *url.URL {
	if in.r != nil {
		return in.urls.URL(in.r)
	}
	return in.reqURL
}

// certThumbprint is the RFC 8705 thumbprint of the client certificate:
// from the connection or a trusted proxy's header (which may carry only the
// hash, as Envoy's XFCC does by default), or from the plain Request.
func (in *input) certThumbprint() (string, error) {
	if in.r != nil {
		return in.certs.Thumbprint(in.r)
	}
	if in.reqCert == nil {
		if in.reqThumbprint != "" {
			return in.reqThumbprint, nil
		}
		return "", mtls.ErrNoCertificate
	}
	return mtls.Thumbprint(in.reqCert), nil
}

// Verify verifies req's access token and its sender constraint. It returns
// the verified token, or an *Error that says how to answer.
func (g *Guard) Verify(ctx context.Context, req Request) (*Token, error) {
	return g.verifyRequest(ctx, req, nil)
}

// VerifyContext is [Guard.Verify] for transport adapters: on success it
// also returns ctx carrying the token, as [NewContext](ctx, tok) would make
// it, with one allocation for the token and the context together (on a
// warm request, that is most of what remains to allocate).
func (g *Guard) VerifyContext(ctx context.Context, req Request) (context.Context, *Token, error) {
	tc := new(tokenContext)
	tok, err := g.verifyRequest(ctx, req, &tc.tok)
	if err != nil {
		return nil, nil, err
	}
	tc.Context = ctx
	return tc, tok, nil
}

func (g *Guard) verifyRequest(ctx context.Context, req Request, dst *Token) (*Token, error) {
	start := g.observeStart()
	in := input{scheme: req.Scheme, token: req.Token, proof: req.Proof, method: req.Method, reqURL: req.URL, reqCert: req.Certificate, reqThumbprint: req.CertificateThumbprint, dst: dst}
	var tok *Token
	var e *Error
	switch {
	case strings.EqualFold(in.scheme, SchemeBearer):
		in.scheme = SchemeBearer
	case strings.EqualFold(in.scheme, SchemeDPoP):
		in.scheme = SchemeDPoP
	default:
		in.scheme = ""
		e = newError(CodeNone, "", ErrNoCredentials)
	}
	if e == nil {
		tok, e = g.verify(ctx, &in)
	}
	g.observe(ctx, start, &in, tok, e)
	if e != nil {
		return nil, e
	}
	return tok, nil
}

func (g *Guard) verify(ctx context.Context, in *input) (*Token, *Error) {
	tok, e := g.verifyBound(ctx, in)
	if e != nil {
		e.issuer, e.kid, e.clientID = in.issuer, in.kid, in.clientID
	}
	return tok, e
}

func (g *Guard) verifyBound(ctx context.Context, in *input) (*Token, *Error) {
	if len(in.token) > g.cfg.maxTokenSize {
		return nil, g.tokenError(in, "token too large", ErrTokenTooLarge)
	}
	claims, e := g.verifyToken(ctx, in)
	if e != nil {
		return nil, e
	}
	return g.bind(ctx, in, claims)
}

// tokenError is an invalid_token rejection on the scheme the client used.
func (g *Guard) tokenError(in *input, desc string, cause error) *Error {
	e := newError(CodeInvalidToken, desc, cause)
	e.scheme = in.scheme
	return e
}

// header is the JOSE header of an access token. Only these members are
// read: jku, x5u, jwk and x5c are never used to find a key.
type header struct {
	Alg, Kid, Typ string
	// Crit is set when the header has a crit member (RFC 7515 §4.1.11).
	Crit bool
}

// headerTable reads alg, kid, typ and crit with exact names; each may
// appear once and must be a string (crit: any value marks it present).
var headerTable = jsonobj.NewTable(jsonobj.IgnoreUnknown,
	jsonobj.Member[header]{Name: "alg", Read: func(h *header, v []byte) (ok bool) { h.Alg, ok = jsonobj.StringView(v); return }},
	jsonobj.Member[header]{Name: "kid", Read: func(h *header, v []byte) (ok bool) { h.Kid, ok = jsonobj.StringView(v); return }},
	jsonobj.Member[header]{Name: "typ", Read: func(h *header, v []byte) (ok bool) { h.Typ, ok = jsonobj.StringView(v); return }},
	jsonobj.Member[header]{Name: "crit", Read: func(h *header, _ []byte) bool { h.Crit = true; return true }},
)

// parseHeader reads a token's JOSE header. Its strings share data's memory:
// data is a decoded token, never modified.
func parseHeader(data []byte) (header, error) {
	var h header
	err := readHeader(data, maxValidDepth, &h, new(jsonobj.Spans))
	return h, err
}

// readHeader validates the header, nested no deeper than limit, and reads
// it where its validation found its members, recorded in spans (one walk
// instead of three).
func readHeader(data []byte, limit int, h *header, spans *jsonobj.Spans) error {
	if !jsonobj.ValidNames(data, limit, nil, spans) {
		return ErrMalformedToken
	}
	if _, err := headerTable.ReadSpans(data, spans, h); err != nil {
		return ErrMalformedToken
	}
	return nil
}

// tokenParts are a token's header and claims as read, in one allocation:
// both leave the stack (the table's decoders and golang-jwt's Validator
// take pointers), so one object instead of two; with them, where the
// payload's members are, as its validation found them.
type tokenParts struct {
	h     header
	p     payload
	spans jsonobj.Spans
}

// verifyToken returns the verified claims of in.token, from the cache when
// the token was verified before and its key is still published.
func (g *Guard) verifyToken(ctx context.Context, in *input) (*Claims, *Error) {
	var key uint64
	if g.cache != nil {
		var ent *cacheEntry
		if in.lookedUp == in.token && in.lookedUp != "" {
			key, ent = in.cacheKey, in.cached // looked up by extract
		} else {
			key = g.cache.key(in.token)
			ent = g.cache.get(key, in.token, g.cfg.now())
		}
		if ent != nil {
			if g.stillPublished(ctx, ent) {
				in.issuer, in.kid, in.clientID = ent.issuer, ent.kid, ent.claims.clientID
				in.knownIssuer, in.knownKey, in.cacheHit = true, true, true
				return ent.claims, nil
			}
			g.cache.remove(key, in.token)
		}
	}
	if g.opaqueOnly() {
		return g.introspectCached(ctx, in, key)
	}
	compact := in.token
	encrypted := jose.IsCompactJWE(compact)
	if encrypted {
		if g.jwe == nil {
			return nil, g.tokenError(in, "encrypted tokens are not accepted", ErrMalformedToken)
		}
		inner, err := g.jwe.Decrypt(compact)
		if err != nil {
			return nil, g.tokenError(in, "token could not be decrypted", errors.Join(ErrMalformedToken, err))
		}
		compact = inner
	}
	// The token is split once: a Guard that introspects sends it to the
	// introspection client when it is neither a compact JWS (three parts
	// that decode) nor has the shape of a compact JWE; a JWT is never
	// decoded twice for this (TestIntrospectionCostsJWTsNothing).
	jws, err := jose.Split(compact)
	if err != nil {
		if !encrypted && g.cfg.introspection != nil {
			return g.introspectCached(ctx, in, key)
		}
		return nil, g.tokenError(in, "malformed token", errors.Join(ErrMalformedToken, err))
	}
	// The header is validated (a header too deep is malformed) and read in
	// one walk. One pass over the payload validates it, limits its depth
	// and checks its names; the verdicts are reported in the order of the
	// checks they stand for. Only a payload that fails is scanned for its
	// depth again, to tell a too deep one (a malformed token) from invalid
	// JSON. The spans of the header are then reused for the payload's.
	parts := new(tokenParts)
	h, p := &parts.h, &parts.p
	if err := readHeader(jws.Header, g.cfg.maxDepth, h, &parts.spans); err != nil {
		return nil, g.tokenError(in, "malformed token", ErrMalformedToken)
	}
	payloadValid, namesUnambiguous := validPayload(jws.Payload, g.cfg.maxDepth, &parts.spans)
	if !payloadValid && !jose.DepthWithin(jws.Payload, g.cfg.maxDepth) {
		return nil, g.tokenError(in, "malformed token", ErrMalformedToken)
	}
	// RFC 7515 §4.1.11: crit lists extensions that must be understood; this
	// verifier understands none, so any crit member (even empty) fails.
	if h.Crit {
		return nil, g.tokenError(in, "unsupported token header", ErrCritical)
	}
	if g.cfg.requireATJWT && !strings.EqualFold(h.Typ, "at+jwt") && !strings.EqualFold(h.Typ, "application/at+jwt") {
		return nil, g.tokenError(in, "wrong token type", ErrTokenType)
	}
	in.kid = h.Kid
	if !payloadValid {
		return nil, g.tokenError(in, "malformed token claims", ErrClaims)
	}
	if _, err := payloadTable.ReadSpans(jws.Payload, &parts.spans, p); err != nil {
		return nil, g.tokenError(in, "malformed token claims", ErrClaims)
	}
	in.issuer = p.Issuer
	// The entry is built on the stack and copied to the heap only when the
	// cache keeps it: a Guard without a cache allocates none.
	entry := cacheEntry{issuer: p.Issuer, kid: h.Kid, alg: h.Alg}
	ent := &entry
	if secret, ok := g.cfg.hmac[p.Issuer]; ok && h.Alg == "HS256" {
		ent.hmac = true
		in.knownIssuer = true
		err = jose.Verify("HS256", jws.SigningInput, jws.Signature, secret)
		// No key is looked up by kid here: only a token that the secret
		// signed makes its kid worth reporting (never a forger's text).
		in.knownKey = err == nil
	} else {
		if !g.cfg.acceptsAlg(h.Alg) {
			return nil, g.tokenError(in, "token algorithm not accepted", ErrAlgorithm)
		}
		if g.keys == nil {
			return nil, g.tokenError(in, "untrusted issuer", ErrIssuer)
		}
		ent.key, err = g.keys.Key(ctx, p.Issuer, h.Kid, h.Alg)
		if err != nil {
			return nil, g.keyError(in, err)
		}
		in.knownIssuer, in.knownKey = true, true
		err = jose.Verify(h.Alg, jws.SigningInput, jws.Signature, ent.key)
	}
	if err != nil {
		return nil, g.tokenError(in, "invalid token signature", errors.Join(ErrSignature, err))
	}
	in.clientID = p.ClientID
	if in.clientID == "" {
		in.clientID = p.AZP
	}
	if err := g.validator.Validate(p); err != nil {
		return nil, g.tokenError(in, "invalid token claims", mapJWTError(err))
	}
	// RFC 9068 §2.2: the profile's required claims.
	if g.cfg.requireATJWT && (p.Subject == "" || p.ClientID == "" || p.ID == "" || !p.IssuedAt.set) {
		return nil, g.tokenError(in, "invalid token claims", ErrClaims)
	}
	// Claims.Decode must read what was verified (see unambiguousNames).
	if !namesUnambiguous {
		return nil, g.tokenError(in, "invalid token claims", ErrClaims)
	}
	claims, err := p.claims(jws.Payload)
	if err != nil {
		return nil, g.tokenError(in, "invalid token claims", err)
	}
	if g.cache != nil {
		kept := entry
		kept.claims = claims
		kept.token = strings.Clone(in.token) // not the request's header text
		g.cache.put(key, &kept, g.cfg.now())
	}
	return claims, nil
}

// keyError maps a key-source failure: keys that cannot be had at all fail
// closed with 503; an unknown issuer or key is the token's fault.
func (g *Guard) keyError(in *input, err error) *Error {
	// Only an issuer the key source trusts can have keys that are
	// unavailable or lack this kid; with any other error (or another
	// KeySource) the issuer is what the client wrote, so not reported. A
	// resolver that cannot decide answers ErrUnknownIssuer wrapping
	// ErrUnavailable: the issuer is not known to be trusted then either.
	in.knownIssuer = (errors.Is(err, jwks.ErrUnavailable) || errors.Is(err, jwks.ErrKeyNotFound)) &&
		!errors.Is(err, jwks.ErrUnknownIssuer)
	switch {
	case errors.Is(err, jwks.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		in.undecidedIssuer = !in.knownIssuer
		return unavailable(errors.Join(ErrUnavailable, err))
	case errors.Is(err, jwks.ErrUnknownIssuer):
		return g.tokenError(in, "untrusted issuer", errors.Join(ErrIssuer, err))
	case errors.Is(err, jwks.ErrKeyMismatch):
		return g.tokenError(in, "token algorithm not accepted", errors.Join(ErrAlgorithm, err))
	}
	return g.tokenError(in, "unknown signing key", errors.Join(ErrUnknownKey, err))
}

// stillPublished reports whether the key that verified a cached token is
// still the one its issuer publishes, so that revocation takes effect at the
// next JWKS refresh even for cached tokens.
func (g *Guard) stillPublished(ctx context.Context, ent *cacheEntry) bool {
	if ent.hmac || ent.introspected {
		return true
	}
	key, err := g.keys.Key(ctx, ent.issuer, ent.kid, ent.alg)
	if err != nil {
		return false
	}
	return sameKey(key, ent.key)
}

// sameKey reports whether a and b are the same public key. The key source
// usually returns the very same pointer while a key set is unchanged, so
// pointer identity answers first; Equal compares the values otherwise.
func sameKey(a, b crypto.PublicKey) bool {
	switch ka := a.(type) {
	case *rsa.PublicKey:
		if kb, ok := b.(*rsa.PublicKey); ok && ka == kb {
			return true
		}
	case *ecdsa.PublicKey:
		if kb, ok := b.(*ecdsa.PublicKey); ok && ka == kb {
			return true
		}
	}
	k, ok := a.(interface{ Equal(x crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// jwtErrors maps golang-jwt's validation sentinels to ours.
var jwtErrors = []struct{ jwt, ours error }{
	{jwt.ErrTokenExpired, ErrExpired},
	{jwt.ErrTokenNotValidYet, ErrNotYetValid},
	{jwt.ErrTokenUsedBeforeIssued, ErrIssuedInFuture},
	{jwt.ErrTokenInvalidAudience, ErrAudience},
	{jwt.ErrTokenInvalidIssuer, ErrIssuer},
	{jwt.ErrTokenRequiredClaimMissing, ErrClaims},
}

func mapJWTError(err error) error {
	for _, m := range jwtErrors {
		if errors.Is(err, m.jwt) {
			return errors.Join(m.ours, err)
		}
	}
	return errors.Join(ErrClaims, err)
}

// bind applies the sender-constraining policy (the table in the package
// documentation) to a token whose signature and claims verified.
func (g *Guard) bind(ctx context.Context, in *input, c *Claims) (*Token, *Error) {
	cnf := c.cnf
	tok := in.dst
	if tok == nil {
		tok = new(Token)
	}
	*tok = Token{Claims: c, kid: in.kid}
	dpopScheme := in.scheme == SchemeDPoP
	switch {
	case cnf.JKT != "" && cnf.X5TS256 != "":
		// RFC 7800 §3.1: cnf confirms a single key.
		return nil, g.tokenError(in, "ambiguous token binding", ErrClaims)

	case cnf.X5TS256 != "":
		in.certBound = true
		if dpopScheme {
			return nil, g.tokenError(in, "token is not DPoP-bound", ErrNoBinding)
		}
		if g.cfg.mechanism == MechanismDPoP && g.cfg.required {
			return nil, g.tokenError(in, "token binding not accepted", ErrBindingNotAllowed)
		}
		thumb, err := in.certThumbprint()
		if err != nil {
			return nil, g.tokenError(in, "client certificate required", errors.Join(ErrBindingMismatch, err))
		}
		// RFC 8705 §3: the certificate of this connection must hash to the
		// token's x5t#S256 (constant-time comparison).
		if !mtls.EqualThumbprints(thumb, cnf.X5TS256) {
			return nil, g.tokenError(in, "client certificate does not match the token", ErrBindingMismatch)
		}
		tok.Binding = Binding{Mechanism: MechanismMTLS, Thumbprint: cnf.X5TS256}

	case cnf.JKT != "":
		if !dpopScheme {
			// RFC 9449 §7.2: a DPoP-bound token sent as Bearer is refused.
			return nil, g.tokenError(in, "DPoP-bound token requires the DPoP scheme", ErrBoundTokenAsBearer)
		}
		if g.cfg.mechanism == MechanismMTLS {
			return nil, g.tokenError(in, "token binding not accepted", ErrBindingNotAllowed)
		}
		return g.proveDPoP(ctx, in, tok)

	default:
		if dpopScheme {
			return nil, g.tokenError(in, "token is not DPoP-bound", ErrNoBinding)
		}
		if g.cfg.required || (g.cfg.dpopRequiredFn != nil && g.cfg.dpopRequiredFn(c)) {
			e := g.tokenError(in, "sender-constrained token required", ErrBindingRequired)
			e.scheme = "" // the error concerns every scheme offered
			return nil, e
		}
	}
	return tok, nil
}

// proveDPoP verifies the request's proof against the token's cnf.jkt. The
// dpop verifier records the proof's jti only after every other check passed.
func (g *Guard) proveDPoP(ctx context.Context, in *input, tok *Token) (*Token, *Error) {
	if in.proof == "" {
		return nil, g.proofError(CodeInvalidDPoPProof, "DPoP proof missing", ErrMissingProof)
	}
	req := dpop.Request{
		Method:      in.method,
		URL:         in.url(),
		AccessToken: in.token,
		JKT:         tok.Claims.cnf.JKT,
	}
	p, err := g.dpop.Verify(ctx, in.proof, req)
	switch {
	case err == nil:
	case errors.Is(err, dpop.ErrReplayCacheUnavailable), errors.Is(err, dpop.ErrReplayCacheFull):
		if g.hooks.replayError != nil {
			g.hooks.replayError(ctx, err)
		}
		return nil, unavailable(errors.Join(ErrUnavailable, err))
	case errors.Is(err, dpop.ErrKeyMismatch):
		return nil, g.proofError(CodeInvalidToken, "DPoP key does not match the token", errors.Join(ErrBindingMismatch, err))
	case errors.Is(err, dpop.ErrNonce):
		nonce, nerr := g.dpop.Nonce()
		if nerr != nil {
			return nil, unavailable(errors.Join(ErrUnavailable, nerr))
		}
		e := g.proofError(CodeUseDPoPNonce, "DPoP nonce required", errors.Join(ErrNonceRequired, err))
		e.DPoPNonce = nonce
		g.nonceIssued(ctx)
		return nil, e
	default:
		e := g.proofError(CodeInvalidDPoPProof, "invalid DPoP proof", errors.Join(ErrInvalidProof, err))
		if errors.Is(err, dpop.ErrURL) {
			// What this server takes as the request's URL, so that a proxy
			// misconfiguration shows in the log.
			e.htu = externalURL(in.url())
		}
		return nil, e
	}
	tok.Binding = Binding{Mechanism: MechanismDPoP, Thumbprint: p.Thumbprint}
	if tok.DPoPNonce = p.NextNonce; tok.DPoPNonce != "" {
		g.nonceIssued(ctx)
	}
	return tok, nil
}

func (g *Guard) proofError(code ErrorCode, desc string, cause error) *Error {
	e := newError(code, desc, cause)
	e.scheme = SchemeDPoP
	return e
}
