package dpop

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVerifyAccepts(t *testing.T) {
	testKeys(t)
	for _, tc := range []struct {
		alg  string
		key  crypto.Signer
		opts []Option
	}{
		{"ES256", ecKey, nil},
		{"ES384", ec384Key, nil},
		{"ES512", ec521K, []Option{WithAlgorithms("ES512")}},
		{"PS256", rsaKey, nil},
		{"RS256", rsaKey, nil},
		{"EdDSA", edKey, nil},
	} {
		t.Run(tc.alg+"/golang-jwt", func(t *testing.T) {
			v := newTestVerifier(t, newFakeClock(), tc.opts...)
			proof := handProof(t, tc.key, tc.alg, nil)
			req := testRequest()
			want, err := Thumbprint(tc.key.Public())
			require.NoError(t, err)
			req.JKT = want
			p, err := v.Verify(context.Background(), proof, req)
			require.NoError(t, err)
			assert.Equal(t, want, p.Thumbprint)
			assert.Equal(t, tc.alg, p.Algorithm)
			assert.Equal(t, testNow, p.IssuedAt)
			assert.NotEmpty(t, p.ID)
			assert.Empty(t, p.NextNonce)
			// The key cache gives the same answer the second time.
			_, err = v.Verify(context.Background(), handProof(t, tc.key, tc.alg, nil), req)
			require.NoError(t, err)
		})
		t.Run(tc.alg+"/Signer", func(t *testing.T) {
			clock := newFakeClock()
			v := newTestVerifier(t, clock, tc.opts...)
			s, err := NewSigner(tc.key, WithSignerAlgorithm(tc.alg), WithSignerClock(clock.Now))
			require.NoError(t, err)
			proof, err := s.Proof("GET", testHTU+"?q=1#frag", testToken, "")
			require.NoError(t, err)
			req := testRequest()
			req.JKT = s.Thumbprint()
			p, err := v.Verify(context.Background(), proof, req)
			require.NoError(t, err)
			assert.Equal(t, s.Thumbprint(), p.Thumbprint)
		})
	}
}

