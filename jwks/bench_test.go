package jwks

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/stretchr/testify/require"
)

var testRSA = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

func testRSAPublic(t testing.TB) *rsa.PublicKey {
	t.Helper()
	k, err := testRSA()
	require.NoError(t, err)
	return &k.PublicKey
}

// loadedKeys serves a set with kid "a" (RSA) and kid "shared" (RSA, then
// P-256) for a static issuer and, through a resolver, for
// https://resolved.example/.
func loadedKeys(tb testing.TB) *Keys {
	tb.Helper()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	set := jwkset.JWKSMarshal{}
	for _, k := range []struct {
		kid string
		pub any
	}{{"a", testRSAPublic(tb)}, {"shared", testRSAPublic(tb)}, {"shared", ec.Public()}} {
		j, err := jwkset.NewJWKFromKey(k.pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.kid, USE: jwkset.UseSig}})
		require.NoError(tb, err)
		set.Keys = append(set.Keys, j.Marshal())
	}
	body, err := json.Marshal(set)
	require.NoError(tb, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	tb.Cleanup(srv.Close)
	k, err := New(tb.Context(), WithIssuerJWKS("https://issuer.example/", srv.URL), WithLogger(discard),
		WithResolver(func(_ context.Context, _ string) (string, error) { return srv.URL, nil }, 4))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = k.Close() })
	return k
}

func TestKnownKidDoesNotAllocate(t *testing.T) {
	k := loadedKeys(t)
	ctx := t.Context()
	for _, tc := range []struct{ name, issuer, kid, alg string }{
		{"static issuer", "https://issuer.example/", "a", "RS256"},
		{"resolved issuer", "https://resolved.example/", "a", "RS256"},
		{"shared kid, second key", "https://issuer.example/", "shared", "ES256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := k.Key(ctx, tc.issuer, tc.kid, tc.alg) // resolves and loads
			require.NoError(t, err)
			allocs := testing.AllocsPerRun(100, func() {
				if _, err := k.Key(ctx, tc.issuer, tc.kid, tc.alg); err != nil {
					t.Fatal(err)
				}
			})
			require.Zero(t, allocs)
		})
	}
}

func BenchmarkKeyKnownKid(b *testing.B) {
	k := loadedKeys(b)
	ctx := b.Context()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := k.Key(ctx, "https://issuer.example/", "a", "RS256"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
