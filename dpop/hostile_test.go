package dpop

import (
	"context"
	"encoding/base64"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHostileProofCatalogue walks the classes of attack on a DPoP proof
// verifier, one row per attack: what it attacks and the sentinel it must
// get. Rows that repeat TestVerifyRejects are kept because this table is the
// catalogue; they are cheap.
func TestHostileProofCatalogue(t *testing.T) {
	testKeys(t)
	jkt, err := Thumbprint(ecKey.Public())
	require.NoError(t, err)
	hand := func(mod func(h, c map[string]any)) func(t *testing.T) string {
		return func(t *testing.T) string { return handProof(t, ecKey, "ES256", mod) }
	}
	type row struct {
		class, attacks string
		proof          func(t *testing.T) string
		req            func(r *Request)
		want           error // nil: accepted
	}
	rows := []row{
		{"signature stripping", "alg none", hand(func(h, c map[string]any) { h["alg"] = "none" }), nil, ErrAlgorithm},
		{"signature stripping", "empty signature", func(t *testing.T) string {
			p := handProof(t, ecKey, "ES256", nil)
			return p[:strings.LastIndexByte(p, '.')+1]
		}, nil, ErrMalformed},
		{"signature stripping", "signature of another proof", func(t *testing.T) string {
			p, q := handProof(t, ecKey, "ES256", nil), handProof(t, ecKey, "ES256", nil)
			return p[:strings.LastIndexByte(p, '.')] + q[strings.LastIndexByte(q, '.'):]
		}, nil, ErrSignature},

		{"algorithm confusion", "HS256 keyed with a shared secret", func(t *testing.T) string {
			return handProof(t, ecKey, "HS256", nil)
		}, nil, ErrAlgorithm},
		{"algorithm confusion", "RSA jwk with alg ES256", hand(func(h, c map[string]any) { h["jwk"] = jwkMap(t, rsaKey.Public()) }), nil, ErrKey},
		{"algorithm confusion", "P-256 jwk with alg EdDSA", hand(func(h, c map[string]any) { h["alg"] = "EdDSA" }), nil, ErrKey},
		{"algorithm confusion", "Ed25519 jwk with alg ES256", hand(func(h, c map[string]any) { h["jwk"] = jwkMap(t, edKey.Public()) }), nil, ErrKey},
		{"algorithm confusion", "RSA-1024 key", func(t *testing.T) string { return handProof(t, rsa1024Key, "RS256", nil) }, nil, ErrKey},

		{"key injection", "jwk of the token's key, signed by another", func(t *testing.T) string {
			return handProof(t, ecKey2, "ES256", func(h, c map[string]any) { h["jwk"] = jwkMap(t, ecKey.Public()) })
		}, nil, ErrSignature},
		{"key injection", "jku/x5u/x5c beside the jwk are ignored (key still must match cnf.jkt)", func(t *testing.T) string {
			return handProof(t, ecKey2, "ES256", func(h, c map[string]any) {
				h["jku"], h["x5u"], h["x5c"] = "https://evil.example/jwks", "https://evil.example/c", []string{"MIIB"}
			})
		}, nil, ErrKeyMismatch},
		{"key injection", "path-looking kid is not a key reference", hand(func(h, c map[string]any) { h["kid"] = "../../etc/passwd" }), nil, nil},
		{"key injection", "SQL-looking kid is not a key reference", hand(func(h, c map[string]any) { h["kid"] = "' OR 1=1 --" }), nil, nil},
		{"key injection", "no jwk at all", hand(func(h, c map[string]any) { h["jwk"] = nil; h["kid"] = "k1" }), nil, ErrMalformed},
		{"key injection", "symmetric jwk", hand(func(h, c map[string]any) { h["jwk"] = map[string]any{"kty": "oct", "k": "c2VjcmV0"} }), nil, ErrPrivateKey},

		{"claim type confusion", "iat as a string", hand(func(h, c map[string]any) { c["iat"] = "1700000000" }), nil, ErrMalformed},
		{"claim type confusion", "iat 1e300", hand(func(h, c map[string]any) { c["iat"] = 1e300 }), nil, ErrIssuedAt},
		{"claim type confusion", "htm as an array", hand(func(h, c map[string]any) { c["htm"] = []string{"GET"} }), nil, ErrMalformed},
		{"claim type confusion", "jti as a number", hand(func(h, c map[string]any) { c["jti"] = 7 }), nil, ErrMalformed},
		{"claim type confusion", "jwk as an array", hand(func(h, c map[string]any) { h["jwk"] = []any{jwkMap(t, ecKey.Public())} }), nil, ErrMalformed},
		{"claim type confusion", "duplicate htu (second one foreign)", func(t *testing.T) string {
			j := jwkMap(t, ecKey.Public())
			return signRaw(t, ecKey, "ES256", `{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"`+j["x"].(string)+`","y":"`+j["y"].(string)+`"}}`,
				`{"jti":"a","htm":"GET","htu":"`+testHTU+`","htu":"https://evil.example/","iat":1700000000,"ath":"`+testATH+`"}`)
		}, nil, ErrMalformed},

		{"binding bypass", "cnf.jkt padded", hand(nil), func(r *Request) { r.JKT = jkt + "=" }, ErrKeyMismatch},
		{"binding bypass", "cnf.jkt in standard base64", hand(nil), func(r *Request) {
			b, _ := base64.RawURLEncoding.DecodeString(jkt)
			r.JKT = base64.StdEncoding.EncodeToString(b)
		}, ErrKeyMismatch},
		{"binding bypass", "cnf.jkt of another key", hand(nil), func(r *Request) { r.JKT, _ = Thumbprint(ecKey2.Public()) }, ErrKeyMismatch},

		{"DPoP forgery", "private key material in the jwk", hand(func(h, c map[string]any) {
			h["jwk"].(map[string]any)["d"] = b64u(must(ecKey.Bytes()))
		}), nil, ErrPrivateKey},
		{"DPoP forgery", "typ missing", hand(func(h, c map[string]any) { h["typ"] = nil }), nil, ErrMalformed},
		{"DPoP forgery", "typ JWT", hand(func(h, c map[string]any) { h["typ"] = "JWT" }), nil, ErrType},
		{"DPoP forgery", "htu with userinfo", hand(func(h, c map[string]any) { c["htu"] = "https://user:pw@resource.example.org/protectedresource" }), nil, ErrURL},
		{"DPoP forgery", "htu with another port", hand(func(h, c map[string]any) { c["htu"] = "https://resource.example.org:444/protectedresource" }), nil, ErrURL},
		{"DPoP forgery", "htu on another host", hand(func(h, c map[string]any) { c["htu"] = "https://evil.example/protectedresource" }), nil, ErrURL},
		{"DPoP forgery", "htm lower-case", hand(func(h, c map[string]any) { c["htm"] = "get" }), nil, ErrMethod},
		{"DPoP forgery", "proof for another token", hand(nil), func(r *Request) { r.AccessToken = "another-token" }, ErrAccessTokenHash},
		{"DPoP forgery", "iat in the future", hand(func(h, c map[string]any) { c["iat"] = testNow.Add(time.Minute).Unix() }), nil, ErrIssuedAt},

		{"header smuggling", "two proofs joined with a comma", func(t *testing.T) string {
			return handProof(t, ecKey, "ES256", nil) + "," + handProof(t, ecKey, "ES256", nil)
		}, nil, ErrMalformed},
		{"header smuggling", "leading space", func(t *testing.T) string { return " " + handProof(t, ecKey, "ES256", nil) }, nil, ErrMalformed},
		{"header smuggling", "non-ASCII appended", func(t *testing.T) string { return handProof(t, ecKey, "ES256", nil) + "\u00e9" }, nil, ErrMalformed},

		{"control", "a genuine proof", hand(nil), nil, nil},
	}
	for _, tc := range rows {
		t.Run(tc.class+"/"+tc.attacks, func(t *testing.T) {
			v := newTestVerifier(t, newFakeClock())
			req := testRequest()
			req.JKT = jkt
			if tc.req != nil {
				tc.req(&req)
			}
			p, err := v.Verify(context.Background(), tc.proof(t), req)
			if tc.want == nil {
				require.NoError(t, err)
				require.NotNil(t, p)
				return
			}
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, p)
		})
	}

	t.Run("replay/within the window", func(t *testing.T) {
		clock := newFakeClock()
		v := newTestVerifier(t, clock)
		proof := handProof(t, ecKey, "ES256", nil)
		_, err := v.Verify(context.Background(), proof, testRequest())
		require.NoError(t, err)
		clock.Add(30 * time.Second)
		_, err = v.Verify(context.Background(), proof, testRequest())
		require.ErrorIs(t, err, ErrReplayed)
	})
	t.Run("replay/after the window", func(t *testing.T) {
		clock := newFakeClock()
		v := newTestVerifier(t, clock)
		proof := handProof(t, ecKey, "ES256", nil)
		_, err := v.Verify(context.Background(), proof, testRequest())
		require.NoError(t, err)
		clock.Add(66 * time.Second) // window 60 s + skew 5 s
		_, err = v.Verify(context.Background(), proof, testRequest())
		require.ErrorIs(t, err, ErrIssuedAt)
	})
}

// TestProofSizeLimit: a proof one byte over WithMaxProofSize is refused
// before decoding; at the limit it is decoded; refusing a 1 MiB proof 1000
// times costs almost nothing.
func TestProofSizeLimit(t *testing.T) {
	const limit = 1024
	v := newTestVerifier(t, newFakeClock(), WithMaxProofSize(limit))
	at := strings.Repeat("a", limit-4) + ".b.c"
	_, err := v.Verify(context.Background(), at, testRequest())
	require.ErrorIs(t, err, ErrMalformed)
	require.NotErrorIs(t, err, ErrTooLarge)
	_, err = v.Verify(context.Background(), at+"c", testRequest())
	require.ErrorIs(t, err, ErrTooLarge)

	dflt := newTestVerifier(t, newFakeClock())
	big := strings.Repeat("eyJh", 1<<18)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n = 1000
	for range n {
		_, err = dflt.Verify(context.Background(), big, testRequest())
	}
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, ErrTooLarge)
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d proofs of %d bytes: %d bytes allocated", n, len(big), got)
	assert.Less(t, got, uint64(n*len(big)/100))
}
