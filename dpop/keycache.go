package dpop

import (
	"crypto"
	"hash/maphash"
	"sync"
)

const (
	keyCacheShards   = 16
	keyCachePerShard = 256
	// keyCacheMaxJWK is the longest JWK text remembered: an RSA-4096 JWK
	// is about 750 bytes; longer texts are parsed every time.
	keyCacheMaxJWK = 1024
)

// keyCache maps the exact text of a proof's jwk header member to what
// reading it gave: the RFC 7638 thumbprint and the parsed public key, so
// that a client's key is read, checked, decoded and hashed once rather than
// on every proof. Reading a JWK (parseJWK, publicKey, thumbprint) is a pure
// function of its bytes, so an entry can only skip recomputing, never
// change a verdict; only texts that read successfully are kept. It holds at
// most keyCacheShards × keyCachePerShard entries of at most keyCacheMaxJWK
// bytes each; a full shard forgets an arbitrary entry. It is safe for
// concurrent use.
type keyCache struct {
	seed   maphash.Seed
	shards [keyCacheShards]keyShard
}

type keyEntry struct {
	thumbprint string
	key        crypto.PublicKey
}

type keyShard struct {
	mu sync.RWMutex
	m  map[string]keyEntry
	_  [32]byte
}

func newKeyCache() *keyCache {
	c := &keyCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[string]keyEntry)
	}
	return c
}

func (c *keyCache) shard(jwk []byte) *keyShard {
	return &c.shards[maphash.Bytes(c.seed, jwk)%keyCacheShards]
}

// get returns what reading the JWK text jwk gave before.
func (c *keyCache) get(jwk []byte) (keyEntry, bool) {
	if len(jwk) > keyCacheMaxJWK {
		return keyEntry{}, false
	}
	sh := c.shard(jwk)
	sh.mu.RLock()
	e, ok := sh.m[string(jwk)] // no allocation for the lookup
	sh.mu.RUnlock()
	return e, ok
}

// put remembers that the JWK text jwk read as e.
func (c *keyCache) put(jwk []byte, e keyEntry) {
	if len(jwk) > keyCacheMaxJWK {
		return
	}
	sh := c.shard(jwk)
	sh.mu.Lock()
	if len(sh.m) >= keyCachePerShard {
		for k := range sh.m {
			delete(sh.m, k)
			break
		}
	}
	sh.m[string(jwk)] = e
	sh.mu.Unlock()
}
