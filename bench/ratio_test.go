package bench

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/jwks/jwkstest"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
)

// publicURL is the API's external URL in the in-process benchmarks.
const (
	publicURL = "https://api.example.com"
	resource  = publicURL + "/r"
)

// discard is a ResponseWriter that costs nothing.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// served wraps g around a handler that counts the requests it lets through,
// and returns a contender that sends requests made by mk (before the timed
// part) and fails the benchmark unless every one got through: a rejection
// is cheaper than an acceptance and must never be what is measured.
func served(b *testing.B, g *middleware.Guard, mk func(n int) []*http.Request) contender {
	var passed atomic.Int64
	h := g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { passed.Add(1) }))
	w := &discard{h: http.Header{}}
	var reqs []*http.Request
	return contender{
		prepare: func(n int) { reqs = mk(n) },
		run: func(n int) {
			passed.Store(0)
			for _, r := range reqs[:n] {
				h.ServeHTTP(w, r)
			}
			if got := passed.Load(); got != int64(n) {
				b.Fatalf("%d of %d requests rejected", int64(n)-got, n)
			}
		},
	}
}

// same returns n references to one request (a repeated token).
func same(r *http.Request) func(n int) []*http.Request {
	return func(n int) []*http.Request {
		reqs := make([]*http.Request, n)
		for i := range reqs {
			reqs[i] = r
		}
		return reqs
	}
}

func bearerRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, resource, nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// dpopRequests makes n requests, each with a fresh proof.
func dpopRequests(b *testing.B, s *dpop.Signer, token string) func(n int) []*http.Request {
	return func(n int) []*http.Request {
		ps := proofs(b, s, resource, token, n)
		reqs := make([]*http.Request, n)
		for i, p := range ps {
			r := httptest.NewRequest(http.MethodGet, resource, nil)
			r.Header.Set("Authorization", "DPoP "+token)
			r.Header.Set("DPoP", p)
			reqs[i] = r
		}
		return reqs
	}
}

// mustVerify turns a floor check into an operation that fails the
// benchmark on a bad signature.
func mustVerify(b *testing.B, verify func(string) bool, jws string) func() {
	return func() {
		if !verify(jws) {
			b.Fatal("floor: bad signature")
		}
	}
}

// BenchmarkRatio measures each row of issue 7's target table as a ratio to
// its floor, the two sides interleaved round by round (see compare): the
// metric to read is x-floor. ns/op and allocs/op are the middleware's;
// floor-ns/op is the bare signature verification(s) with the standard
// library. Run with -benchtime 12x for 12 rounds.
func BenchmarkRatio(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		iss := newIssuer(b, jwkstest.WithAlgorithm(alg))
		tok := mint(b, iss, jwkstest.Token{Scope: "read:messages", Permissions: []string{"read:messages"}})
		floor := repeat(mustVerify(b, floorVerify(b, iss.PublicKey(iss.CurrentKeyID())), tok))
		for _, mode := range cacheModes {
			g := newGuard(b, iss, mode.opt)
			b.Run("Bearer-"+alg+"-"+mode.name, func(b *testing.B) {
				compare(b, floor, served(b, g, same(bearerRequest(tok))))
			})
		}
	}

	b.Run("DPoP-ES256", func(b *testing.B) {
		iss := newIssuer(b, jwkstest.WithAlgorithm("ES256"))
		signer, pub := newSigner(b)
		tok := mint(b, iss, jwkstest.Token{JKT: signer.Thumbprint()})
		verifyProof := floorVerify(b, pub)
		verifyToken := floorVerify(b, iss.PublicKey(iss.CurrentKeyID()))
		// The floors verify fresh proofs too, one per operation.
		floor := func(withToken bool) contender {
			var ps []string
			return contender{
				prepare: func(n int) { ps = proofs(b, signer, resource, tok, n) },
				run: func(n int) {
					for _, p := range ps[:n] {
						if !verifyProof(p) || (withToken && !verifyToken(tok)) {
							b.Fatal("floor: bad signature")
						}
					}
				},
			}
		}
		for _, mode := range cacheModes {
			g := newGuard(b, iss, mode.opt, middleware.WithPublicURL(publicURL))
			f := floor(false) // warm: one ES256 verification (the proof)
			if mode.name == "cold" {
				f = floor(true) // cold: two (proof and token)
			}
			b.Run(mode.name, func(b *testing.B) {
				compare(b, f, served(b, g, dpopRequests(b, signer, tok)))
			})
		}
	})

	// issue 4: a certificate-bound token beside a plain Bearer token (both
	// cold), over a TLS connection state with the client certificate.
	b.Run("mTLS-vs-Bearer-RS256-cold", func(b *testing.B) {
		iss := newIssuer(b)
		cert := clientCert(b)
		plain := bearerRequest(mint(b, iss, jwkstest.Token{}))
		bound := bearerRequest(mint(b, iss, jwkstest.Token{X5TS256: mtls.Thumbprint(cert)}))
		for _, r := range []*http.Request{plain, bound} {
			r.TLS = &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{cert}}
		}
		g := newGuard(b, iss, middleware.WithTokenCache(0, 0))
		compare(b, served(b, g, same(plain)), served(b, g, same(bound)))
	})

	// issue 9: an encrypted (JWE, RSA-OAEP-256 + A256GCM) Bearer token
	// beside the plain one, both cold.
	b.Run("JWE-vs-Bearer-RS256-cold", func(b *testing.B) {
		iss := newIssuer(b)
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(b, err)
		enc, err := iss.MintEncrypted(jwkstest.Token{}, &k.PublicKey, "rs", "RSA-OAEP-256", "A256GCM")
		require.NoError(b, err)
		g := newGuard(b, iss, middleware.WithTokenCache(0, 0),
			middleware.WithDecryptionKeys(map[string]*rsa.PrivateKey{"rs": k}))
		compare(b, served(b, g, same(bearerRequest(mint(b, iss, jwkstest.Token{})))), served(b, g, same(bearerRequest(enc))))
	})

	// Why ES384 is to be avoided on hot paths: one bare ES384 verification
	// beside one bare ES256 verification.
	b.Run("ES384-vs-ES256-verify", func(b *testing.B) {
		compare(b, repeat(ecdsaVerifier(b, elliptic.P256(), crypto.SHA256)), repeat(ecdsaVerifier(b, elliptic.P384(), crypto.SHA384)))
	})
}

// ecdsaVerifier returns one bare verification of a fixed signature on curve.
func ecdsaVerifier(b *testing.B, curve elliptic.Curve, h crypto.Hash) func() {
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	require.NoError(b, err)
	msg := []byte("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9")
	digest := func() []byte {
		if h == crypto.SHA384 {
			d := sha512.Sum384(msg)
			return d[:]
		}
		d := sha256.Sum256(msg)
		return d[:]
	}
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest())
	require.NoError(b, err)
	return func() {
		if !ecdsa.VerifyASN1(&key.PublicKey, digest(), sig) {
			b.Fatal("bad signature")
		}
	}
}

// clientCert returns a self-signed client certificate.
func clientCert(tb testing.TB) *x509.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(tb, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(tb, err)
	return cert
}
