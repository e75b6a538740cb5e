package jwks_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/internal/jose"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/oauthtest"
)

func TestKeyVerifiesCurrentAndNext(t *testing.T) {
	for _, alg := range []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			iss := newIssuer(t, oauthtest.WithAlgorithm(alg))
			k := newKeys(t, newClock(), jwks.WithIssuer(iss.Issuer()))
			assert.Equal(t, []string{iss.Issuer()}, k.Issuers())
			for _, kid := range iss.KeyIDs() {
				tok, err := iss.Mint(oauthtest.Token{KeyID: kid})
				require.NoError(t, err)
				jws, err := jose.Split(tok)
				require.NoError(t, err)
				key, err := k.Key(t.Context(), iss.Issuer(), kid, alg)
				require.NoError(t, err)
				require.NoError(t, jose.Verify(alg, jws.SigningInput, jws.Signature, key))
			}
			assert.Equal(t, 1, iss.JWKSFetches())
			assert.Equal(t, 1, iss.DiscoveryFetches())
		})
	}
}

func TestUnknownKidPicksUpRotation(t *testing.T) {
	iss := newIssuer(t)
	k := newKeys(t, newClock(), jwks.WithIssuerJWKS(iss.Issuer(), iss.JWKSURL()))
	iss.Rotate() // publishes a new next key the Keys have not seen
	newNext := iss.KeyIDs()[2]
	before := iss.JWKSFetches()

	key, err := k.Key(t.Context(), iss.Issuer(), newNext, "RS256")
	require.NoError(t, err)
	assert.True(t, iss.PublicKey(newNext).(*rsa.PublicKey).Equal(key))
	assert.Equal(t, before+1, iss.JWKSFetches(), "exactly one refresh")
	assert.Equal(t, 0, iss.DiscoveryFetches(), "no discovery with a configured JWKS URL")
}

func TestRevokedKeyRejectedAfterRefresh(t *testing.T) {
	t.Run("unknown-kid refresh", func(t *testing.T) {
		iss := newIssuer(t)
		k := newKeys(t, newClock(), jwks.WithIssuer(iss.Issuer()))
		prev := iss.CurrentKeyID()
		iss.Rotate()
		iss.Revoke(prev)
		_, err := k.Key(t.Context(), iss.Issuer(), prev, "RS256")
		require.NoError(t, err, "still valid until a refresh")
		// A token with the new next key makes the Keys refresh.
		_, err = k.Key(t.Context(), iss.Issuer(), iss.KeyIDs()[1], "RS256")
		require.NoError(t, err)
		_, err = k.Key(t.Context(), iss.Issuer(), prev, "RS256")
		require.ErrorIs(t, err, jwks.ErrKeyNotFound)
	})
	t.Run("periodic refresh", func(t *testing.T) {
		iss := newIssuer(t)
		k := newKeys(t, newClock(), jwks.WithIssuer(iss.Issuer()), jwks.WithRefreshInterval(10*time.Millisecond))
		prev := iss.CurrentKeyID()
		iss.Rotate()
		iss.Revoke(prev)
		require.Eventually(t, func() bool {
			_, err := k.Key(t.Context(), iss.Issuer(), prev, "RS256")
			return errors.Is(err, jwks.ErrKeyNotFound)
		}, 5*time.Second, 5*time.Millisecond)
	})
}

