package middleware

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/senderbound/senderbound/internal/jose"
	"github.com/senderbound/senderbound/introspect"
)

// ErrInactive: the issuer's introspection endpoint said the opaque token is
// not active (revoked, expired or unknown). It is joined with
// [introspect.ErrInactive].
var ErrInactive = errors.New("middleware: token is not active")

// errTokenTypeBinding says, beside ErrTokenType, what was wrong with an
// introspected token's type.
var errTokenTypeBinding = errors.New("middleware: the introspection answer's token_type does not fit its cnf (RFC 9449 §6.2)")

// WithIntrospection accepts opaque access tokens, verified by asking c's
// issuer (RFC 7662 introspection); JWTs are still verified locally with
// the key source. A token that has the shape of a compact JWS or JWE goes
// to the key source whenever the Guard has one (New's keys, or
// [WithHMACSecret]); every other token goes to c, and so does every token
// when the Guard has no key source: New(nil, WithIntrospection(c)) is an
// introspection-only Guard.
//
// An opaque token names no issuer, so a Guard sends it to the one issuer
// the operator named here and nowhere else: WithIntrospection may be given
// once per Guard. An API that accepts opaque tokens from several issuers
// routes each path or host to a Guard of its own (several Guards may share
// one key source).
//
// The answer is held to the rules a JWT's claims get, by the same code:
// active must be JSON true; exp (when present), nbf and iat with the
// leeway; iss, when present, must equal c's issuer (when absent,
// [Claims.Issuer] is c's issuer); aud must contain a configured audience;
// token_type DPoP needs cnf.jkt, and a cnf.jkt token whose token_type is
// given must say DPoP (RFC 9449 §6.2); the binding in cnf (jkt or
// x5t#S256) is enforced exactly as for a JWT, on every request, cache hit
// or not. The claims, scopes and requirements ([Require], [Details],
// [StepUp], [WithFAPI2]) then read the answer as they read a JWT payload.
//
// A verified answer joins the Guard's token cache ([WithTokenCache]) no
// longer than c reuses it ([introspect.Result.ReuseUntil]), so revocation
// latency is c's cache time ([introspect.WithCache]). When c cannot
// answer (a fault, its call limits), the request fails closed with 503
// and Retry-After; only active: false is a 401 invalid_token. The Guard
// does not close c: close it after the Guard's last use.
func WithIntrospection(c *introspect.Client) Option {
	return func(cfg *config) {
		switch {
		case c == nil:
			cfg.fail("nil introspection client")
		case cfg.introspection != nil:
			cfg.fail("WithIntrospection given twice: an opaque token names no issuer, so a Guard introspects at one issuer only (use one Guard per issuer)")
		}
		cfg.introspection = c
	}
}

// opaqueOnly reports whether every token goes to the introspection client:
// the Guard introspects and has no key to verify a JWT with.
func (g *Guard) opaqueOnly() bool {
	return g.cfg.introspection != nil && g.keys == nil && len(g.cfg.hmac) == 0
}

// introspectCached verifies in.token by introspection and keeps the answer
// in the token cache under key, no longer than the introspection client
// reuses it (its cache time, the revocation latency; zero: not cached).
func (g *Guard) introspectCached(ctx context.Context, in *input, key uint64) (*Claims, *Error) {
	claims, until, e := g.introspectToken(ctx, in)
	if e == nil && g.cache != nil && !until.IsZero() {
		g.cache.put(key, &cacheEntry{token: strings.Clone(in.token), claims: claims, issuer: in.issuer, introspected: true, until: until}, g.cfg.now())
	}
	return claims, e
}

// introspectToken verifies an opaque token at the introspecting issuer and
// applies the claim rules of a JWT to the answer (DESIGN.md, step 2). It
// returns until when the introspection client stops reusing the answer
// (zero when it does not), which bounds the Guard's cache too.
func (g *Guard) introspectToken(ctx context.Context, in *input) (*Claims, time.Time, *Error) {
	c := g.cfg.introspection
	res, err := c.Introspect(ctx, in.token)
	in.issuer, in.knownIssuer = c.Issuer(), true
	switch {
	case err == nil:
	case errors.Is(err, introspect.ErrInactive):
		return nil, time.Time{}, g.tokenError(in, "token not active", errors.Join(ErrInactive, err))
	default:
		// A fault or the call limits: the token's state is unknown.
		return nil, time.Time{}, unavailable(errors.Join(ErrUnavailable, err))
	}
	raw := res.JSON()
	if !jose.DepthWithin(raw, g.cfg.maxDepth) {
		return nil, time.Time{}, g.tokenError(in, "invalid token claims", ErrClaims)
	}
	p, err := parsePayload(raw)
	if err != nil {
		return nil, time.Time{}, g.tokenError(in, "invalid token claims", err)
	}
	// RFC 7662 §2.2: iss is optional; when present it must be the issuer
	// the operator named for these tokens.
	switch p.Issuer {
	case "":
		p.Issuer = c.Issuer()
	case c.Issuer():
	default:
		return nil, time.Time{}, g.tokenError(in, "untrusted issuer", ErrIssuer)
	}
	in.clientID = p.ClientID
	if in.clientID == "" {
		in.clientID = p.AZP
	}
	if err := g.introspected.Validate(&p); err != nil {
		return nil, time.Time{}, g.tokenError(in, "invalid token claims", mapJWTError(err))
	}
	if !unambiguousNames(raw) {
		return nil, time.Time{}, g.tokenError(in, "invalid token claims", ErrClaims)
	}
	claims, err := p.claims(raw)
	if err != nil {
		return nil, time.Time{}, g.tokenError(in, "invalid token claims", err)
	}
	// RFC 9449 §6.2: a DPoP-bound token's token_type is DPoP. A DPoP
	// token_type without cnf.jkt cannot be proven, and must not pass as a
	// bearer token; a cnf.jkt token that says it is another type is
	// inconsistent.
	dpopType := strings.EqualFold(res.TokenType, "DPoP")
	if (dpopType && claims.cnf.JKT == "") || (res.TokenType != "" && !dpopType && claims.cnf.JKT != "") {
		return nil, time.Time{}, g.tokenError(in, "invalid token type", errors.Join(ErrTokenType, errTokenTypeBinding))
	}
	return claims, res.ReuseUntil, nil
}
