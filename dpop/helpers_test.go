package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// Fixed test inputs.
const (
	testToken = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU" // RFC 9449 §7.1
	testATH   = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
	testHTU   = "https://resource.example.org/protectedresource"
)

var testNow = time.Unix(1_700_000_000, 0)

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: testNow} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Keys are generated once per test binary; RSA generation is slow.
var (
	keysOnce                        sync.Once
	ecKey, ecKey2, ec384Key, ec521K *ecdsa.PrivateKey
	rsaKey, rsa1024Key              *rsa.PrivateKey
	edKey                           ed25519.PrivateKey
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		ecKey2, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		ec384Key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		require.NoError(t, err)
		ec521K, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		require.NoError(t, err)
		rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		rsa1024Key, err = rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // the point of the test
		require.NoError(t, err)
		_, edKey, err = ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
	})
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwkMap builds a public JWK independently of the package code.
func jwkMap(t testing.TB, pub crypto.PublicKey) map[string]any {
	t.Helper()
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		point, err := k.Bytes() // 0x04 || X || Y
		require.NoError(t, err)
		size := (len(point) - 1) / 2
		return map[string]any{"kty": "EC", "crv": k.Curve.Params().Name,
			"x": b64u(point[1 : 1+size]), "y": b64u(point[1+size:])}
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "n": b64u(k.N.Bytes()), "e": b64u(big.NewInt(int64(k.E)).Bytes())}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64u(k)}
	}
	t.Fatalf("unsupported key %T", pub)
	return nil
}

// handProof makes a proof with golang-jwt, independently of Signer. mod may
// change the header and claims; a nil value deletes a member.
func handProof(t testing.TB, priv crypto.Signer, alg string, mod func(h, c map[string]any)) string {
	t.Helper()
	sum := sha256.Sum256([]byte(testToken))
	h := map[string]any{"typ": "dpop+jwt", "alg": alg, "jwk": jwkMap(t, priv.Public())}
	c := map[string]any{"jti": rand.Text(), "htm": "GET", "htu": testHTU, "iat": testNow.Unix(), "ath": b64u(sum[:])}
	if mod != nil {
		mod(h, c)
	}
	for k, v := range h {
		if v == nil {
			delete(h, k)
		}
	}
	for k, v := range c {
		if v == nil {
			delete(c, k)
		}
	}
	hj, err := json.Marshal(h)
	require.NoError(t, err)
	cj, err := json.Marshal(c)
	require.NoError(t, err)
	return signRaw(t, priv, alg, string(hj), string(cj))
}

// signRaw signs raw header and claims JSON with golang-jwt's method for alg
// (ES256 for algs golang-jwt cannot sign with priv).
func signRaw(t testing.TB, priv crypto.Signer, alg, header, claims string) string {
	t.Helper()
	input := b64u([]byte(header)) + "." + b64u([]byte(claims))
	m := jwt.GetSigningMethod(alg)
	var sig []byte
	var err error
	switch alg {
	case "HS256":
		sig, err = m.Sign(input, []byte("0123456789abcdef0123456789abcdef"))
	case "none", "":
		sig = []byte("not a signature")
	default:
		sig, err = m.Sign(input, priv)
	}
	require.NoError(t, err)
	return input + "." + b64u(sig)
}

func testRequest() Request {
	u, _ := url.Parse(testHTU)
	return Request{Method: "GET", URL: u, AccessToken: testToken}
}

func newTestVerifier(t testing.TB, clock *fakeClock, opts ...Option) *Verifier {
	t.Helper()
	v, err := NewVerifier(append([]Option{WithClock(clock.Now)}, opts...)...)
	require.NoError(t, err)
	return v
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// must returns v, or panics on err: for key encodings that cannot fail.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
