package middleware

import (
	"crypto"
	"sync"
	"time"
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
// next refresh. Tokens are kept by SHA-256; their claims are immutable and
// shared. Default: 10,000 tokens, 5 minutes; the cache also never holds
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

// tokenCache maps SHA-256(token) to verified claims. It is sharded to keep
// lock contention low, and bounded: a full shard drops expired entries
// first, then arbitrary ones (a miss costs only a re-verification).
type tokenCache struct {
	shards        [cacheShards]cacheShard
	perShard      int
	perShardBytes int
	maxAge        time.Duration
}

type cacheShard struct {
	mu    sync.RWMutex
	m     map[[32]byte]*cacheEntry
	bytes int
}

type cacheEntry struct {
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
	c := &tokenCache{perShard: max(1, entries/cacheShards), perShardBytes: cacheBytes / cacheShards, maxAge: maxAge}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]*cacheEntry)
	}
	return c
}

func (c *tokenCache) shard(sum [32]byte) *cacheShard { return &c.shards[sum[0]%cacheShards] }

func (c *tokenCache) get(sum [32]byte, now time.Time) *cacheEntry {
	s := c.shard(sum)
	s.mu.RLock()
	e := s.m[sum]
	s.mu.RUnlock()
	// An entry stored after now means the clock stepped back: its life
	// is not stretched by the step.
	if e == nil || !now.Before(e.expires) || now.Before(e.stored) {
		return nil
	}
	return e
}

func (c *tokenCache) put(sum [32]byte, e *cacheEntry, now time.Time) {
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
	s := c.shard(sum)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[sum]; ok {
		s.bytes -= old.cost()
		delete(s.m, sum)
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
	s.m[sum] = e
	s.bytes += cost
}

func (e *cacheEntry) cost() int { return len(e.claims.raw) + entryOverhead + e.claims.ext.size() }

func (s *cacheShard) drop(k [32]byte, e *cacheEntry) {
	delete(s.m, k)
	s.bytes -= e.cost()
}

func (c *tokenCache) remove(sum [32]byte) {
	s := c.shard(sum)
	s.mu.Lock()
	if e, ok := s.m[sum]; ok {
		s.drop(sum, e)
	}
	s.mu.Unlock()
}