func TestDownAtStartRecovers(t *testing.T) {
	tests := []struct {
		name  string
		fault oauthtest.Fault
		opt   func(iss *oauthtest.Issuer) jwks.Option
	}{
		{"discovery and JWKS down", oauthtest.Fault{Down: true}, func(i *oauthtest.Issuer) jwks.Option { return jwks.WithIssuer(i.Issuer()) }},
		{"JWKS 500", oauthtest.Fault{Status: http.StatusInternalServerError}, func(i *oauthtest.Issuer) jwks.Option {
			return jwks.WithIssuerJWKS(i.Issuer(), i.JWKSURL())
		}},
		{"JWKS garbage", oauthtest.Fault{Garbage: true}, func(i *oauthtest.Issuer) jwks.Option {
			return jwks.WithIssuerJWKS(i.Issuer(), i.JWKSURL())
		}},
		{"discovery oversized", oauthtest.Fault{Oversized: 2 << 20}, func(i *oauthtest.Issuer) jwks.Option { return jwks.WithIssuer(i.Issuer()) }},
		{"JWKS oversized", oauthtest.Fault{Oversized: 2 << 20}, func(i *oauthtest.Issuer) jwks.Option {
			return jwks.WithIssuerJWKS(i.Issuer(), i.JWKSURL())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := newIssuer(t)
			iss.SetFault(tt.fault)
			clk := newClock()
			k := newKeys(t, clk, tt.opt(iss))
			kid := iss.CurrentKeyID()

			_, err := k.Key(t.Context(), iss.Issuer(), kid, "RS256")
			require.ErrorIs(t, err, jwks.ErrUnavailable)
			fetches := iss.JWKSFetches() + iss.DiscoveryFetches()

			iss.SetFault(oauthtest.Fault{})
			_, err = k.Key(t.Context(), iss.Issuer(), kid, "RS256")
			require.ErrorIs(t, err, jwks.ErrUnavailable, "retries are rate limited")
			assert.Equal(t, fetches, iss.JWKSFetches()+iss.DiscoveryFetches())

			jwks.NewRefreshWindow(k, iss.Issuer())
			_, err = k.Key(t.Context(), iss.Issuer(), kid, "RS256")
			require.NoError(t, err, "recovers without restart")
		})
	}
	t.Run("background retry", func(t *testing.T) {
		iss := newIssuer(t)
		iss.SetFault(oauthtest.Fault{Down: true})
		k := newKeys(t, newClock(), jwks.WithIssuer(iss.Issuer()), jwks.WithRefreshRateLimit(10*time.Millisecond))
		iss.SetFault(oauthtest.Fault{})
		// The background retry loads the keys: no request has to. (Waiting
		// for the issuer to count a JWKS fetch is not enough: the keys are
		// stored only after the answer has been read.)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		require.NoError(t, k.Ready(ctx))
		assert.Positive(t, iss.JWKSFetches())
		_, err := k.Key(t.Context(), iss.Issuer(), iss.CurrentKeyID(), "RS256")
		require.NoError(t, err)
	})
}

func TestDiscoveryErrorIsReported(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, `{"issuer":"https://other.example/","jwks_uri":"http://%s/jwks"}`, r.Host)
	}))
	t.Cleanup(srv.Close)
	k := newKeys(t, newClock(), jwks.WithIssuer(srv.URL+"/"))
	_, err := k.Key(t.Context(), srv.URL+"/", "kid", "RS256")
	require.ErrorIs(t, err, jwks.ErrUnavailable)
	require.ErrorIs(t, err, jwks.ErrDiscovery)
}

func TestSlowIssuerBoundedByTimeout(t *testing.T) {
	iss := newIssuer(t)
	iss.SetFault(oauthtest.Fault{Delay: time.Hour})
	start := time.Now()
	clk := newClock()
	k := newKeys(t, clk, jwks.WithIssuer(iss.Issuer()), jwks.WithHTTPTimeout(100*time.Millisecond))
	assert.Less(t, time.Since(start), 2*time.Second, "New bounded by the timeout")

	start = time.Now()
	_, err := k.Key(t.Context(), iss.Issuer(), iss.CurrentKeyID(), "RS256")
	require.ErrorIs(t, err, jwks.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second, "Key bounded by the timeout")

	// Loaded keys stay when the issuer turns slow.
	iss.SetFault(oauthtest.Fault{})
	jwks.NewRefreshWindow(k, iss.Issuer())
	_, err = k.Key(t.Context(), iss.Issuer(), iss.CurrentKeyID(), "RS256")
	require.NoError(t, err)
	iss.SetFault(oauthtest.Fault{Delay: time.Hour})
	jwks.NewRefreshWindow(k, iss.Issuer())
	start = time.Now()
	_, err = k.Key(t.Context(), iss.Issuer(), "unknown", "RS256")
	require.ErrorIs(t, err, jwks.ErrKeyNotFound)
	assert.Less(t, time.Since(start), 2*time.Second)
	_, err = k.Key(t.Context(), iss.Issuer(), iss.CurrentKeyID(), "RS256")
	require.NoError(t, err)
}

func TestFailedRefreshKeepsLastGoodKeys(t *testing.T) {
	tests := []struct {
		name  string
		fault oauthtest.Fault
	}{
		{"down", oauthtest.Fault{Down: true}},
		{"500", oauthtest.Fault{Status: http.StatusInternalServerError}},
		{"garbage", oauthtest.Fault{Garbage: true}},
		{"oversized", oauthtest.Fault{Oversized: 2 << 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := newIssuer(t)
			clk := newClock()
			k := newKeys(t, clk, jwks.WithIssuer(iss.Issuer()))
			old := iss.CurrentKeyID()
			iss.Rotate()
			iss.Revoke(old) // a successful refresh would drop it
			iss.SetFault(tt.fault)
			before := iss.JWKSFetches()
			_, err := k.Key(t.Context(), iss.Issuer(), iss.KeyIDs()[1], "RS256")
			require.ErrorIs(t, err, jwks.ErrKeyNotFound)
			require.Equal(t, before+1, iss.JWKSFetches(), "the refresh was tried")
			_, err = k.Key(t.Context(), iss.Issuer(), old, "RS256")
			require.NoError(t, err, "last good keys kept")

			iss.SetFault(oauthtest.Fault{})
			jwks.NewRefreshWindow(k, iss.Issuer())
			_, err = k.Key(t.Context(), iss.Issuer(), iss.KeyIDs()[1], "RS256")
			require.NoError(t, err)
		})
	}
}