// TestVerifyRejects has one failing case per check of RFC 9449 §4.3 (and
// §7.1, §11.1); each fails if its check is removed.
func TestVerifyRejects(t *testing.T) {
	testKeys(t)
	hand := func(mod func(h, c map[string]any)) func(t *testing.T) string {
		return func(t *testing.T) string { return handProof(t, ecKey, "ES256", mod) }
	}
	raw := func(header, claims string) func(t *testing.T) string {
		return func(t *testing.T) string { return signRaw(t, ecKey, "ES256", header, claims) }
	}
	jwkJSON := func(t *testing.T) string {
		return `{"kty":"EC","crv":"P-256","x":"` + jwkMap(t, ecKey.Public())["x"].(string) +
			`","y":"` + jwkMap(t, ecKey.Public())["y"].(string) + `"}`
	}
	validClaims := `{"jti":"a","htm":"GET","htu":"` + testHTU + `","iat":1700000000,"ath":"` + testATH + `"}`
	badNonces, err := NewHMACNonces([][]byte{[]byte(strings.Repeat("s", 32))}, WithNonceClock(func() time.Time { return testNow }))
	require.NoError(t, err)
	otherNonces, err := NewHMACNonces([][]byte{[]byte(strings.Repeat("o", 32))}, WithNonceClock(func() time.Time { return testNow }))
	require.NoError(t, err)
	foreignNonce, err := otherNonces.Nonce()
	require.NoError(t, err)
	oldNonces, err := NewHMACNonces([][]byte{[]byte(strings.Repeat("s", 32))}, WithNonceClock(func() time.Time { return testNow.Add(-3 * time.Minute) }))
	require.NoError(t, err)
	expiredNonce, err := oldNonces.Nonce()
	require.NoError(t, err)

	tests := []struct {
		name  string
		proof func(t *testing.T) string
		req   func(r *Request)
		opts  []Option
		want  error
	}{
		{name: "too large", proof: func(t *testing.T) string { return strings.Repeat("a", 9000) }, want: ErrTooLarge},
		// (1)/(2)
		{name: "two proofs comma-joined", proof: func(t *testing.T) string {
			p := handProof(t, ecKey, "ES256", nil)
			return p + ", " + p
		}, want: ErrMalformed},
		{name: "two parts", proof: func(t *testing.T) string { return "eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiJhIn0" }, want: ErrMalformed},
		{name: "four parts", proof: func(t *testing.T) string { return handProof(t, ecKey, "ES256", nil) + ".x" }, want: ErrMalformed},
		{name: "padding", proof: func(t *testing.T) string { return handProof(t, ecKey, "ES256", nil) + "=" }, want: ErrMalformed},
		{name: "newline", proof: func(t *testing.T) string { return "\n" + handProof(t, ecKey, "ES256", nil) }, want: ErrMalformed},
		// (3)
		{name: "header not an object", proof: func(t *testing.T) string { return signRaw(t, ecKey, "ES256", `[1]`, validClaims) }, want: ErrMalformed},
		{name: "claims not JSON", proof: func(t *testing.T) string {
			return signRaw(t, ecKey, "ES256", `{"typ":"dpop+jwt","alg":"ES256","jwk":`+jwkJSON(t)+`}`, `{"jti":`)
		}, want: ErrMalformed},
		{name: "no jwk", proof: hand(func(h, c map[string]any) { h["jwk"] = nil }), want: ErrMalformed},
		{name: "jwk is a string", proof: hand(func(h, c map[string]any) { h["jwk"] = "key" }), want: ErrMalformed},
		{name: "typ is a number", proof: hand(func(h, c map[string]any) { h["typ"] = 42 }), want: ErrMalformed},
		{name: "no typ", proof: hand(func(h, c map[string]any) { h["typ"] = nil }), want: ErrMalformed},
		{name: "crit", proof: hand(func(h, c map[string]any) { h["crit"] = []string{"x"} }), want: ErrMalformed},
		{name: "duplicate typ", proof: func(t *testing.T) string {
			return raw(`{"typ":"dpop+jwt","typ":"dpop+jwt","alg":"ES256","jwk":`+jwkJSON(t)+`}`, validClaims)(t)
		}, want: ErrMalformed},
		{name: "escaped duplicate typ", proof: func(t *testing.T) string {
			return raw(`{"typ":"dpop+jwt","\u0074yp":"jwt","alg":"ES256","jwk":`+jwkJSON(t)+`}`, validClaims)(t)
		}, want: ErrMalformed},
		{name: "no jti", proof: hand(func(h, c map[string]any) { c["jti"] = nil }), want: ErrMalformed},
		{name: "empty jti", proof: hand(func(h, c map[string]any) { c["jti"] = "" }), want: ErrMalformed},
		{name: "jti a number", proof: hand(func(h, c map[string]any) { c["jti"] = 7 }), want: ErrMalformed},
		{name: "no htm", proof: hand(func(h, c map[string]any) { c["htm"] = nil }), want: ErrMalformed},
		{name: "htu an array", proof: hand(func(h, c map[string]any) { c["htu"] = []string{testHTU} }), want: ErrMalformed},
		{name: "iat a string", proof: hand(func(h, c map[string]any) { c["iat"] = "1700000000" }), want: ErrMalformed},
		{name: "no iat", proof: hand(func(h, c map[string]any) { c["iat"] = nil }), want: ErrMalformed},
		{name: "no ath with token", proof: hand(func(h, c map[string]any) { c["ath"] = nil }), want: ErrMalformed},
		{name: "ath a number", proof: hand(func(h, c map[string]any) { c["ath"] = 1 }), want: ErrMalformed},
		{name: "duplicate jti", proof: func(t *testing.T) string {
			return raw(`{"typ":"dpop+jwt","alg":"ES256","jwk":`+jwkJSON(t)+`}`,
				`{"jti":"a","jti":"b","htm":"GET","htu":"`+testHTU+`","iat":1700000000,"ath":"`+testATH+`"}`)(t)
		}, want: ErrMalformed},
		// (4)
		{name: "typ JWT", proof: hand(func(h, c map[string]any) { h["typ"] = "JWT" }), want: ErrType},
		// (5)
		{name: "alg none", proof: hand(func(h, c map[string]any) { h["alg"] = "none" }), want: ErrAlgorithm},
		{name: "alg HS256", proof: func(t *testing.T) string {
			return signRaw(t, ecKey, "HS256", `{"typ":"dpop+jwt","alg":"HS256","jwk":`+jwkJSON(t)+`}`, validClaims)
		}, want: ErrAlgorithm},
		{name: "alg not allowed", proof: hand(nil), opts: []Option{WithAlgorithms("EdDSA")}, want: ErrAlgorithm},
		// (7)
		{name: "jwk with d", proof: hand(func(h, c map[string]any) {
			h["jwk"].(map[string]any)["d"] = b64u(must(ecKey.Bytes()))
		}), want: ErrPrivateKey},
		{name: "jwk with k", proof: hand(func(h, c map[string]any) { h["jwk"].(map[string]any)["k"] = "AAAA" }), want: ErrPrivateKey},
		// (6)
		{name: "signature by another key", proof: func(t *testing.T) string {
			return handProof(t, ecKey, "ES256", func(h, c map[string]any) { h["jwk"] = jwkMap(t, ecKey2.Public()) })
		}, want: ErrSignature},
		{name: "signature altered", proof: func(t *testing.T) string {
			p := handProof(t, ecKey, "ES256", nil)
			i := strings.LastIndexByte(p, '.') + 5
			b := []byte(p)
			// Always a different base64url character, so the proof changes.
			if b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			return string(b)
		}, want: ErrSignature},
		{name: "claims altered", proof: func(t *testing.T) string {
			p := handProof(t, ecKey, "ES256", nil)
			q := handProof(t, ecKey, "ES256", func(h, c map[string]any) { c["htm"] = "GET" })
			parts, qparts := strings.Split(p, "."), strings.Split(q, ".")
			return parts[0] + "." + qparts[1] + "." + parts[2]
		}, want: ErrSignature},
		{name: "RSA jwk with ES256", proof: func(t *testing.T) string {
			return handProof(t, ecKey, "ES256", func(h, c map[string]any) { h["jwk"] = jwkMap(t, rsaKey.Public()) })
		}, want: ErrKey},
		{name: "P-384 jwk with ES256", proof: func(t *testing.T) string {
			return handProof(t, ecKey, "ES256", func(h, c map[string]any) { h["jwk"] = jwkMap(t, ec384Key.Public()) })
		}, want: ErrKey},
		{name: "RSA 1024", proof: func(t *testing.T) string { return handProof(t, rsa1024Key, "RS256", nil) }, want: ErrKey},
		{name: "point not on curve", proof: hand(func(h, c map[string]any) {
			h["jwk"].(map[string]any)["y"] = h["jwk"].(map[string]any)["x"]
		}), want: ErrKey},
		{name: "kty oct", proof: hand(func(h, c map[string]any) { h["jwk"] = map[string]any{"kty": "oct"} }), want: ErrKey},
		// (8)
		{name: "htm POST", proof: hand(func(h, c map[string]any) { c["htm"] = "POST" }), want: ErrMethod},
		{name: "htm lower case", proof: hand(func(h, c map[string]any) { c["htm"] = "get" }), want: ErrMethod},
		// (9)
		{name: "htu other path", proof: hand(func(h, c map[string]any) { c["htu"] = "https://resource.example.org/other" }), want: ErrURL},
		{name: "htu other port", proof: hand(func(h, c map[string]any) { c["htu"] = "https://resource.example.org:8443/protectedresource" }), want: ErrURL},
		{name: "htu other scheme", proof: hand(func(h, c map[string]any) { c["htu"] = "http://resource.example.org/protectedresource" }), want: ErrURL},
		{name: "htu with userinfo", proof: hand(func(h, c map[string]any) { c["htu"] = "https://u@resource.example.org/protectedresource" }), want: ErrURL},
		{name: "htu relative", proof: hand(func(h, c map[string]any) { c["htu"] = "/protectedresource" }), want: ErrURL},
		{name: "no request URL", proof: hand(nil), req: func(r *Request) { r.URL = nil }, want: ErrURL},
		// (10)
		{name: "nonce missing", proof: hand(nil), opts: []Option{WithNonces(badNonces)}, want: ErrNonce},
		{name: "nonce a number", proof: hand(func(h, c map[string]any) { c["nonce"] = 5 }), opts: []Option{WithNonces(badNonces)}, want: ErrMalformed},
		{name: "nonce garbage", proof: hand(func(h, c map[string]any) { c["nonce"] = "garbage" }), opts: []Option{WithNonces(badNonces)}, want: ErrNonce},
		{name: "nonce of another server", proof: hand(func(h, c map[string]any) { c["nonce"] = foreignNonce }), opts: []Option{WithNonces(badNonces)}, want: ErrNonce},
		{name: "nonce expired", proof: hand(func(h, c map[string]any) { c["nonce"] = expiredNonce }), opts: []Option{WithNonces(badNonces)}, want: ErrNonce},
		// (11)
		{name: "iat too old", proof: hand(func(h, c map[string]any) { c["iat"] = testNow.Add(-66 * time.Second).Unix() }), want: ErrIssuedAt},
		{name: "iat in the future", proof: hand(func(h, c map[string]any) { c["iat"] = testNow.Add(6 * time.Second).Unix() }), want: ErrIssuedAt},
		{name: "iat negative", proof: hand(func(h, c map[string]any) { c["iat"] = -1 }), want: ErrIssuedAt},
		{name: "iat huge", proof: hand(func(h, c map[string]any) { c["iat"] = 1e300 }), want: ErrIssuedAt},
		// (12)
		{name: "ath of another token", proof: hand(func(h, c map[string]any) { c["ath"] = testATH[1:] + "A" }), want: ErrAccessTokenHash},
		{name: "ath but other token presented", proof: hand(nil), req: func(r *Request) { r.AccessToken = "other" }, want: ErrAccessTokenHash},
		{name: "key is not the token's", proof: hand(nil), req: func(r *Request) {
			r.JKT, _ = Thumbprint(ecKey2.Public())
		}, want: ErrKeyMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newTestVerifier(t, newFakeClock(), tc.opts...)
			req := testRequest()
			req.JKT, _ = Thumbprint(ecKey.Public())
			if tc.req != nil {
				tc.req(&req)
			}
			p, err := v.Verify(context.Background(), tc.proof(t), req)
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, p)
			// A rejected proof is never recorded (fails closed and cheap).
		})
	}
}

