package dpop

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIssue14Item1ClockSteps: whatever the wall clock does after the
// verifier starts, a proof accepted once is refused while it could still
// pass the iat check.
func TestIssue14Item1ClockSteps(t *testing.T) {
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

// TestIssue14Item1CacheClockRange: a time the cache cannot represent makes
// Record fail closed; it never skips the record.
func TestIssue14Item1CacheClockRange(t *testing.T) {
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

// TestIssue14Item2Until: every cache is asked to keep a proof until
// iat + window + 2·skew + 1 ms, so that a fleet member whose clock lags by
// up to skew cannot accept it after the entry expires.
func TestIssue14Item2Until(t *testing.T) {
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

// edProof makes a proof signed with edKey whose header says alg and
// carries jwk (edKey's public JWK when nil), without golang-jwt, which
// knows only the name EdDSA.
func edProof(t *testing.T, alg string, jwk map[string]any) string {
	t.Helper()
	if jwk == nil {
		jwk = jwkMap(t, edKey.Public())
	}
	h := map[string]any{"typ": "dpop+jwt", "alg": alg, "jwk": jwk}
	c := map[string]any{"jti": rand.Text(), "htm": "GET", "htu": testHTU, "iat": testNow.Unix(), "ath": testATH}
	hj, err := json.Marshal(h)
	require.NoError(t, err)
	cj, err := json.Marshal(c)
	require.NoError(t, err)
	input := b64u(hj) + "." + b64u(cj)
	return input + "." + b64u(ed25519.Sign(edKey, []byte(input)))
}

// TestIssue14Item12Ed25519Proofs: proofs labelled with RFC 9864's
// fully-specified name Ed25519 are accepted beside EdDSA, by default.
func TestIssue14Item12Ed25519Proofs(t *testing.T) {
	testKeys(t)
	assert.Contains(t, DefaultAlgorithms, "EdDSA")
	assert.Contains(t, DefaultAlgorithms, "Ed25519")
	thumb, err := Thumbprint(edKey.Public())
	require.NoError(t, err)
	req := testRequest()
	req.JKT = thumb

	for _, alg := range []string{"EdDSA", "Ed25519"} {
		t.Run(alg+"/by hand", func(t *testing.T) {
			v := newTestVerifier(t, newFakeClock())
			p, err := v.Verify(context.Background(), edProof(t, alg, nil), req)
			require.NoError(t, err)
			assert.Equal(t, alg, p.Algorithm)
			assert.Equal(t, thumb, p.Thumbprint)
		})
		t.Run(alg+"/Signer", func(t *testing.T) {
			clock := newFakeClock()
			v := newTestVerifier(t, clock)
			s, err := NewSigner(edKey, WithSignerAlgorithm(alg), WithSignerClock(clock.Now))
			require.NoError(t, err)
			assert.Equal(t, alg, s.Algorithm())
			proof, err := s.Proof("GET", testHTU, testToken, "")
			require.NoError(t, err)
			p, err := v.Verify(context.Background(), proof, req)
			require.NoError(t, err)
			assert.Equal(t, alg, p.Algorithm)
		})
	}
	t.Run("Signer default stays EdDSA", func(t *testing.T) {
		s, err := NewSigner(edKey)
		require.NoError(t, err)
		assert.Equal(t, "EdDSA", s.Algorithm())
	})
	t.Run("Signer refuses names that do not fit the key", func(t *testing.T) {
		for _, tc := range []struct {
			key crypto.Signer
			alg string
		}{{edKey, "ES256"}, {edKey, "ed25519"}, {edKey, "Ed448"}, {ecKey, "Ed25519"}, {rsaKey, "Ed25519"}} {
			_, err := NewSigner(tc.key, WithSignerAlgorithm(tc.alg))
			require.ErrorIs(t, err, ErrConfig, "%s with %T", tc.alg, tc.key)
		}
	})
	t.Run("each name is allowed on its own", func(t *testing.T) {
		v := newTestVerifier(t, newFakeClock(), WithAlgorithms("EdDSA"))
		_, err := v.Verify(context.Background(), edProof(t, "Ed25519", nil), req)
		require.ErrorIs(t, err, ErrAlgorithm)
		v = newTestVerifier(t, newFakeClock(), WithAlgorithms("Ed25519"))
		_, err = v.Verify(context.Background(), edProof(t, "EdDSA", nil), req)
		require.ErrorIs(t, err, ErrAlgorithm)
		_, err = v.Verify(context.Background(), edProof(t, "Ed25519", nil), req)
		require.NoError(t, err)
	})
	t.Run("never with another curve", func(t *testing.T) {
		x := jwkMap(t, edKey.Public())["x"].(string)
		for name, jwk := range map[string]map[string]any{
			"Ed448 key":  {"kty": "OKP", "crv": "Ed448", "x": b64u(make([]byte, 57))},
			"X25519 key": {"kty": "OKP", "crv": "X25519", "x": x},
			"P-256 key":  jwkMap(t, ecKey.Public()),
			"RSA key":    jwkMap(t, rsaKey.Public()),
			"no crv":     {"kty": "OKP", "x": x},
		} {
			for _, alg := range []string{"Ed25519", "EdDSA"} {
				_, err := newTestVerifier(t, newFakeClock()).Verify(context.Background(), edProof(t, alg, jwk), testRequest())
				require.ErrorIs(t, err, ErrKey, "%s with %s", alg, name)
			}
		}
	})
}

// highS returns the other valid ES256 signature of a compact JWS: (r, n−s)
// for (r, s). Both verify; only the string differs.
func highS(t *testing.T, compact string) string {
	t.Helper()
	i := strings.LastIndexByte(compact, '.')
	sig, err := b64Strict.DecodeString(compact[i+1:])
	require.NoError(t, err)
	require.Len(t, sig, 64)
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(elliptic.P256().Params().N, s)
	twin := append([]byte(nil), sig...)
	s.FillBytes(twin[32:])
	return compact[:i+1] + b64u(twin)
}

// TestIssue14Item7HighSProof: an ES256 proof's twin with the other valid
// signature is the same proof to the replay cache, whose key is the proof
// key's thumbprint and the jti, never the proof's bytes.
func TestIssue14Item7HighSProof(t *testing.T) {
	testKeys(t)
	clock := newFakeClock()
	s, err := NewSigner(ecKey, WithSignerClock(clock.Now))
	require.NoError(t, err)
	req := testRequest()
	req.JKT = s.Thumbprint()
	for _, twinFirst := range []bool{false, true} {
		v := newTestVerifier(t, clock)
		proof, err := s.Proof("GET", testHTU, testToken, "")
		require.NoError(t, err)
		twin := highS(t, proof)
		require.NotEqual(t, proof, twin)
		first, second := proof, twin
		if twinFirst {
			first, second = twin, proof
		}
		p, err := v.Verify(context.Background(), first, req)
		require.NoError(t, err, "either signature verifies")
		_, err = v.Verify(context.Background(), second, req)
		require.ErrorIs(t, err, ErrReplayed, "twin first: %v", twinFirst)
		assert.Equal(t, NewReplayKey(s.Thumbprint(), p.ID), NewReplayKey(p.Thumbprint, p.ID))
	}
	t.Run("the twin verifies on its own", func(t *testing.T) {
		v := newTestVerifier(t, clock)
		proof, err := s.Proof("GET", testHTU, testToken, "")
		require.NoError(t, err)
		_, err = v.Verify(context.Background(), highS(t, proof), req)
		require.NoError(t, err)
	})
}

// TestIssue14Item14HTUEquality: htu must equal the request URL, not be a
// prefix of it (nor extend it).
func TestIssue14Item14HTUEquality(t *testing.T) {
	testKeys(t)
	require.Equal(t, "https://resource.example.org/protectedresource", testHTU)
	for _, htu := range []string{
		"https://resource.example.org",
		"https://resource.example.org/",
		"https://resource.example.org/protected",
		"https://resource.example.org/protectedresourc",
		"https://resource.example.org/protectedresource/",
		"https://resource.example.org/protectedresource/x",
		"https://resource.example.org/protectedresourcex",
		"https://resource.example.org.evil/protectedresource",
	} {
		v := newTestVerifier(t, newFakeClock())
		_, err := v.Verify(context.Background(), handProof(t, ecKey, "ES256", func(h, c map[string]any) { c["htu"] = htu }), testRequest())
		require.ErrorIs(t, err, ErrURL, htu)
	}
}

// flipUnusedBit returns s with the lowest bit of its last base64url
// character set: for a 32-byte value the last character has two unused
// low bits, so the decoded bytes are the same and only the spelling
// differs.
func flipUnusedBit(t *testing.T, s string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, s[len(s)-1])
	require.GreaterOrEqual(t, i, 0)
	require.Zero(t, i&1, "canonical input")
	return s[:len(s)-1] + string(alphabet[i|1])
}

// TestIssue14Item14CanonicalCoordinates: an EC JWK whose x or y has
// non-zero unused bits in its last character is refused, both by
// ThumbprintJWK and in a proof's jwk (each spelling would have its own
// thumbprint for the same key).
func TestIssue14Item14CanonicalCoordinates(t *testing.T) {
	testKeys(t)
	var base map[string]string
	require.NoError(t, json.Unmarshal([]byte(rfc9449JWK), &base))
	for _, member := range []string{"x", "y"} {
		jwk := map[string]string{}
		for k, v := range base {
			jwk[k] = v
		}
		jwk[member] = flipUnusedBit(t, jwk[member])
		b, err := json.Marshal(jwk)
		require.NoError(t, err)
		_, err = ThumbprintJWK(b)
		require.ErrorIs(t, err, ErrKey, member)
	}
	// P-384 and P-521 coordinates (48 and 66 bytes) fill their last
	// character: only P-256 has spare bits.
	for _, member := range []string{"x", "y"} {
		jwk := jwkMap(t, ecKey.Public())
		jwk[member] = flipUnusedBit(t, jwk[member].(string))
		v := newTestVerifier(t, newFakeClock())
		_, err := v.Verify(context.Background(), handProof(t, ecKey, "ES256", func(h, c map[string]any) { h["jwk"] = jwk }), testRequest())
		require.ErrorIs(t, err, ErrKey, member)
	}
}