func TestRefusedKeySets(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	good := jwksJSON(t, jwkSpec{kid: "a", alg: "RS256", use: "sig", pub: rsaKey.Public()})
	three := jwksJSON(t,
		jwkSpec{kid: "a", alg: "RS256", use: "sig", pub: rsaKey.Public()},
		jwkSpec{kid: "b", alg: "RS256", use: "sig", pub: rsaKey.Public()},
		jwkSpec{kid: "c", alg: "RS256", use: "sig", pub: rsaKey.Public()})
	tests := []struct {
		name string
		body []byte
	}{
		{"empty set", []byte(`{"keys":[]}`)},
		{"null", []byte(`null`)},
		{"only encryption keys", jwksJSON(t, jwkSpec{kid: "e", use: "enc", pub: rsaKey.Public()})},
		{"more than max keys", three},
		{"not a JWKS", []byte(`["keys"]`)},
		{"bad key", []byte(`{"keys":[{"kty":"RSA","kid":"x","n":"!!","e":"AQAB"}]}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name+" at start", func(t *testing.T) {
			srv := newJWKSServer(t, tt.body)
			k := newKeys(t, newClock(), jwks.WithIssuerJWKS("https://issuer.example/", srv.URL()), jwks.WithMaxKeys(2))
			_, err := k.Key(t.Context(), "https://issuer.example/", "a", "RS256")
			require.ErrorIs(t, err, jwks.ErrUnavailable)
		})
		t.Run(tt.name+" on refresh", func(t *testing.T) {
			srv := newJWKSServer(t, good)
			k := newKeys(t, newClock(), jwks.WithIssuerJWKS("https://issuer.example/", srv.URL()), jwks.WithMaxKeys(2))
			srv.set(tt.body)
			_, err := k.Key(t.Context(), "https://issuer.example/", "unknown", "RS256")
			require.ErrorIs(t, err, jwks.ErrKeyNotFound)
			require.EqualValues(t, 2, srv.fetches.Load())
			_, err = k.Key(t.Context(), "https://issuer.example/", "a", "RS256")
			require.NoError(t, err)
		})
	}
}

func TestFloodOfRandomKids(t *testing.T) {
	iss := newIssuer(t)
	clk := newClock()
	const wait = 50 * time.Millisecond
	k := newKeys(t, clk, jwks.WithIssuer(iss.Issuer()), jwks.WithRefreshRateLimit(time.Minute), jwks.WithRateLimitWait(wait))
	for window := range 3 {
		before := iss.JWKSFetches()
		var wg sync.WaitGroup
		var mu sync.Mutex
		slow := 0
		for i := range 200 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
				defer cancel()
				start := time.Now()
				_, err := k.Key(ctx, iss.Issuer(), fmt.Sprintf("random-%d-%d", window, i), "RS256")
				d := time.Since(start)
				assert.ErrorIs(t, err, jwks.ErrKeyNotFound)
				mu.Lock()
				if d > wait+time.Second {
					slow++
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		assert.Equal(t, before+1, iss.JWKSFetches(), "one fetch per window")
		assert.LessOrEqual(t, slow, 1, "only the fetching call may take longer than the wait bound")
		jwks.NewRefreshWindow(k, iss.Issuer())
	}
	assert.Equal(t, 1, iss.DiscoveryFetches())
}

func TestIssuersAreIndependent(t *testing.T) {
	a, b := newIssuer(t), newIssuer(t)
	clk := newClock()
	k := newKeys(t, clk, jwks.WithIssuer(a.Issuer()), jwks.WithIssuer(b.Issuer()))
	assert.Equal(t, []string{a.Issuer(), b.Issuer()}, k.Issuers())
	bBefore := b.JWKSFetches()

	a.Rotate()
	_, err := k.Key(t.Context(), a.Issuer(), a.KeyIDs()[2], "RS256")
	require.NoError(t, err)
	assert.Equal(t, bBefore, b.JWKSFetches(), "rotating A never fetches B")

	// A's limiter is spent; B's is not.
	aBefore := a.JWKSFetches()
	_, err = k.Key(t.Context(), b.Issuer(), "random", "RS256")
	require.ErrorIs(t, err, jwks.ErrKeyNotFound)
	assert.Equal(t, bBefore+1, b.JWKSFetches())
	assert.Equal(t, aBefore, a.JWKSFetches())

	// A's key is not B's.
	_, err = k.Key(t.Context(), b.Issuer(), a.CurrentKeyID(), "RS256")
	require.ErrorIs(t, err, jwks.ErrKeyNotFound)
	_, err = k.Key(t.Context(), "https://stranger.example/", a.CurrentKeyID(), "RS256")
	require.ErrorIs(t, err, jwks.ErrUnknownIssuer)
}

func TestKeyMismatch(t *testing.T) {
	rsaIss := newIssuer(t)
	ecIss := newIssuer(t, oauthtest.WithAlgorithm("ES256"))
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	custom := newJWKSServer(t, jwksJSON(t,
		jwkSpec{kid: "enc", use: "enc", pub: rsaKey.Public()},
		jwkSpec{kid: "noalg", pub: rsaKey.Public()},
		jwkSpec{kid: "small", pub: small.Public()},
		jwkSpec{kid: "ec", use: "sig", pub: ecKey.Public()}))
	const customIss = "https://custom.example/"
	k := newKeys(t, newClock(), jwks.WithIssuer(rsaIss.Issuer()), jwks.WithIssuer(ecIss.Issuer()),
		jwks.WithIssuerJWKS(customIss, custom.URL()))

	tests := []struct {
		name, issuer, kid, alg string
		wantCause              error
	}{
		{"RSA key asked for ES256", rsaIss.Issuer(), rsaIss.CurrentKeyID(), "ES256", jwks.ErrKeyMismatch},
		{"EC key asked for EdDSA", ecIss.Issuer(), ecIss.CurrentKeyID(), "EdDSA", jwks.ErrKeyMismatch},
		{"EC P-256 asked for ES384", customIss, "ec", "ES384", jose.ErrKeyType},
		{"JWK alg RS256 asked for PS256", rsaIss.Issuer(), rsaIss.CurrentKeyID(), "PS256", jwks.ErrKeyMismatch},
		{"use enc", customIss, "enc", "RS256", jwks.ErrKeyMismatch},
		{"RSA key too small", customIss, "small", "RS256", jose.ErrRSAKeyTooSmall},
		{"HS256 never served", rsaIss.Issuer(), rsaIss.CurrentKeyID(), "HS256", jose.ErrAlgorithm},
		{"none never served", rsaIss.Issuer(), rsaIss.CurrentKeyID(), "none", jose.ErrAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := rsaIss.JWKSFetches()
			key, err := k.Key(t.Context(), tt.issuer, tt.kid, tt.alg)
			require.ErrorIs(t, err, jwks.ErrKeyMismatch)
			require.ErrorIs(t, err, tt.wantCause)
			assert.Nil(t, key)
			assert.Equal(t, before, rsaIss.JWKSFetches(), "a mismatch never refreshes")
		})
	}
	t.Run("JWK without alg fits by type", func(t *testing.T) {
		for _, alg := range []string{"RS256", "PS512"} {
			_, err := k.Key(t.Context(), customIss, "noalg", alg)
			require.NoError(t, err)
		}
	})
}

func TestResolver(t *testing.T) {
	issuers := []*oauthtest.Issuer{newIssuer(t), newIssuer(t), newIssuer(t)}
	static := newIssuer(t)
	var mu sync.Mutex
	resolved := map[string]int{}
	errNotTrusted := errors.New("not trusted")
	resolve := func(_ context.Context, issuer string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		resolved[issuer]++
		for i, iss := range issuers {
			if iss.Issuer() == issuer {
				if i == 2 {
					return iss.JWKSURL(), nil // configured JWKS URL
				}
				return "", nil // discovery
			}
		}
		if issuer == "https://bad-url.example/" {
			return "ftp://x/jwks", nil
		}
		return "", errNotTrusted
	}
	count := func(issuer string) int {
		mu.Lock()
		defer mu.Unlock()
		return resolved[issuer]
	}
	k := newKeys(t, newClock(), jwks.WithIssuer(static.Issuer()), jwks.WithResolver(resolve, 2))

	t.Run("static issuers bypass the resolver", func(t *testing.T) {
		_, err := k.Key(t.Context(), static.Issuer(), static.CurrentKeyID(), "RS256")
		require.NoError(t, err)
		assert.Zero(t, count(static.Issuer()))
	})
	t.Run("untrusted", func(t *testing.T) {
		_, err := k.Key(t.Context(), "https://evil.example/", "kid", "RS256")
		require.ErrorIs(t, err, jwks.ErrUnknownIssuer)
		require.ErrorIs(t, err, errNotTrusted)
		_, err = k.Key(t.Context(), "https://bad-url.example/", "kid", "RS256")
		require.ErrorIs(t, err, jwks.ErrUnknownIssuer)
	})
	t.Run("resolved once while held", func(t *testing.T) {
		for range 3 {
			for _, iss := range issuers[:2] {
				_, err := k.Key(t.Context(), iss.Issuer(), iss.CurrentKeyID(), "RS256")
				require.NoError(t, err)
			}
		}
		assert.Equal(t, 1, count(issuers[0].Issuer()))
		assert.Equal(t, 1, issuers[0].JWKSFetches())
		assert.Equal(t, 1, issuers[0].DiscoveryFetches())
		assert.Zero(t, issuers[2].DiscoveryFetches())
	})
	t.Run("bound evicts the least recently used", func(t *testing.T) {
		// Use 1 so that 0 is the least recently used, then add 2.
		_, err := k.Key(t.Context(), issuers[1].Issuer(), issuers[1].CurrentKeyID(), "RS256")
		require.NoError(t, err)
		_, err = k.Key(t.Context(), issuers[2].Issuer(), issuers[2].CurrentKeyID(), "RS256")
		require.NoError(t, err)
		assert.Equal(t, 2, loopGoroutines()-1, "one refresh goroutine per held issuer plus the static one")
		// 1 is still held; 0 was dropped and is resolved again, but its keys
		// were remembered: no second fetch.
		_, err = k.Key(t.Context(), issuers[1].Issuer(), issuers[1].CurrentKeyID(), "RS256")
		require.NoError(t, err)
		assert.Equal(t, 1, count(issuers[1].Issuer()))
		_, err = k.Key(t.Context(), issuers[0].Issuer(), issuers[0].CurrentKeyID(), "RS256")
		require.NoError(t, err)
		assert.Equal(t, 2, count(issuers[0].Issuer()))
		assert.Equal(t, 1, issuers[0].JWKSFetches())
	})
}

func TestCloseStopsAndWaits(t *testing.T) {
	iss := newIssuer(t)
	other := newIssuer(t)
	k, err := jwks.New(t.Context(), jwks.WithIssuer(iss.Issuer()),
		jwks.WithResolver(func(context.Context, string) (string, error) { return "", nil }, 4),
		jwks.WithRefreshInterval(time.Millisecond), jwks.WithHTTPClient(iss.Client()))
	require.NoError(t, err)
	_, err = k.Key(t.Context(), other.Issuer(), other.CurrentKeyID(), "RS256")
	require.NoError(t, err)
	require.Equal(t, 2, loopGoroutines())
	require.NoError(t, k.Close())
	assert.Zero(t, loopGoroutines(), "Close waits for the goroutines")
	require.NoError(t, k.Close(), "idempotent")
	_, err = k.Key(t.Context(), iss.Issuer(), iss.CurrentKeyID(), "RS256")
	require.NoError(t, err, "loaded keys still answer")
	_, err = k.Key(t.Context(), newIssuer(t).Issuer(), "kid", "RS256")
	require.ErrorIs(t, err, jwks.ErrUnavailable, "no new issuers after Close")
}

func TestNewValidatesOptions(t *testing.T) {
	_, err := jwks.New(t.Context(),
		jwks.WithIssuer("not a url"),
		jwks.WithIssuer("ftp://x/"),
		jwks.WithIssuerJWKS("a", "b"),
		jwks.WithIssuerJWKS("a", "https://x/jwks"),
		jwks.WithResolver(nil, 0),
		jwks.WithHTTPClient(nil),
		jwks.WithHTTPTimeout(0),
		jwks.WithRefreshInterval(-1),
		jwks.WithRefreshRateLimit(0),
		jwks.WithRateLimitWait(-1),
		jwks.WithMaxBodySize(0),
		jwks.WithMaxKeys(0),
		jwks.WithLogger(nil),
		jwks.WithClock(nil),
	)
	require.Error(t, err)
	var joined interface{ Unwrap() []error }
	require.ErrorAs(t, err, &joined)
	assert.Len(t, joined.Unwrap(), 15, "every problem reported at once: %v", err)

	_, err = jwks.New(t.Context())
	require.Error(t, err, "no issuer")
}