func TestVerifyIATWindowEdges(t *testing.T) {
	testKeys(t)
	for _, tc := range []struct {
		name string
		iat  time.Duration // relative to now
		want error
	}{
		{"oldest accepted: window+skew", -65 * time.Second, nil},
		{"one second older", -66 * time.Second, ErrIssuedAt},
		{"newest accepted: skew ahead", 5 * time.Second, nil},
		{"one second further ahead", 6 * time.Second, ErrIssuedAt},
		{"fractional iat inside", -1500 * time.Millisecond, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newTestVerifier(t, newFakeClock(), WithIATWindow(60*time.Second), WithClockSkew(5*time.Second))
			proof := handProof(t, ecKey, "ES256", func(h, c map[string]any) {
				c["iat"] = float64(testNow.Add(tc.iat).UnixMilli()) / 1000
			})
			_, err := v.Verify(context.Background(), proof, testRequest())
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
		})
	}
}

func TestVerifyReplay(t *testing.T) {
	testKeys(t)
	clock := newFakeClock()
	v := newTestVerifier(t, clock)
	proof := handProof(t, ecKey, "ES256", nil)
	_, err := v.Verify(context.Background(), proof, testRequest())
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), proof, testRequest())
	require.ErrorIs(t, err, ErrReplayed)

	// Until the very end of the acceptance window it stays a replay ...
	clock.Add(65 * time.Second)
	_, err = v.Verify(context.Background(), proof, testRequest())
	require.ErrorIs(t, err, ErrReplayed)
	// ... and after it the proof is too old, so it still fails.
	clock.Add(time.Second)
	_, err = v.Verify(context.Background(), proof, testRequest())
	require.ErrorIs(t, err, ErrIssuedAt)

	// The same jti from another key is a different proof.
	clock2 := newFakeClock()
	v2 := newTestVerifier(t, clock2)
	p1 := handProof(t, ecKey, "ES256", func(h, c map[string]any) { c["jti"] = "same" })
	p2 := handProof(t, ecKey2, "ES256", func(h, c map[string]any) { c["jti"] = "same" })
	_, err = v2.Verify(context.Background(), p1, testRequest())
	require.NoError(t, err)
	_, err = v2.Verify(context.Background(), p2, testRequest())
	require.NoError(t, err)
}

