package middleware

import (
	"crypto"
	"encoding/binary"
	"hash/maphash"
	"sync"
	"time"
	"unsafe"
)

const (
	defaultCacheSize   = 10_000
	defaultCacheMaxAge = 5 * time.Minute
	cacheShards        = 32
	// cacheBytes bounds the claims bytes the cache holds (about 1.6 KiB per
	// entry on average at the default size); an entry's cost is its raw
	// payload plus a fixed overhead for the entry and the parsed claims.
	cacheBytes    = 16 << 20
	entryOverhead = 512
)

// WithTokenCache sets the verified-token cache: up to entries tokens, each
// kept until its exp and at most maxAge. A cached token skips signature
// verification, but on every hit its signing key must still be the one its
// issuer publishes, so a key that leaves the JWKS stops cached tokens at the
// next refresh. A token is found by its exact text (a seeded hash, then a
// constant-time comparison of the whole token); its claims are immutable
// and shared. Default: 10,000 tokens, 5 minutes; the cache also never holds
// more than 16 MiB of claims, whatever the token sizes. entries = 0 turns
// it off.
func WithTokenCache(entries int, maxAge time.Duration) Option {
	return func(c *config) {
		if entries < 0 || maxAge < 0 || (entries > 0 && maxAge == 0) {
			c.fail("token cache needs entries >= 0 and a positive max age")
		}
		c.cacheSize, c.cacheMaxAge = entries, maxAge
	}
}

// tokenCache maps tokens to verified claims. A token is looked up by a
// hash with a secret per-cache seed (hash/maphash: fast, and clients cannot
// aim tokens at one entry) and matches only an entry holding the very same
// token text, compared in constant time: a hash collision is a miss, never
// a hit. (Keys were SHA-256 digests before; on a warm request that hash
// was a fifth of the work, and the exact comparison makes a
// collision-resistant hash unnecessary.) It is sharded to keep lock
// contention low, and bounded: a full shard drops expired entries first,
// then arbitrary ones (a miss costs only a re-verification).
type tokenCache struct {
	seed          maphash.Seed
	shards        [cacheShards]cacheShard
	perShard      int
	perShardBytes int
	maxAge        time.Duration
}

type cacheShard struct {
	mu    sync.RWMutex
	m     map[uint64]*cacheEntry
	bytes int
}

type cacheEntry struct {
	token            string // the token verified, compared on every hit
	claims           *Claims
	expires          time.Time
	issuer, kid, alg string
	key              crypto.PublicKey
	hmac             bool
	// introspected: the claims are an introspection answer, reused no
	// later than until (the introspection client's own reuse bound).
	introspected bool
	until        time.Time
	stored       time.Time
}

func newTokenCache(entries int, maxAge time.Duration) *tokenCache {
	c := &tokenCache{seed: maphash.MakeSeed(), perShard: max(1, entries/cacheShards), perShardBytes: cacheBytes / cacheShards, maxAge: maxAge}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]*cacheEntry)
	}
	return c
}

// key returns the cache's hash of token.
func (c *tokenCache) key(token string) uint64 { return maphash.String(c.seed, token) }

func (c *tokenCache) shard(key uint64) *cacheShard { return &c.shards[key%cacheShards] }

// get returns the live entry for token, whose key is key.
func (c *tokenCache) get(key uint64, token string, now time.Time) *cacheEntry {
	s := c.shard(key)
	s.mu.RLock()
	e := s.m[key]
	s.mu.RUnlock()
	// An entry stored after now means the clock stepped back: its life
	// is not stretched by the step.
	if e == nil || !sameToken(e.token, token) || !now.Before(e.expires) || now.Before(e.stored) {
		return nil
	}
	return e
}

// sameToken reports whether a and b are the same text, in time that
// depends only on their lengths: eight bytes at a time, so that comparing a
// whole token costs less than hashing it.
func sameToken(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	x := unsafe.Slice(unsafe.StringData(a), len(a)) // read only
	y := unsafe.Slice(unsafe.StringData(b), len(b))
	var v uint64
	i := 0
	for ; i+8 <= len(x); i += 8 {
		v |= binary.LittleEndian.Uint64(x[i:]) ^ binary.LittleEndian.Uint64(y[i:])
	}
	for ; i < len(x); i++ {
		v |= uint64(x[i] ^ y[i])
	}
	return v == 0
}

// put stores e (whose token has key key).
func (c *tokenCache) put(key uint64, e *cacheEntry, now time.Time) {
	e.stored = now
	e.expires = now.Add(c.maxAge)
	if exp := e.claims.expiresAt; !exp.IsZero() && exp.Before(e.expires) {
		e.expires = exp
	}
	if !e.until.IsZero() && e.until.Before(e.expires) {
		e.expires = e.until
	}
	cost := e.cost()
	if cost > c.perShardBytes {
		return
	}
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[key]; ok {
		s.bytes -= old.cost()
		delete(s.m, key)
	}
	if len(s.m) >= c.perShard || s.bytes+cost > c.perShardBytes {
		for k, old := range s.m {
			if !now.Before(old.expires) {
				s.drop(k, old)
			}
		}
		for k, old := range s.m {
			if len(s.m) < c.perShard && s.bytes+cost <= c.perShardBytes {
				break
			}
			s.drop(k, old)
		}
	}
	s.m[key] = e
	s.bytes += cost
}

func (e *cacheEntry) cost() int {
	return len(e.token) + len(e.claims.raw) + entryOverhead + e.claims.ext.size()
}

func (s *cacheShard) drop(k uint64, e *cacheEntry) {
	delete(s.m, k)
	s.bytes -= e.cost()
}

// remove drops the entry of key if it holds token.
func (c *tokenCache) remove(key uint64, token string) {
	s := c.shard(key)
	s.mu.Lock()
	if e, ok := s.m[key]; ok && sameToken(e.token, token) {
		s.drop(key, e)
	}
	s.mu.Unlock()
}
