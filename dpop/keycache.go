package dpop

import (
	"crypto"
	"hash/maphash"
	"sync"
)

const (
	keyCacheShards   = 16
	keyCachePerShard = 256
)

// keyCache maps JWK thumbprints to parsed public keys, so that a client's
// key is decoded and checked once rather than on every proof. A thumbprint
// is a SHA-256 over the key's required members, so equal thumbprints mean
// equal keys. It holds at most keyCacheShards × keyCachePerShard keys; a full
// shard forgets an arbitrary entry. It is safe for concurrent use.
type keyCache struct {
	seed   maphash.Seed
	shards [keyCacheShards]keyShard
}

type keyShard struct {
	mu sync.RWMutex
	m  map[string]crypto.PublicKey
	_  [32]byte
}

func newKeyCache() *keyCache {
	c := &keyCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[string]crypto.PublicKey)
	}
	return c
}

func (c *keyCache) shard(thumbprint string) *keyShard {
	return &c.shards[maphash.String(c.seed, thumbprint)%keyCacheShards]
}

func (c *keyCache) get(thumbprint string) (crypto.PublicKey, bool) {
	sh := c.shard(thumbprint)
	sh.mu.RLock()
	k, ok := sh.m[thumbprint]
	sh.mu.RUnlock()
	return k, ok
}

func (c *keyCache) put(thumbprint string, key crypto.PublicKey) {
	sh := c.shard(thumbprint)
	sh.mu.Lock()
	if len(sh.m) >= keyCachePerShard {
		for k := range sh.m {
			delete(sh.m, k)
			break
		}
	}
	sh.m[thumbprint] = key
	sh.mu.Unlock()
}
