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
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/bench/internal/benchkit"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
)

// BenchmarkRatio measures each row of issue 7's target table as a ratio to
// its floor, the two sides interleaved round by round (see compare): the
// metric to read is x-floor. ns/op and allocs/op are the middleware's;
// floor-ns/op is the bare signature verification(s) with the standard
// library. Run with -benchtime 12x for 12 rounds.
func BenchmarkRatio(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		iss := newIssuer(b, oauthtest.WithAlgorithm(alg))
		tok := mint(b, iss, oauthtest.Token{Scope: "read:messages", Permissions: []string{"read:messages"}})
		floor := benchkit.Repeat(benchkit.MustVerify(b, benchkit.FloorVerify(b, iss.PublicKey(iss.CurrentKeyID())), tok))
		for _, mode := range cacheModes {
			g := newGuard(b, iss, mode.opt)
			b.Run("Bearer-"+alg+"-"+mode.name, func(b *testing.B) {
				benchkit.Compare(b, floor, benchkit.Served(b, g.Handler, benchkit.Same(benchkit.BearerRequest(tok))))
			})
		}
	}

	b.Run("DPoP-ES256", func(b *testing.B) {
		iss := newIssuer(b, oauthtest.WithAlgorithm("ES256"))
		signer, pub := newSigner(b)
		tok := mint(b, iss, oauthtest.Token{JKT: signer.Thumbprint()})
		verifyProof := benchkit.FloorVerify(b, pub)
		verifyToken := benchkit.FloorVerify(b, iss.PublicKey(iss.CurrentKeyID()))
		// The floors verify fresh proofs too, one per operation.
		floor := func(withToken bool) benchkit.Contender {
			var ps []string
			return benchkit.Contender{
				Prepare: func(n int) { ps = benchkit.Proofs(b, signer, benchkit.Resource, tok, n) },
				Run: func(n int) {
					for _, p := range ps[:n] {
						if !verifyProof(p) || (withToken && !verifyToken(tok)) {
							b.Fatal("floor: bad signature")
						}
					}
				},
			}
		}
		for _, mode := range cacheModes {
			g := newGuard(b, iss, mode.opt, middleware.WithPublicURL(benchkit.PublicURL))
			f := floor(false) // warm: one ES256 verification (the proof)
			if mode.name == "cold" {
				f = floor(true) // cold: two (proof and token)
			}
			b.Run(mode.name, func(b *testing.B) {
				benchkit.Compare(b, f, benchkit.Served(b, g.Handler, benchkit.DPoPRequests(b, signer, tok)))
			})
		}
	})

	// issue 4: a certificate-bound token beside a plain Bearer token (both
	// cold), over a TLS connection state with the client certificate.
	b.Run("mTLS-vs-Bearer-RS256-cold", func(b *testing.B) {
		iss := newIssuer(b)
		cert := clientCert(b)
		plain := benchkit.BearerRequest(mint(b, iss, oauthtest.Token{}))
		bound := benchkit.BearerRequest(mint(b, iss, oauthtest.Token{X5TS256: mtls.Thumbprint(cert)}))
		for _, r := range []*http.Request{plain, bound} {
			r.TLS = &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{cert}}
		}
		g := newGuard(b, iss, middleware.WithTokenCache(0, 0))
		benchkit.Compare(b, benchkit.Served(b, g.Handler, benchkit.Same(plain)), benchkit.Served(b, g.Handler, benchkit.Same(bound)))
	})

	// issue 9: an encrypted (JWE, RSA-OAEP-256 + A256GCM) Bearer token
	// beside the plain one, both cold.
	b.Run("JWE-vs-Bearer-RS256-cold", func(b *testing.B) {
		iss := newIssuer(b)
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(b, err)
		enc, err := iss.MintEncrypted(oauthtest.Token{}, &k.PublicKey, "rs", "RSA-OAEP-256", "A256GCM")
		require.NoError(b, err)
		g := newGuard(b, iss, middleware.WithTokenCache(0, 0),
			middleware.WithDecryptionKeys(map[string]*rsa.PrivateKey{"rs": k}))
		benchkit.Compare(b, benchkit.Served(b, g.Handler, benchkit.Same(benchkit.BearerRequest(mint(b, iss, oauthtest.Token{})))), benchkit.Served(b, g.Handler, benchkit.Same(benchkit.BearerRequest(enc))))
	})

	// Why ES384 is to be avoided on hot paths: one bare ES384 verification
	// beside one bare ES256 verification.
	b.Run("ES384-vs-ES256-verify", func(b *testing.B) {
		benchkit.Compare(b, benchkit.Repeat(ecdsaVerifier(b, elliptic.P256(), crypto.SHA256)), benchkit.Repeat(ecdsaVerifier(b, elliptic.P384(), crypto.SHA384)))
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
