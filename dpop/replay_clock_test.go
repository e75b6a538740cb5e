package dpop

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReplayRefusedWhileTheClockSteps: whatever the wall clock does after the
// verifier starts, a proof accepted once is refused while it could still
// pass the iat check.
func TestReplayRefusedWhileTheClockSteps(t *testing.T) {
	testKeys(t)
	for _, tc := range []struct {
		name string
		step time.Duration // from the clock at start to the clock at the first use
	}{
		{"steps back 10 minutes after start", -10 * time.Minute},
		{"steps back 2 seconds after start", -2 * time.Second},
		{"steps forward 10 minutes after start", 10 * time.Minute},
		{"steps back 30 days after start", -30 * 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			clock.Add(-tc.step) // started with a clock that was off by -step
			v := newTestVerifier(t, clock)
			clock.Add(tc.step) // now the clock reads testNow, the proof's iat
			proof := handProof(t, ecKey, "ES256", nil)
			_, err := v.Verify(context.Background(), proof, testRequest())
			require.NoError(t, err)
			for _, later := range []time.Duration{0, time.Second, 30 * time.Second, 64 * time.Second} {
				clock.Add(later)
				_, err = v.Verify(context.Background(), proof, testRequest())
				require.ErrorIs(t, err, ErrReplayed, "%v after acceptance", later)
				clock.Add(-later)
			}
		})
	}
	t.Run("steps back after the proof was accepted", func(t *testing.T) {
		clock := newFakeClock()
		v := newTestVerifier(t, clock)
		proof := handProof(t, ecKey, "ES256", nil)
		_, err := v.Verify(context.Background(), proof, testRequest())
		require.NoError(t, err)
		// Back by up to the skew allowance: the proof still passes the iat
		// check (it is no more than skew in the future).
		for _, d := range []time.Duration{-time.Second, -3 * time.Second} {
			clock.Add(d)
			_, err = v.Verify(context.Background(), proof, testRequest())
			require.ErrorIs(t, err, ErrReplayed)
		}
	})
}

// TestMemoryReplayCacheFailsClosedOutsideItsClockRange: a time the cache
// cannot represent makes Record fail closed; it never skips the record.
func TestMemoryReplayCacheFailsClosedOutsideItsClockRange(t *testing.T) {
	for _, step := range []time.Duration{-10 * time.Minute, 10 * time.Minute, -69 * 365 * 24 * time.Hour, 69 * 365 * 24 * time.Hour} {
		clock := newFakeClock()
		c, err := NewMemoryReplayCache(WithCacheClock(clock.Now))
		require.NoError(t, err)
		clock.Add(step)
		k := NewReplayKey(rfc9449Thumb, "jti")
		seen, err := c.Record(context.Background(), k, clock.Now().Add(time.Minute))
		if step.Abs() > 68*365*24*time.Hour {
			require.ErrorIs(t, err, ErrReplayCacheUnavailable, "clock stepped %v", step)
			assert.False(t, seen)
			continue
		}
		require.NoError(t, err, "clock stepped %v", step)
		require.False(t, seen)
		seen, err = c.Record(context.Background(), k, clock.Now().Add(time.Minute))
		require.NoError(t, err)
		assert.True(t, seen, "clock stepped %v", step)
	}
}

// TestReplayEntryOutlivesLaggingClocks: every cache is asked to keep a proof
// until iat + window + 2·skew + 1 ms, so that a fleet member whose clock
// lags by up to skew cannot accept it after the entry expires.
func TestReplayEntryOutlivesLaggingClocks(t *testing.T) {
	testKeys(t)
	for _, tc := range []struct{ window, skew time.Duration }{
		{defaultIATWindow, defaultClockSkew},
		{30 * time.Second, 0},
		{2 * time.Minute, 10 * time.Second},
	} {
		rc := &recordingCache{}
		v := newTestVerifier(t, newFakeClock(), WithReplayCache(rc), WithIATWindow(tc.window), WithClockSkew(tc.skew))
		_, err := v.Verify(context.Background(), handProof(t, ecKey, "ES256", nil), testRequest())
		require.NoError(t, err)
		require.Equal(t, 1, rc.calls)
		assert.Equal(t, testNow.Add(tc.window+2*tc.skew+time.Millisecond), rc.until, "window %v, skew %v", tc.window, tc.skew)
	}
}