func TestVerifyReplayConcurrent(t *testing.T) {
	testKeys(t)
	v := newTestVerifier(t, newFakeClock())
	proof := handProof(t, ecKey, "ES256", nil)
	var ok, replayed atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 100 {
		wg.Go(func() {
			<-start
			_, err := v.Verify(context.Background(), proof, testRequest())
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrReplayed):
				replayed.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, int32(1), ok.Load())
	assert.Equal(t, int32(99), replayed.Load())
}

type failingCache struct{ calls atomic.Int32 }

func (f *failingCache) Record(context.Context, ReplayKey, time.Time) (bool, error) {
	f.calls.Add(1)
	return false, errors.New("connection refused")
}

type recordingCache struct {
	until time.Time
	calls int
}

func (r *recordingCache) Record(_ context.Context, _ ReplayKey, until time.Time) (bool, error) {
	r.until = until
	r.calls++
	return false, nil
}

func TestVerifyReplayCache(t *testing.T) {
	testKeys(t)
	t.Run("unavailable fails closed", func(t *testing.T) {
		fc := &failingCache{}
		v := newTestVerifier(t, newFakeClock(), WithReplayCache(fc))
		_, err := v.Verify(context.Background(), handProof(t, ecKey, "ES256", nil), testRequest())
		require.ErrorIs(t, err, ErrReplayCacheUnavailable)
		assert.Equal(t, int32(1), fc.calls.Load())
	})
	t.Run("full fails closed", func(t *testing.T) {
		clock := newFakeClock()
		mc, err := NewMemoryReplayCache(WithCapacity(1), WithCacheClock(clock.Now))
		require.NoError(t, err)
		v := newTestVerifier(t, clock, WithReplayCache(mc))
		var full error
		for range 1000 {
			if _, err := v.Verify(context.Background(), handProof(t, ecKey, "ES256", nil), testRequest()); err != nil {
				full = err
				break
			}
		}
		require.ErrorIs(t, full, ErrReplayCacheUnavailable)
		require.ErrorIs(t, full, ErrReplayCacheFull)
	})
	t.Run("expiry is iat+window+2·skew, recorded only after all checks", func(t *testing.T) {
		rc := &recordingCache{}
		v := newTestVerifier(t, newFakeClock(), WithReplayCache(rc))
		iat := testNow.Add(-10 * time.Second)
		_, err := v.Verify(context.Background(), handProof(t, ecKey, "ES256", func(h, c map[string]any) { c["iat"] = iat.Unix() }), testRequest())
		require.NoError(t, err)
		assert.Equal(t, iat.Add(70*time.Second+time.Millisecond), rc.until)
		req := testRequest()
		req.JKT = "wrong"
		_, err = v.Verify(context.Background(), handProof(t, ecKey, "ES256", nil), req)
		require.ErrorIs(t, err, ErrKeyMismatch)
		assert.Equal(t, 1, rc.calls)
	})
}

func TestVerifyNonces(t *testing.T) {
	testKeys(t)
	clock := newFakeClock()
	nonces, err := NewHMACNonces([][]byte{[]byte(strings.Repeat("k", 32))}, WithNonceClock(clock.Now))
	require.NoError(t, err)
	v := newTestVerifier(t, clock, WithNonces(nonces))
	n, err := v.Nonce()
	require.NoError(t, err)
	s, err := NewSigner(ecKey, WithSignerClock(clock.Now))
	require.NoError(t, err)

	proof, err := s.Proof("GET", testHTU, testToken, n)
	require.NoError(t, err)
	p, err := v.Verify(context.Background(), proof, testRequest())
	require.NoError(t, err)
	assert.Equal(t, n, p.Nonce)
	assert.Empty(t, p.NextNonce)

	// In the next step the nonce still works, and a fresh one is handed out.
	clock.Add(time.Minute)
	proof, err = s.Proof("GET", testHTU, testToken, n)
	require.NoError(t, err)
	p, err = v.Verify(context.Background(), proof, testRequest())
	require.NoError(t, err)
	assert.NotEmpty(t, p.NextNonce)
	assert.NotEqual(t, n, p.NextNonce)

	// Two steps on it has expired.
	clock.Add(time.Minute)
	proof, err = s.Proof("GET", testHTU, testToken, n)
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), proof, testRequest())
	require.ErrorIs(t, err, ErrNonce)

	// Without a nonce source, Nonce fails.
	plain := newTestVerifier(t, clock)
	_, err = plain.Nonce()
	require.ErrorIs(t, err, ErrNoNonces)
}

