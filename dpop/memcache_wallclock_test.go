package dpop

import (
	"context"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stepWall returns t with its wall clock reading moved by d and its
// monotonic reading kept: what time.Now returns after the system clock is
// stepped (by NTP, or an operator) while the monotonic clock runs on. The
// public API cannot make such a value (Add moves both readings), so this
// edits the wall seconds of time.Time's layout, and checks the result.
func stepWall(t *testing.T, tm time.Time, d time.Duration) time.Time {
	t.Helper()
	require.Zero(t, d%time.Second)
	type layout struct {
		wall uint64 // hasMonotonic(1) | seconds since 1885 (33) | nanoseconds (30)
		ext  int64  // monotonic nanoseconds
		loc  *time.Location
	}
	require.Equal(t, unsafe.Sizeof(layout{}), unsafe.Sizeof(tm))
	out := tm
	p := (*layout)(unsafe.Pointer(&out))
	require.NotZero(t, p.wall>>63, "a reading with a monotonic part")
	p.wall = uint64(int64(p.wall) + int64(d/time.Second)<<30)
	require.True(t, out.Round(0).Equal(tm.Round(0).Add(d)), "the wall reading moved")
	require.Zero(t, out.Sub(tm), "the monotonic reading did not")
	return out
}

// TestMemoryReplayCacheFollowsTheWallClock: the cache compares times as
// the wall clock reads them, as the verifier's iat check and the until it
// passes (from the proof's iat) do. Its clock here returns real readings
// with a monotonic part, as time.Now does, and the wall clock is stepped
// back and forward by an hour after the cache started: a replay is still
// refused. Were the cache's base time to keep its monotonic reading,
// "now" would be measured on the monotonic clock and until on the wall
// clock, an hour apart, and the entry would count as expired at once.
func TestMemoryReplayCacheFollowsTheWallClock(t *testing.T) {
	for _, step := range []time.Duration{-time.Hour, time.Hour} {
		t.Run(step.String(), func(t *testing.T) {
			start := time.Now()
			now := start
			c, err := NewMemoryReplayCache(WithCacheClock(func() time.Time { return now }))
			require.NoError(t, err)
			now = stepWall(t, start, step).Add(time.Second)
			// As the verifier computes it: from the proof's iat, in
			// whole seconds of the wall clock.
			until := time.Unix(now.Unix()+60, 0)
			k := NewReplayKey(rfc9449Thumb, "jti-stepped")
			ctx := context.Background()
			seen, err := c.Record(ctx, k, until)
			require.NoError(t, err)
			assert.False(t, seen)
			now = now.Add(30 * time.Second)
			seen, err = c.Record(ctx, k, until)
			require.NoError(t, err)
			assert.True(t, seen, "the replay is refused")
		})
	}
}
