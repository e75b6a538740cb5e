package jwks

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"reflect"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/senderbound/senderbound/internal/jose"
)

// Keyfunc returns a golang-jwt Keyfunc that verifies other tokens of one
// issuer (ID tokens, logout tokens) with the keys k holds and refreshes, so
// that the application runs one fetcher per tenant, not two. Each call
// looks up the token's kid and alg with [Keys.Key] under ctx; a token whose
// "iss" claim is not issuer is refused before any lookup. Parse with
// jwt.WithIssuer(issuer) and jwt.WithValidMethods as well.
func (k *Keys) Keyfunc(ctx context.Context, issuer string) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if t == nil || t.Claims == nil {
			return nil, fmt.Errorf("%w: no token", ErrKeyNotFound)
		}
		if iss, err := t.Claims.GetIssuer(); err != nil || iss != issuer {
			return nil, fmt.Errorf("%w: the token's iss is not %q", ErrUnknownIssuer, issuer)
		}
		alg, _ := t.Header["alg"].(string)
		if t.Method == nil || t.Method.Alg() != alg {
			return nil, fmt.Errorf("%w: %w", ErrKeyMismatch, jose.ErrAlgorithm)
		}
		kid := ""
		if v, ok := t.Header["kid"]; ok {
			if kid, ok = v.(string); !ok {
				return nil, fmt.Errorf("%w: kid is not a string", ErrKeyNotFound)
			}
		}
		return k.Key(ctx, issuer, kid, alg)
	}
}

// KeyfuncSource is a key source for a middleware Guard built from
// keyfunc.Keyfunc values the application already runs, one per issuer. It
// exists for teams migrating from keyfunc; [Keys] is faster and safer:
//
//   - every lookup goes through keyfunc's storage (KeyRead: a linear scan,
//     a JWK copy and several allocations) instead of an index;
//   - it cannot tell a key set that never loaded from an unknown kid, so an
//     issuer that is down answers 401 (the token's fault) rather than 503,
//     except when its keyfunc holds no key at all;
//   - jwkset replaces the set with whatever the issuer answers, so an empty
//     or partly invalid set is not refused and the last good keys are lost;
//   - of several keys sharing a kid, only the first is seen;
//   - refresh, rate limit, body size and timeouts are the keyfunc's own:
//     with keyfunc's defaults a request with an unknown kid may wait up to
//     a minute for the limiter (set Override.RateLimitWaitMax), and
//     concurrent waiters that are cancelled can leave it in debt.
//
// The key must still fit alg, and the JWK's "alg" and "use" are checked, as
// in [Keys.Key].
type KeyfuncSource struct {
	byIssuer map[string]keyfunc.Keyfunc
}

// NewKeyfuncSource returns a KeyfuncSource over byIssuer, which maps each
// trusted issuer to its own keyfunc. It refuses an empty map, an empty
// issuer, a nil keyfunc, and one keyfunc (or one storage) for several
// issuers: their key sets would merge, and a key of tenant B would verify
// tenant A's tokens.
func NewKeyfuncSource(byIssuer map[string]keyfunc.Keyfunc) (*KeyfuncSource, error) {
	var errs []error
	if len(byIssuer) == 0 {
		errs = append(errs, errors.New("jwks: no issuer keyfunc given"))
	}
	type named struct {
		issuer  string
		storage jwkset.Storage
	}
	var seen []named
	m := make(map[string]keyfunc.Keyfunc, len(byIssuer))
	for iss, kf := range byIssuer {
		switch {
		case iss == "":
			errs = append(errs, errors.New("jwks: keyfunc for an empty issuer"))
			continue
		case kf == nil || kf.Storage() == nil:
			errs = append(errs, fmt.Errorf("jwks: nil keyfunc for issuer %q", iss))
			continue
		}
		for _, s := range seen {
			if sameStorage(s.storage, kf.Storage()) {
				errs = append(errs, fmt.Errorf("jwks: issuers %q and %q share one keyfunc: give each issuer its own", s.issuer, iss))
			}
		}
		seen = append(seen, named{iss, kf.Storage()})
		m[iss] = kf
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &KeyfuncSource{byIssuer: m}, nil
}

// sameStorage reports whether a and b are the same storage: the same
// pointer (or other reference), or equal comparable values. Contents are
// never compared: two issuers may well publish equal sets, and reading a
// storage's contents here would race with its refreshes.
func sameStorage(a, b jwkset.Storage) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if va.Type() != vb.Type() {
		return false
	}
	switch va.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Slice:
		return va.Pointer() == vb.Pointer()
	}
	return va.Comparable() && va.Equal(vb)
}

// Key implements the Guard's key source: the key of issuer's keyfunc with
// the token's kid, fitting alg.
//
// Errors: [ErrUnknownIssuer], [ErrKeyNotFound], [ErrKeyMismatch], and
// [ErrUnavailable] when the issuer's keyfunc holds no key.
func (s *KeyfuncSource) Key(ctx context.Context, issuer, kid, alg string) (crypto.PublicKey, error) {
	bit := algBit(alg)
	if bit < 0 {
		return nil, fmt.Errorf("%w: %w", ErrKeyMismatch, jose.ErrAlgorithm)
	}
	kf, ok := s.byIssuer[issuer]
	if !ok {
		return nil, ErrUnknownIssuer
	}
	j, err := kf.Storage().KeyRead(ctx, kid)
	if err != nil {
		if all, aerr := kf.Storage().KeyReadAll(ctx); aerr == nil && len(all) == 0 {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrKeyNotFound, err)
	}
	m := j.Marshal()
	pub := j.Key()
	if p, ok := pub.(publicKeyer); ok {
		pub = p.Public()
	}
	e := entry{pub: pub, alg: string(m.ALG), sig: m.USE == "" || m.USE == jwkset.UseSig}
	if keyFits(alg, pub) == nil {
		e.fits = 1 << bit
	}
	return e.check(alg, bit)
}
