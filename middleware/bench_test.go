package middleware_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
)

// discard is a ResponseWriter that costs nothing, so that benchmarks
// measure the middleware and not a recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

var ok200 = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

// floor verifies tok's signature with the standard library alone: the cost
// no verifier can avoid.
func floor(b *testing.B, tok string, pub crypto.PublicKey) func() {
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	require.NoError(b, err)
	input := []byte(tok[:i])
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return func() {
			d := sha256.Sum256(input)
			if rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) != nil {
				b.Fatal("floor: bad signature")
			}
		}
	case *ecdsa.PublicKey:
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		asn1 := asn1Sig(r, s)
		return func() {
			d := sha256.Sum256(input)
			if !ecdsa.VerifyASN1(k, d[:], asn1) {
				b.Fatal("floor: bad signature")
			}
		}
	case ed25519.PublicKey:
		return func() {
			if !ed25519.Verify(k, input, sig) {
				b.Fatal("floor: bad signature")
			}
		}
	}
	b.Fatalf("floor: key type %T", pub)
	return nil
}

// asn1Sig encodes r and s as an ASN.1 ECDSA signature.
func asn1Sig(r, s *big.Int) []byte {
	enc := func(x *big.Int) []byte {
		v := x.Bytes()
		if len(v) == 0 || v[0]&0x80 != 0 {
			v = append([]byte{0}, v...)
		}
		return append([]byte{0x02, byte(len(v))}, v...)
	}
	body := append(enc(r), enc(s)...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

// BenchmarkBearer measures one Bearer request through Guard.Handler, with
// the token cache off (cold: full verification) and on (warm: the token was
// seen before), beside the bare signature verification.
func BenchmarkBearer(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		iss := newIssuer(b, oauthtest.WithAlgorithm(alg))
		tok := mint(b, iss, oauthtest.Token{Scope: "read:messages", Permissions: []string{"read:messages"}})
		verify := floor(b, tok, iss.PublicKey(iss.CurrentKeyID()))
		b.Run(alg+"/floor", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				verify()
			}
		})
		for _, mode := range []struct {
			name string
			opt  middleware.Option
		}{
			{"cold", middleware.WithTokenCache(0, 0)},
			{"warm", middleware.WithTokenCache(10_000, 5*time.Minute)},
		} {
			g := newGuard(b, iss, mode.opt)
			h := g.Handler(ok200)
			r := bearer(tok)
			w := &discard{h: http.Header{}}
			h.ServeHTTP(w, r)
			b.Run(alg+"/"+mode.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					h.ServeHTTP(w, r)
				}
			})
		}
	}
}

// BenchmarkDPoP measures one DPoP request (ES256 token, ES256 proof, a fresh
// proof each iteration, made outside the timed loop), cold and with the
// token seen before, beside two and one bare ES256 verifications.
func BenchmarkDPoP(b *testing.B) {
	iss := newIssuer(b, oauthtest.WithAlgorithm("ES256"))
	client := newSigner(b)
	tok := mint(b, iss, oauthtest.Token{JKT: client.Thumbprint()})
	verify := floor(b, tok, iss.PublicKey(iss.CurrentKeyID()))
	b.Run("floor-2xES256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			verify()
			verify()
		}
	})
	b.Run("floor-1xES256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			verify()
		}
	})
	for _, mode := range []struct {
		name string
		opt  middleware.Option
	}{
		{"cold", middleware.WithTokenCache(0, 0)},
		{"warm", middleware.WithTokenCache(10_000, 5*time.Minute)},
	} {
		g := newGuard(b, iss, mode.opt, middleware.WithPublicURL("https://api.example.com"))
		h := g.Handler(ok200)
		w := &discard{h: http.Header{}}
		b.Run(mode.name, func(b *testing.B) {
			const batch = 512
			reqs := make([]*http.Request, 0, batch)
			refill := func() {
				reqs = reqs[:0]
				for range batch {
					reqs = append(reqs, dpopRequest(b, tok, proof(b, client, "GET", resource, tok, "")))
				}
			}
			b.ReportAllocs()
			b.StopTimer()
			refill()
			h.ServeHTTP(w, reqs[0]) // warm the caches
			reqs = reqs[1:]
			b.StartTimer()
			for b.Loop() {
				if len(reqs) == 0 {
					b.StopTimer()
					refill()
					b.StartTimer()
				}
				h.ServeHTTP(w, reqs[0])
				reqs = reqs[1:]
			}
		})
	}
}

// BenchmarkMTLS measures the certificate-bound check beside the plain
// Bearer request (cold), so the binding's cost reads as a ratio.
func BenchmarkMTLS(b *testing.B) {
	iss := newIssuer(b)
	cert, _ := clientCert(b, "client")
	plainTok := mint(b, iss, oauthtest.Token{})
	boundTok := mint(b, iss, oauthtest.Token{X5TS256: mtls.Thumbprint(cert)})
	for _, tc := range []struct{ name, tok string }{{"bearer", plainTok}, {"mtls", boundTok}} {
		g := newGuard(b, iss, middleware.WithTokenCache(0, 0))
		h := g.Handler(ok200)
		r := bearer(tc.tok)
		r.TLS = tlsState(cert)
		w := &discard{h: http.Header{}}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}
