package middleware

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func entry(raw int, exp time.Time) *cacheEntry {
	return &cacheEntry{claims: &Claims{raw: []byte(strings.Repeat("x", raw)), expiresAt: exp}}
}

// put stores e for token as verifyToken does.
func (c *tokenCache) putToken(token string, e *cacheEntry, now time.Time) {
	e.token = token
	c.put(c.key(token), e, now)
}

func (c *tokenCache) getToken(token string, now time.Time) *cacheEntry {
	return c.get(c.key(token), token, now)
}

func TestTokenCacheBounds(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	exp := now.Add(time.Hour)

	t.Run("entry count", func(t *testing.T) {
		c := newTokenCache(cacheShards*4, time.Minute)
		for i := range 10_000 {
			c.putToken(fmt.Sprint(i), entry(10, exp), now)
		}
		n := 0
		for i := range c.shards {
			n += len(c.shards[i].m)
			assert.LessOrEqual(t, len(c.shards[i].m), 4)
		}
		assert.LessOrEqual(t, n, cacheShards*4)
	})
	t.Run("bytes, whatever the token sizes", func(t *testing.T) {
		c := newTokenCache(1_000_000, time.Minute)
		for i := range 5_000 {
			c.putToken(fmt.Sprint(i), entry(16<<10, exp), now)
		}
		total := 0
		for i := range c.shards {
			total += c.shards[i].bytes
			assert.LessOrEqual(t, c.shards[i].bytes, c.perShardBytes)
		}
		assert.LessOrEqual(t, total, cacheBytes)
	})
	t.Run("expiry at exp, capped by max age", func(t *testing.T) {
		c := newTokenCache(100, time.Minute)
		c.putToken("a", entry(1, now.Add(10*time.Second)), now)
		c.putToken("b", entry(1, now.Add(time.Hour)), now)
		assert.NotNil(t, c.getToken("a", now.Add(9*time.Second)))
		assert.Nil(t, c.getToken("a", now.Add(10*time.Second)), "gone at exp")
		assert.NotNil(t, c.getToken("b", now.Add(59*time.Second)))
		assert.Nil(t, c.getToken("b", now.Add(time.Minute)), "gone at max age")
	})
	t.Run("replacing and removing keep the byte count right", func(t *testing.T) {
		c := newTokenCache(100, time.Minute)
		c.putToken("a", entry(100, exp), now)
		c.putToken("a", entry(100, exp), now)
		s := c.shard(c.key("a"))
		assert.Equal(t, 1+100+entryOverhead, s.bytes)
		c.remove(c.key("a"), "a")
		assert.Equal(t, 0, s.bytes)
	})
	t.Run("a hash collision is a miss, never a hit", func(t *testing.T) {
		c := newTokenCache(100, time.Minute)
		c.putToken("token-a", entry(1, exp), now)
		// Another token under the same key, as a collision would put it.
		assert.Nil(t, c.get(c.key("token-a"), "token-b", now))
		assert.Nil(t, c.get(c.key("token-a"), "token-", now))
		assert.NotNil(t, c.get(c.key("token-a"), "token-a", now))
		c.remove(c.key("token-a"), "token-b")
		assert.NotNil(t, c.getToken("token-a", now), "removing another token's entry does nothing")
	})
}

func TestSameToken(t *testing.T) {
	long := strings.Repeat("abcdefgh", 100) + "xyz"
	for i := range len(long) {
		b := []byte(long)
		b[i] ^= 1
		assert.False(t, sameToken(long, string(b)), "byte %d differs", i)
	}
	assert.True(t, sameToken(long, strings.Clone(long)))
	assert.True(t, sameToken("", ""))
	assert.False(t, sameToken(long, long[:len(long)-1]))
	assert.False(t, sameToken("a", ""))
}

func TestSameKey(t *testing.T) {
	a, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	b, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	copyOfA := &rsa.PublicKey{N: new(big.Int).Set(a.N), E: a.E}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ed, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	assert.True(t, sameKey(&a.PublicKey, &a.PublicKey))
	assert.True(t, sameKey(&a.PublicKey, copyOfA), "equal values, other pointer")
	assert.False(t, sameKey(&a.PublicKey, &b.PublicKey))
	assert.True(t, sameKey(&ec.PublicKey, &ec.PublicKey))
	assert.False(t, sameKey(&ec.PublicKey, &a.PublicKey))
	assert.True(t, sameKey(ed, slices.Clone(ed)), "ed25519 keys are slices: compared by value, never with ==")
	assert.False(t, sameKey(ed, &a.PublicKey))
}
