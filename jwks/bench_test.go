package jwks

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

var testRSA = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

func testRSAPublic(t testing.TB) *rsa.PublicKey {
	t.Helper()
	k, err := testRSA()
	require.NoError(t, err)
	return &k.PublicKey
}

func loadedKeys(tb testing.TB) *Keys {
	tb.Helper()
	body := testJWKS(tb)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	tb.Cleanup(srv.Close)
	k, err := New(tb.Context(), WithIssuerJWKS("https://issuer.example/", srv.URL))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = k.Close() })
	return k
}

func TestKnownKidDoesNotAllocate(t *testing.T) {
	k := loadedKeys(t)
	ctx := t.Context()
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := k.Key(ctx, "https://issuer.example/", "a", "RS256"); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
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
