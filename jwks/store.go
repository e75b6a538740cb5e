package jwks

import (
	"context"
	"crypto"
	"fmt"
	"sync/atomic"

	"github.com/MicahParks/jwkset"

	"github.com/senderbound/senderbound/internal/jose"
)

// algs lists the algorithms Key can serve; a key's fits mask has bit i set
// when it fits algs[i].
var algs = [...]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

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
	}
	return -1
}

// entry is one JWK, prepared for the request path.
type entry struct {
	pub  crypto.PublicKey
	alg  string // the JWK's "alg", may be empty
	sig  bool   // "use" is "sig" or absent
	fits uint16 // bit i: jose.KeyFits(algs[i], pub) == nil
}

// check applies the rules of Key to e and a token's alg.
func (e *entry) check(alg string, bit int) (crypto.PublicKey, error) {
	if !e.sig {
		return nil, errUseNotSig
	}
	if e.alg != "" && e.alg != alg {
		return nil, errAlgDiffers
	}
	if e.fits&(1<<bit) == 0 {
		return nil, fmt.Errorf("%w: %w", ErrKeyMismatch, jose.KeyFits(alg, e.pub))
	}
	return e.pub, nil
}

// index is an immutable view of one key set, by kid.
type index struct {
	keys map[string]*entry
}

// indexStore is the jwkset.Storage that jwkset refreshes into. Besides
// keeping the keys in a jwkset.MemoryJWKSet, every KeyReplaceAll builds a new
// index and swaps it in atomically, so that Key never locks or scans. A
// replacement that is too large or has no usable signing key is refused,
// which makes jwkset's refresh fail and keeps the last good keys.
type indexStore struct {
	*jwkset.MemoryJWKSet
	maxKeys int
	idx     atomic.Pointer[index] // nil until a set was loaded
}

// KeyReplaceAll implements jwkset.Storage.
func (s *indexStore) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	idx, err := buildIndex(given, s.maxKeys)
	if err != nil {
		return err
	}
	if err := s.MemoryJWKSet.KeyReplaceAll(ctx, given); err != nil {
		return err
	}
	s.idx.Store(idx)
	return nil
}

type publicKeyer interface{ Public() crypto.PublicKey }

// buildIndex prepares keys for lookup. With duplicate kids the first wins.
func buildIndex(keys []jwkset.JWK, maxKeys int) (*index, error) {
	if len(keys) > maxKeys {
		return nil, fmt.Errorf("%w: %d > %d", errTooManyKey, len(keys), maxKeys)
	}
	idx := &index{keys: make(map[string]*entry, len(keys))}
	usable := 0
	for _, j := range keys {
		m := j.Marshal()
		if _, dup := idx.keys[m.KID]; dup {
			continue
		}
		pub := j.Key()
		if p, ok := pub.(publicKeyer); ok { // a JWKS that (wrongly) publishes private keys
			pub = p.Public()
		}
		e := &entry{pub: pub, alg: string(m.ALG), sig: m.USE == "" || m.USE == jwkset.UseSig}
		for i, a := range algs {
			if jose.KeyFits(a, pub) == nil {
				e.fits |= 1 << i
			}
		}
		if e.sig && e.fits != 0 {
			usable++
		}
		idx.keys[m.KID] = e
	}
	if usable == 0 {
		return nil, errNoKeys
	}
	return idx, nil
}
