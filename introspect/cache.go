package introspect

import (
	"sync"
	"time"
)

const (
	cacheShards = 16
	// cacheBytes bounds the answers the cache holds, whatever their sizes.
	cacheBytes    = 16 << 20
	entryOverhead = 256
)

// cache maps SHA-256(token) to an answer: a *Result when active, nil when
// inactive. It is sharded and bounded in entries and bytes: a full shard
// drops expired entries first, then arbitrary ones (a miss costs a call).
type cache struct {
	shards        [cacheShards]cacheShard
	perShard      int
	perShardBytes int
}

type cacheShard struct {
	mu    sync.RWMutex
	m     map[[32]byte]entry
	bytes int
}

type entry struct {
	res           *Result // nil: inactive
	stored, until time.Time
}

func (e entry) cost() int {
	if e.res == nil {
		return entryOverhead
	}
	return entryOverhead + len(e.res.object)
}

func newCache(entries int) *cache {
	c := &cache{perShard: max(1, entries/cacheShards), perShardBytes: cacheBytes / cacheShards}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]entry)
	}
	return c
}

func (c *cache) shard(sum [32]byte) *cacheShard { return &c.shards[sum[0]%cacheShards] }

// get returns the answer for sum, if one is cached and fresh: stored no
// later than now (a clock that stepped back does not stretch an entry's
// life) and now before its end.
func (c *cache) get(sum [32]byte, now time.Time) (res *Result, inactive, ok bool) {
	s := c.shard(sum)
	s.mu.RLock()
	e, found := s.m[sum]
	s.mu.RUnlock()
	if !found || now.Before(e.stored) || !now.Before(e.until) {
		return nil, false, false
	}
	return e.res, e.res == nil, true
}

func (c *cache) put(sum [32]byte, e entry) {
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
			if e.stored.Before(old.stored) || !e.stored.Before(old.until) {
				s.bytes -= old.cost()
				delete(s.m, k)
			}
		}
		for k, old := range s.m {
			if len(s.m) < c.perShard && s.bytes+cost <= c.perShardBytes {
				break
			}
			s.bytes -= old.cost()
			delete(s.m, k)
		}
	}
	s.m[sum] = e
	s.bytes += cost
}
