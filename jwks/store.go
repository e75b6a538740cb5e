package jwks

import (
	"context"
	"crypto"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/MicahParks/jwkset"

	"github.com/senderbound/senderbound/internal/jose"
)

// algs lists the algorithms Key can serve; a key's fits mask has bit i set
// when it fits algs[i]. "Ed25519" is the fully-specified name of RFC 9864
// for what "EdDSA" means with an Ed25519 key.
var algs = [...]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"}

// algBit returns alg's index in algs, or -1.
func algBit(alg string) int {
	switch alg {
	case "RS256":
		return 0
	case "RS384":
		return 1
	case "RS512":
		return 2
	case "PS256":
		return 3
	case "PS384":
		return 4
	case "PS512":
		return 5
	case "ES256":
		return 6
	case "ES384":
		return 7
	case "ES512":
		return 8
	case "EdDSA":
		return 9
	case "Ed25519":
		return 10
	}
	return -1
}

// keyFits is jose.KeyFits with "Ed25519" (RFC 9864) read as "EdDSA", which
// jose accepts only with an Ed25519 key.
func keyFits(alg string, pub crypto.PublicKey) error {
	if alg == "Ed25519" {
		alg = "EdDSA"
	}
	return jose.KeyFits(alg, pub)
}

// sameAlg reports whether a JWK's "alg" allows a token's alg. "EdDSA" and
// "Ed25519" name the same algorithm for the Ed25519 keys that fit either.
func sameAlg(jwkAlg, alg string) bool {
	if jwkAlg == alg {
		return true
	}
	ed := func(a string) bool { return a == "EdDSA" || a == "Ed25519" }
	return ed(jwkAlg) && ed(alg)
}

// entry is one JWK, prepared for the request path.
type entry struct {
	pub crypto.PublicKey
	alg string // the JWK's "alg", may be empty
	sig bool   // it may verify: refusal is nil
	// refusal is why the key may not verify ("use" not "sig", key_ops
	// without "verify"), nil if it may.
	refusal error
	fits    uint16 // bit i: keyFits(algs[i], pub) == nil
	jwk     jwkset.JWK
}

// check applies the rules of Key to e and a token's alg.
func (e *entry) check(alg string, bit int) (crypto.PublicKey, error) {
	if !e.sig {
		return nil, e.refusal
	}
	if e.alg != "" && !sameAlg(e.alg, alg) {
		return nil, errAlgDiffers
	}
	if e.fits&(1<<bit) == 0 {
		return nil, fmt.Errorf("%w: %w", ErrKeyMismatch, keyFits(alg, e.pub))
	}
	return e.pub, nil
}

// entries are the keys of one kid. RFC 7517 §4.5 lets keys of different
// types share a kid; the one that fits the token's alg is used.
type entries []*entry

// pick returns the first key of es that fits alg, or the first key's
// reason not to.
func (es entries) pick(alg string, bit int) (crypto.PublicKey, error) {
	for _, e := range es {
		if e.fitsAlg(alg, bit) {
			return e.pub, nil
		}
	}
	return es[0].check(alg, bit)
}

// fitsAlg is check without building an error.
func (e *entry) fitsAlg(alg string, bit int) bool {
	return e.sig && (e.alg == "" || sameAlg(e.alg, alg)) && e.fits&(1<<bit) != 0
}

// index is an immutable view of one key set, by kid.
type index struct {
	keys    map[string]entries
	usable  int      // keys that may verify and fit some algorithm
	skipped []string // the set's keys that are never used, and why
}

// indexStore is the jwkset.Storage that jwkset's HTTP client (under keyfunc)
// refreshes into. Besides keeping the keys in a jwkset.MemoryJWKSet (for the
// JSON and Marshal methods), every replacement builds a new index and swaps
// it in atomically, so that Key never locks or scans, and KeyRead answers
// from the index. A replacement that is too large or has no usable signing
// key is refused, which makes jwkset's refresh fail and keeps the last good
// keys.
type indexStore struct {
	*jwkset.MemoryJWKSet
	maxKeys int
	idx     atomic.Pointer[index] // nil until a set was loaded
	loads   atomic.Uint64         // successful replacements
	mu      sync.Mutex            // serialises KeyWrite and KeyDelete
	// fetchSkipped holds the status lines of the keys privateKeyFilter
	// dropped from the set being fetched, for the replacement that follows.
	fetchSkipped atomic.Pointer[[]string]
}

