package dpop

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHMACNonces(t *testing.T) {
	clock := newFakeClock()
	secret := bytes.Repeat([]byte{1}, 32)
	n, err := NewHMACNonces([][]byte{secret}, WithNonceClock(clock.Now), WithNonceStep(time.Minute))
	require.NoError(t, err)
	nonce, err := n.Nonce()
	require.NoError(t, err)
	assert.True(t, ValidNonce(nonce), "nonce syntax of RFC 9449 §8.1")

	st, err := n.Check(nonce)
	require.NoError(t, err)
	assert.Equal(t, NonceCurrent, st)

	clock.Add(time.Minute)
	st, err = n.Check(nonce)
	require.NoError(t, err)
	assert.Equal(t, NonceStale, st)

	clock.Add(time.Minute)
	_, err = n.Check(nonce)
	require.ErrorIs(t, err, ErrNonce)

	for _, bad := range []string{"", "x", nonce[:len(nonce)-1] + "A", nonce + "A", "!" + nonce[1:]} {
		_, err := n.Check(bad)
		require.ErrorIs(t, err, ErrNonce, bad)
	}
}

func TestHMACNoncesClockSkewAcrossFleet(t *testing.T) {
	secret := bytes.Repeat([]byte{1}, 32)
	at := func(d time.Duration) func() time.Time {
		return func() time.Time { return testNow.Truncate(time.Minute).Add(d) }
	}
	ahead, err := NewHMACNonces([][]byte{secret}, WithNonceClock(at(time.Minute+time.Second)))
	require.NoError(t, err)
	behind, err := NewHMACNonces([][]byte{secret}, WithNonceClock(at(time.Minute-3*time.Second)))
	require.NoError(t, err)
	farBehind, err := NewHMACNonces([][]byte{secret}, WithNonceClock(at(time.Minute-10*time.Second)))
	require.NoError(t, err)
	nonce, err := ahead.Nonce()
	require.NoError(t, err)
	_, err = behind.Check(nonce)
	require.NoError(t, err, "4 s of skew is allowed")
	_, err = farBehind.Check(nonce)
	require.ErrorIs(t, err, ErrNonce, "11 s is not")
}

func TestHMACNoncesRotation(t *testing.T) {
	clock := newFakeClock()
	oldSecret, newSecret := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	before, err := NewHMACNonces([][]byte{oldSecret}, WithNonceClock(clock.Now))
	require.NoError(t, err)
	during, err := NewHMACNonces([][]byte{newSecret, oldSecret}, WithNonceClock(clock.Now))
	require.NoError(t, err)
	after, err := NewHMACNonces([][]byte{newSecret}, WithNonceClock(clock.Now))
	require.NoError(t, err)

	oldNonce, err := before.Nonce()
	require.NoError(t, err)
	newNonce, err := during.Nonce()
	require.NoError(t, err)

	_, err = during.Check(oldNonce)
	require.NoError(t, err, "the old secret still verifies")
	_, err = after.Check(newNonce)
	require.NoError(t, err, "the new secret signs")
	_, err = after.Check(oldNonce)
	require.ErrorIs(t, err, ErrNonce, "a removed secret no longer verifies")
}

// TestHMACNoncesEmptySecretIsAbsent: a fleet fills a fixed list of secrets
// from its configuration (docs/fleet.md), and outside a rotation
// the second one is empty. That must mean "no second secret", not a
// configuration error and never an empty HMAC key.
func TestHMACNoncesEmptySecretIsAbsent(t *testing.T) {
	clock := newFakeClock()
	secret := bytes.Repeat([]byte{1}, 32)
	n, err := NewHMACNonces([][]byte{secret, nil, []byte("")}, WithNonceClock(clock.Now))
	require.NoError(t, err)
	alone, err := NewHMACNonces([][]byte{secret}, WithNonceClock(clock.Now))
	require.NoError(t, err)

	nonce, err := n.Nonce()
	require.NoError(t, err)
	_, err = alone.Check(nonce)
	require.NoError(t, err, "the first secret signs")

	// A nonce made with an empty key must not verify.
	empty := &HMACNonces{secrets: [][]byte{{}}, step: alone.step, skew: alone.skew, now: clock.Now}
	forged, err := empty.Nonce()
	require.NoError(t, err)
	_, err = n.Check(forged)
	require.ErrorIs(t, err, ErrNonce, "an empty secret is skipped, not used as a key")
}

func TestNewHMACNoncesRefuses(t *testing.T) {
	for name, secrets := range map[string][][]byte{
		"none":         nil,
		"short":        {bytes.Repeat([]byte{1}, 31)},
		"one short":    {bytes.Repeat([]byte{1}, 32), []byte("x")},
		"first empty":  {nil, bytes.Repeat([]byte{1}, 32)},
		"only empty":   {[]byte("")},
		"empty, short": {bytes.Repeat([]byte{1}, 32), nil, []byte("x")},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewHMACNonces(secrets)
			require.ErrorIs(t, err, ErrConfig)
		})
	}
	_, err := NewHMACNonces([][]byte{bytes.Repeat([]byte{1}, 32)}, WithNonceStep(0), WithNonceClock(nil), WithNonceClockSkew(-1))
	require.ErrorIs(t, err, ErrConfig)
}
