package grpcguard_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/grpcguard"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// BenchmarkUnary measures the interceptor on a unary call without the
// network, in one run beside its baselines: the handler called directly
// (the same server without the interceptor), a warm Bearer token (the token
// cache holds it), a warm DPoP call (token cached, a fresh proof each time)
// and one bare ES256 verification of such a proof, the floor of any DPoP
// check.
func BenchmarkUnary(b *testing.B) {
	iss, err := oauthtest.NewIssuer(oauthtest.WithAlgorithm("ES256"))
	require.NoError(b, err)
	defer iss.Close()
	keys, err := jwks.New(context.Background(), jwks.WithIssuer(iss.Issuer()))
	require.NoError(b, err)
	defer keys.Close()
	g, err := middleware.New(keys, middleware.WithAudience(iss.Audience()))
	require.NoError(b, err)
	in, err := grpcguard.New(g, grpcguard.WithScopes(map[string][]string{unaryMethod: {"read:things"}}))
	require.NoError(b, err)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(b, err)
	signer, err := dpop.NewSigner(key)
	require.NoError(b, err)
	bearer, err := iss.Mint(oauthtest.Token{Scope: "read:things"})
	require.NoError(b, err)
	bound, err := iss.Mint(oauthtest.Token{Scope: "read:things", JKT: signer.Thumbprint()})
	require.NoError(b, err)

	const authority = "api.example.com:443"
	htu := "https://" + authority + unaryMethod
	p := &peer.Peer{
		Addr:     &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 50000},
		AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{}, CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}},
	}
	callCtx := func(pairs ...string) context.Context {
		md := metadata.Pairs(append([]string{":authority", authority}, pairs...)...)
		return peer.NewContext(metadata.NewIncomingContext(context.Background(), md), p)
	}
	info := &grpc.UnaryServerInfo{FullMethod: unaryMethod}
	handler := func(ctx context.Context, req any) (any, error) {
		if _, ok := middleware.ClaimsFromContext(ctx); !ok && ctx.Value(bareKey{}) == nil {
			b.Fatal("handler without claims")
		}
		return req, nil
	}
	mustOK := func(_ any, err error) {
		if err != nil {
			b.Fatal(err)
		}
	}

	b.Run("bare", func(b *testing.B) {
		ctx := context.WithValue(callCtx("authorization", "Bearer "+bearer), bareKey{}, true)
		b.ReportAllocs()
		for b.Loop() {
			mustOK(handler(ctx, nil))
		}
	})
	b.Run("bearer-warm", func(b *testing.B) {
		ctx := callCtx("authorization", "Bearer "+bearer)
		mustOK(in.Unary(ctx, nil, info, handler))
		b.ReportAllocs()
		for b.Loop() {
			mustOK(in.Unary(ctx, nil, info, handler))
		}
	})

	// The HTTP middleware on the same token, for the overhead it sets.
	b.Run("http-bearer-warm", func(b *testing.B) {
		h := g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		r := httptest.NewRequest(http.MethodPost, htu, nil)
		r.Header.Set("Authorization", "Bearer "+bearer)
		w := &discard{h: http.Header{}}
		h.ServeHTTP(w, r)
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
	})

	// Proofs are single-use: sign them all before the timer starts.
	proofs := func(n int) []context.Context {
		ctxs := make([]context.Context, n)
		for i := range ctxs {
			pr, err := signer.Proof("POST", htu, bound, "")
			require.NoError(b, err)
			ctxs[i] = callCtx("authorization", "DPoP "+bound, "dpop", pr)
		}
		return ctxs
	}
	warm := proofs(1)
	mustOK(in.Unary(warm[0], nil, info, handler))
	b.Run("dpop-warm", func(b *testing.B) {
		ctxs := proofs(b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			mustOK(in.Unary(ctxs[i], nil, info, handler))
		}
	})
	// The floor: one ES256 verification of a proof, standard library only.
	pr, err := signer.Proof("POST", htu, bound, "")
	require.NoError(b, err)
	dot := strings.LastIndexByte(pr, '.')
	sig, err := base64.RawURLEncoding.DecodeString(pr[dot+1:])
	require.NoError(b, err)
	der := asn1Sig(new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	input := []byte(pr[:dot])
	verify := func() {
		d := sha256.Sum256(input)
		if !ecdsa.VerifyASN1(&key.PublicKey, d[:], der) {
			b.Fatal("bad signature")
		}
	}
	b.Run("es256-verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			verify()
		}
	})

	// ratio interleaves the measurements call by call, so that a machine
	// whose load changes during the run skews both sides alike. It reports
	// the warm DPoP call over one ES256 verification, and the warm Bearer
	// overhead (interceptor minus bare handler) beside the HTTP
	// middleware's whole warm Bearer cost.
	b.Run("ratio", func(b *testing.B) {
		const inner = 20 // cheap calls per iteration, to outweigh time.Now
		ctxs := proofs(b.N)
		bearerCtx := callCtx("authorization", "Bearer "+bearer)
		bareCtx := context.WithValue(bearerCtx, bareKey{}, true)
		h := g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		r := httptest.NewRequest(http.MethodPost, htu, nil)
		r.Header.Set("Authorization", "Bearer "+bearer)
		w := &discard{h: http.Header{}}
		var tDPoP, tVerify, tBearer, tBare, tHTTP time.Duration
		// The fastest of each: preemption on a loaded machine only adds.
		minDPoP, minVerify := time.Duration(1<<62), time.Duration(1<<62)
		minBearer, minBare, minHTTP := minDPoP, minDPoP, minDPoP
		b.ResetTimer()
		for i := range b.N {
			t0 := time.Now()
			mustOK(in.Unary(ctxs[i], nil, info, handler))
			t1 := time.Now()
			verify()
			t2 := time.Now()
			for range inner {
				mustOK(in.Unary(bearerCtx, nil, info, handler))
			}
			t3 := time.Now()
			for range inner {
				mustOK(handler(bareCtx, nil))
			}
			t4 := time.Now()
			for range inner {
				h.ServeHTTP(w, r)
			}
			t5 := time.Now()
			minDPoP, minVerify = min(minDPoP, t1.Sub(t0)), min(minVerify, t2.Sub(t1))
			minBearer, minBare, minHTTP = min(minBearer, t3.Sub(t2)), min(minBare, t4.Sub(t3)), min(minHTTP, t5.Sub(t4))
			tDPoP, tVerify, tBearer, tBare, tHTTP = tDPoP+t1.Sub(t0), tVerify+t2.Sub(t1), tBearer+t3.Sub(t2), tBare+t4.Sub(t3), tHTTP+t5.Sub(t4)
		}
		n := float64(b.N * inner)
		b.ReportMetric(float64(tDPoP)/float64(tVerify), "dpop/es256")
		b.ReportMetric(float64(minDPoP)/float64(minVerify), "dpop/es256-fastest")
		b.ReportMetric(float64(tBearer-tBare)/n, "bearer-overhead-ns")
		b.ReportMetric(float64(tHTTP)/n, "http-bearer-ns")
		b.ReportMetric(float64(minBearer-minBare)/inner, "bearer-overhead-ns-fastest")
		b.ReportMetric(float64(minHTTP)/inner, "http-bearer-ns-fastest")
	})
}

type bareKey struct{}

// discard is a ResponseWriter that costs nothing.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

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
