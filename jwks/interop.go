package jwks

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"

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
// The key must still fit alg, and the JWK's "alg", "use" and "key_ops" are
// checked, as in [Keys.Key]. A JWK that publishes private members, or whose
// "use" and "key_ops" contradict each other, is refused with
// [ErrKeyNotFound]. But jwkset, decoding the set, drops an RSA "d" or CRT
// value published without all the others and keeps the public half, so
// KeyfuncSource cannot see that such a key leaked; [Keys] reads the set
// before jwkset does and skips it.
type KeyfuncSource struct {
	byIssuer map[string]keyfunc.Keyfunc
}

// NewKeyfuncSource returns a KeyfuncSource over byIssuer, which maps each
// trusted issuer to its own keyfunc. It refuses an empty map, an empty
// issuer, a nil keyfunc, and every sharing of key sets it can see: a
// storage's identity (its pointers and maps) is followed through jwkset's
// HTTP client storage and its per-URL storages, and through the
// application's own storages that embed or hold other storages. So it
// refuses
//
//   - one keyfunc, or one storage, for several issuers (also two keyfuncs
//     over one jwkset HTTP client storage, or over wrappers of one storage);
//   - a keyfunc over several JWKS URLs (keyfunc.NewDefaultCtx with more than
//     one URL), even for one issuer: jwkset reads their sets as one.
//
// Either would let a key of tenant B verify tenant A's tokens.
//
// What it cannot see stays the caller's duty, and is just as fatal: a
// storage that reaches a shared key set through a function, a database, a
// package variable or anything but its fields; and keys written into a
// keyfunc's storage later (jwkset's HTTP client storage writes KeyWrite
// into its "given" storage, which every lookup reads). Give each issuer a
// keyfunc built for it alone, over its one JWKS URL, and write nothing
// into it. [Keys] has none of these ways to go wrong: prefer it.
func NewKeyfuncSource(byIssuer map[string]keyfunc.Keyfunc) (*KeyfuncSource, error) {
	var errs []error
	if len(byIssuer) == 0 {
		errs = append(errs, errors.New("jwks: no issuer keyfunc given"))
	}
	type named struct {
		issuer string
		shape  *storageShape
	}
	var seen []named
	m := make(map[string]keyfunc.Keyfunc, len(byIssuer))
	for _, iss := range slices.Sorted(maps.Keys(byIssuer)) { // stable error texts
		kf := byIssuer[iss]
		switch {
		case iss == "":
			errs = append(errs, errors.New("jwks: keyfunc for an empty issuer"))
			continue
		case kf == nil || kf.Storage() == nil:
			errs = append(errs, fmt.Errorf("jwks: nil keyfunc for issuer %q", iss))
			continue
		}
		shape := shapeOf(kf.Storage())
		if shape.sets > 1 {
			errs = append(errs, fmt.Errorf("jwks: the keyfunc of issuer %q reads %d JWK Sets (several JWKS URLs) as one: give each issuer its own keyfunc over its one JWKS URL", iss, shape.sets))
		}
		for _, s := range seen {
			if s.shape.shares(shape) {
				errs = append(errs, fmt.Errorf("jwks: issuers %q and %q share one keyfunc or key storage: give each issuer its own", s.issuer, iss))
			}
		}
		seen = append(seen, named{iss, shape})
		m[iss] = kf
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &KeyfuncSource{byIssuer: m}, nil
}

// storageShape is what NewKeyfuncSource can see of a storage without
// reading its keys (which would race with its refreshes; and two issuers
// may well publish equal sets): the references it is built of, and how
// many JWK Sets it reads as one.
type storageShape struct {
	root reflect.Value      // the storage itself, for comparable values
	refs map[reference]bool // pointers and maps reached through storages
	sets int                // storages held in maps or slices (jwkset: one per JWKS URL)
}

// reference identifies a pointer or a map by type and address.
type reference struct {
	t    reflect.Type
	addr uintptr
}

var storageType = reflect.TypeFor[jwkset.Storage]()

// shapeOf walks s: through pointers, and through the fields of structs
// (exported or not) that are storages themselves or maps and slices of
// storages, as jwkset's HTTP client (a struct value holding a map of
// per-URL storages, each a struct embedding the storage it fills) and
// wrappers that embed a storage are built. Other fields (HTTP clients,
// loggers, functions) are never followed, so storages that merely share
// an *http.Client are not taken for one.
func shapeOf(s jwkset.Storage) *storageShape {
	sh := &storageShape{root: reflect.ValueOf(s), refs: make(map[reference]bool)}
	sh.walk(sh.root, 0)
	return sh
}

func (sh *storageShape) walk(v reflect.Value, depth int) {
	if !v.IsValid() || depth > 32 {
		return
	}
	switch v.Kind() {
	case reflect.Interface:
		sh.walk(v.Elem(), depth+1)
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		ref := reference{v.Type(), v.Pointer()}
		if sh.refs[ref] {
			return
		}
		sh.refs[ref] = true
		sh.walk(v.Elem(), depth+1)
	case reflect.Map:
		if !v.IsNil() {
			sh.refs[reference{v.Type(), v.Pointer()}] = true
		}
		if isStorage(v.Type().Elem()) {
			for it := v.MapRange(); it.Next(); {
				sh.sets++
				sh.walk(it.Value(), depth+1)
			}
		}
	case reflect.Slice:
		if isStorage(v.Type().Elem()) {
			for i := range v.Len() {
				sh.sets++
				sh.walk(v.Index(i), depth+1)
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Field(i)
			switch {
			case isStorage(f.Type()),
				f.Kind() == reflect.Interface && !f.IsNil() && isStorage(f.Elem().Type()),
				(f.Kind() == reflect.Map || f.Kind() == reflect.Slice) && isStorage(f.Type().Elem()):
				sh.walk(f, depth+1)
			}
		}
	}
}

// isStorage reports whether t, or a pointer to it, is a jwkset.Storage.
func isStorage(t reflect.Type) bool {
	return t.Implements(storageType) || (t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(storageType))
}

// shares reports whether sh and o reach a common storage: one reference in
// both, or equal comparable values.
func (sh *storageShape) shares(o *storageShape) bool {
	for r := range sh.refs {
		if o.refs[r] {
			return true
		}
	}
	a, b := sh.root, o.root
	return a.Type() == b.Type() && a.Comparable() && a.Equal(b)
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
	if why := neverUsed(j); why != nil {
		return nil, fmt.Errorf("%w: JWK %s", ErrKeyNotFound, skipEntry(kid, why))
	}
	m := j.Marshal()
	pub := j.Key()
	refusal := verifyRefusal(m)
	e := entry{pub: pub, alg: string(m.ALG), sig: refusal == nil, refusal: refusal}
	if keyFits(alg, pub) == nil {
		e.fits = 1 << bit
	}
	return e.check(alg, bit)
}