func TestVerifyHTU(t *testing.T) {
	testKeys(t)
	for _, tc := range []struct {
		name, htu, reqURL string
		want              error
	}{
		{"query in the request", "https://api.example.com/r", "https://api.example.com/r?x=1&y=2", nil},
		{"query and fragment in the proof", "https://api.example.com/r?x=1#f", "https://api.example.com/r", nil},
		{"upper-case host and scheme in the proof", "HTTPS://API.Example.COM/r", "https://api.example.com/r", nil},
		{"default port in the proof", "https://api.example.com:443/r", "https://api.example.com/r", nil},
		{"default port in the request", "http://api.example.com/r", "http://api.example.com:80/r", nil},
		{"%7e vs ~", "https://api.example.com/~user", "https://api.example.com/%7euser", nil},
		{"%2f case", "https://api.example.com/a%2fb", "https://api.example.com/a%2Fb", nil},
		{"%2f is not /", "https://api.example.com/a%2Fb", "https://api.example.com/a/b", ErrURL},
		{"empty path", "https://api.example.com", "https://api.example.com/", nil},
		{"dot segments", "https://api.example.com/a/./b/../c", "https://api.example.com/a/c", nil},
		{"path case matters", "https://api.example.com/R", "https://api.example.com/r", ErrURL},
		{"different port", "https://api.example.com:8443/r", "https://api.example.com/r", ErrURL},
		{"userinfo", "https://user:pw@api.example.com/r", "https://api.example.com/r", ErrURL},
		{"other host", "https://api.example.net/r", "https://api.example.com/r", ErrURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newTestVerifier(t, newFakeClock())
			u, err := url.Parse(tc.reqURL)
			require.NoError(t, err)
			proof := handProof(t, ecKey, "ES256", func(h, c map[string]any) { c["htu"] = tc.htu })
			_, err = v.Verify(context.Background(), proof, Request{Method: "GET", URL: u, AccessToken: testToken})
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
			assert.Equal(t, tc.reqURL, u.String(), "the request URL is not modified")
		})
	}
}

func TestNewVerifierOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"empty algorithms", []Option{WithAlgorithms()}},
		{"none", []Option{WithAlgorithms("ES256", "none")}},
		{"HS256", []Option{WithAlgorithms("HS256")}},
		{"unknown", []Option{WithAlgorithms("ES257")}},
		{"nil cache", []Option{WithReplayCache(nil)}},
		{"nil nonces", []Option{WithNonces(nil)}},
		{"zero window", []Option{WithIATWindow(0)}},
		{"negative skew", []Option{WithClockSkew(-time.Second)}},
		{"tiny max size", []Option{WithMaxProofSize(1)}},
		{"nil clock", []Option{WithClock(nil)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewVerifier(tc.opts...)
			require.ErrorIs(t, err, ErrConfig)
		})
	}
	_, err := NewVerifier(WithAlgorithms(), WithClock(nil))
	require.ErrorIs(t, err, ErrConfig)
	assert.Equal(t, 2, len(strings.Split(err.Error(), "\n")), "all problems reported at once")

	v, err := NewVerifier()
	require.NoError(t, err)
	assert.Equal(t, DefaultAlgorithms, v.Algorithms())
	v.Algorithms()[0] = "none"
	assert.Equal(t, "ES256", v.Algorithms()[0], "Algorithms returns a copy")
}

func TestVerifyErrorTextsHideSecrets(t *testing.T) {
	testKeys(t)
	v := newTestVerifier(t, newFakeClock())
	jti := "secret-" + rand.Text()
	for _, mod := range []func(h, c map[string]any){
		func(h, c map[string]any) { c["htm"] = "POST" },
		func(h, c map[string]any) { c["ath"] = "x" },
		func(h, c map[string]any) { c["htu"] = "https://evil.example/" + jti },
	} {
		proof := handProof(t, ecKey, "ES256", func(h, c map[string]any) { c["jti"] = jti; mod(h, c) })
		_, err := v.Verify(context.Background(), proof, testRequest())
		require.Error(t, err)
		assert.NotContains(t, err.Error(), jti)
		assert.NotContains(t, err.Error(), testToken)
		assert.NotContains(t, err.Error(), proof[:20])
	}
}