var _ jwkset.Storage = (*indexStore)(nil)

func newIndexStore(maxKeys int) *indexStore {
	return &indexStore{MemoryJWKSet: jwkset.NewMemoryStorage(), maxKeys: maxKeys}
}

// KeyReplaceAll implements jwkset.Storage. Keys that are never used
// (neverUsed) are skipped, not held.
func (s *indexStore) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	var skipped []string
	if p := s.fetchSkipped.Swap(nil); p != nil {
		skipped = *p
	}
	return s.replace(ctx, given, skipped)
}

func (s *indexStore) replace(ctx context.Context, given []jwkset.JWK, skipped []string) error {
	idx, kept, err := buildIndex(given, s.maxKeys, skipped)
	if err != nil {
		return err
	}
	if err := s.MemoryJWKSet.KeyReplaceAll(ctx, kept); err != nil {
		return err
	}
	s.idx.Store(idx)
	s.loads.Add(1)
	return nil
}

// KeyRead implements jwkset.Storage from the index: the first key with the
// kid (keyfunc, unlike Key, does not know which key type fits).
func (s *indexStore) KeyRead(_ context.Context, kid string) (jwkset.JWK, error) {
	if idx := s.idx.Load(); idx != nil {
		if es, ok := idx.keys[kid]; ok {
			return es[0].jwk, nil
		}
	}
	return jwkset.JWK{}, fmt.Errorf("%w: kid %q", jwkset.ErrKeyNotFound, kid)
}

// KeyWrite implements jwkset.Storage; the set with jwk added must pass the
// rules of a replacement.
func (s *indexStore) KeyWrite(ctx context.Context, jwk jwkset.JWK) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	all, err := s.KeyReadAll(ctx)
	if err != nil {
		return err
	}
	return s.replace(ctx, append(all, jwk), s.skipped())
}

// KeyDelete implements jwkset.Storage; the set without the kid's keys must
// pass the rules of a replacement.
func (s *indexStore) KeyDelete(ctx context.Context, kid string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all, err := s.KeyReadAll(ctx)
	if err != nil {
		return false, err
	}
	kept := slices.DeleteFunc(all, func(j jwkset.JWK) bool { return j.Marshal().KID == kid })
	if len(kept) == len(all) {
		return false, nil
	}
	if err := s.replace(ctx, kept, s.skipped()); err != nil {
		return false, err
	}
	return true, nil
}

// skipped is the status lines of the keys the held set skipped.
func (s *indexStore) skipped() []string {
	if idx := s.idx.Load(); idx != nil {
		return idx.skipped
	}
	return nil
}

// buildIndex prepares keys for lookup, keeping every key of a kid but
// skipping those that are never used; skipped lists keys dropped earlier.
// It returns the keys kept.
func buildIndex(keys []jwkset.JWK, maxKeys int, skipped []string) (*index, []jwkset.JWK, error) {
	if len(keys)+len(skipped) > maxKeys {
		return nil, nil, fmt.Errorf("%w: %d > %d", errTooManyKey, len(keys)+len(skipped), maxKeys)
	}
	idx := &index{keys: make(map[string]entries, len(keys)), skipped: slices.Clone(skipped)}
	kept := make([]jwkset.JWK, 0, len(keys))
	for _, j := range keys {
		m := j.Marshal()
		if why := neverUsed(j); why != nil {
			idx.skipped = append(idx.skipped, skipEntry(m.KID, why))
			continue
		}
		kept = append(kept, j)
		pub := j.Key()
		refusal := verifyRefusal(m)
		e := &entry{pub: pub, alg: string(m.ALG), sig: refusal == nil, refusal: refusal, jwk: j}
		for i, a := range algs {
			if keyFits(a, pub) == nil {
				e.fits |= 1 << i
			}
		}
		if e.sig && e.fits != 0 {
			idx.usable++
		}
		idx.keys[m.KID] = append(idx.keys[m.KID], e)
	}
	if idx.usable == 0 {
		if len(idx.skipped) > 0 {
			return nil, nil, fmt.Errorf("%w; skipped: %s", errNoKeys, strings.Join(idx.skipped, "; "))
		}
		return nil, nil, errNoKeys
	}
	return idx, kept, nil
}
