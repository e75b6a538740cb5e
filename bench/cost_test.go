package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
)

// The cost benchmarks use a fixed RSA key (testdata/rs256-bench-key.pem)
// and a fixed token, so that a run's instruction count depends only on the
// code measured: with a key generated per run, the prime search alone
// varied callgrind's totals by more than a billion instructions. They build
// only on jwks.New and middleware.New, so that the same file measures older
// commits (bench/profile.sh, BENCHMARKS.md "Cost budget").

const costIssuer = "https://issuer.example/"

func costKey(tb testing.TB) *rsa.PrivateKey {
	tb.Helper()
	b, err := os.ReadFile("testdata/rs256-bench-key.pem")
	require.NoError(tb, err)
	block, _ := pem.Decode(b)
	require.NotNil(tb, block)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	require.NoError(tb, err)
	return k.(*rsa.PrivateKey)
}

// costECKey and costEdKey are fixed test keys, derived from constants.
func costECKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	d := sha256.Sum256([]byte("senderbound bench ES256 key"))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	require.NoError(tb, err)
	return k
}

func costEdKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("senderbound bench EdDSA key"))
	return ed25519.NewKeyFromSeed(seed[:])
}

// costToken is an RFC 9068 access token of the usual size, signed RS256.
func costToken(tb testing.TB, key *rsa.PrivateKey) string {
	return costTokenSigned(tb, jwt.SigningMethodRS256, key)
}

func costTokenSigned(tb testing.TB, m jwt.SigningMethod, key crypto.Signer) string {
	return costTokenWith(tb, m, key, nil)
}

// costTokenWith signs the cost token, with cnf when not nil.
func costTokenWith(tb testing.TB, m jwt.SigningMethod, key crypto.Signer, cnf map[string]string) string {
	tb.Helper()
	claims := jwt.MapClaims{
		"iss": costIssuer, "sub": "user-1234", "aud": "https://api.example", "client_id": "client-42",
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "jti": "0f8a7c1e-3b2d-4e5f-8a9b-1c2d3e4f5a6b",
		"scope": "read:messages write:messages", "permissions": []string{"read:messages"},
	}
	if cnf != nil {
		claims["cnf"] = cnf
	}
	t := jwt.NewWithClaims(m, claims)
	t.Header["kid"] = "bench-1"
	t.Header["typ"] = "at+jwt"
	s, err := t.SignedString(key)
	require.NoError(tb, err)
	return s
}

// costJWKS serves key's public JWK as the issuer's JWKS.
func costJWKS(tb testing.TB, key crypto.PublicKey) *jwks.Keys {
	tb.Helper()
	b64 := base64.RawURLEncoding
	var jwk map[string]string
	switch k := key.(type) {
	case *rsa.PublicKey:
		jwk = map[string]string{"kty": "RSA", "alg": "RS256",
			"n": b64.EncodeToString(k.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		p, err := k.Bytes()
		require.NoError(tb, err)
		jwk = map[string]string{"kty": "EC", "alg": "ES256", "crv": "P-256",
			"x": b64.EncodeToString(p[1:33]), "y": b64.EncodeToString(p[33:])}
	case ed25519.PublicKey:
		jwk = map[string]string{"kty": "OKP", "alg": "EdDSA", "crv": "Ed25519", "x": b64.EncodeToString(k)}
	}
	jwk["kid"], jwk["use"] = "bench-1", "sig"
	body, err := json.Marshal(map[string]any{"keys": []map[string]string{jwk}})
	require.NoError(tb, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	tb.Cleanup(srv.Close)
	k, err := jwks.New(context.Background(), jwks.WithIssuerJWKS(costIssuer, srv.URL))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = k.Close() })
	return k
}

// fixedKey is a KeySource of one key: Verify "with a fixed key".
type fixedKey struct{ key crypto.PublicKey }

func (f fixedKey) Key(context.Context, string, string, string) (crypto.PublicKey, error) {
	return f.key, nil
}

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// BenchmarkCost measures cold Bearer RS256 on a fixed key and token: the
// floor (SHA-256 and rsa.VerifyPKCS1v15), Guard.Verify with a fixed key,
// Guard.Handler with the same fixed key, and Guard.Handler with keys from
// jwks (on keyfunc), the outside harness's path. Each runs alone, for
// instruction counts (callgrind) and profiles; BenchmarkRatio interleaves.
func BenchmarkCost(b *testing.B) {
	key := costKey(b)
	tok := costToken(b, key)
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	require.NoError(b, err)
	input := []byte(tok[:i])
	b.Run("floor-RS256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d := sha256.Sum256(input)
			if rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, d[:], sig) != nil {
				b.Fatal("bad signature")
			}
		}
	})
	guard := func(b *testing.B, keys middleware.KeySource, opts ...middleware.Option) *middleware.Guard {
		opts = append([]middleware.Option{middleware.WithAudience("https://api.example"), middleware.WithTokenCache(0, 0)}, opts...)
		g, err := middleware.New(keys, opts...)
		require.NoError(b, err)
		return g
	}
	b.Run("verify-fixedkey-RS256-cold", func(b *testing.B) {
		g := guard(b, fixedKey{&key.PublicKey})
		ctx := context.Background()
		req := middleware.Request{Scheme: "Bearer", Token: tok, Method: http.MethodGet}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := g.Verify(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	fixed := func(*testing.B) middleware.KeySource { return fixedKey{&key.PublicKey} }
	fromJWKS := func(b *testing.B) middleware.KeySource { return costJWKS(b, &key.PublicKey) }
	for _, src := range []struct {
		name string
		keys func(b *testing.B) middleware.KeySource
		opts []middleware.Option
	}{
		{"handler-fixedkey-RS256-cold", fixed, nil},
		{"handler-jwks-RS256-cold", fromJWKS, nil},
		{"handler-jwks-RS256-warm", fromJWKS, []middleware.Option{middleware.WithTokenCache(1000, time.Minute)}},
	} {
		b.Run(src.name, func(b *testing.B) {
			serveCost(b, guard(b, src.keys(b), src.opts...), tok, nil)
		})
	}

	// ES256 and EdDSA, cold, keys from jwks, beside their floors.
	ec, ed := costECKey(b), costEdKey()
	for _, alg := range []struct {
		name   string
		m      jwt.SigningMethod
		signer crypto.Signer
		// floor verifies sig (for ES256: in ASN.1, converted before the
		// timed loop, as crypto/ecdsa takes it).
		floor func(input, sig []byte) bool
	}{
		{"ES256", jwt.SigningMethodES256, ec, func(input, sig []byte) bool {
			d := sha256.Sum256(input)
			return ecdsa.VerifyASN1(&ec.PublicKey, d[:], sig)
		}},
		{"EdDSA", jwt.SigningMethodEdDSA, ed, func(input, sig []byte) bool {
			return ed25519.Verify(ed.Public().(ed25519.PublicKey), input, sig)
		}},
	} {
		tok := costTokenSigned(b, alg.m, alg.signer)
		i := strings.LastIndexByte(tok, '.')
		sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
		require.NoError(b, err)
		if alg.name == "ES256" {
			sig, err = asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])})
			require.NoError(b, err)
		}
		input := []byte(tok[:i])
		b.Run("floor-"+alg.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !alg.floor(input, sig) {
					b.Fatal("bad signature")
				}
			}
		})
		b.Run("handler-jwks-"+alg.name+"-cold", func(b *testing.B) {
			serveCost(b, guard(b, costJWKS(b, alg.signer.Public())), tok, nil)
		})
	}

	// mTLS: a certificate-bound token beside a plain one, both over a TLS
	// connection state carrying the client certificate.
	cert := clientCert(b)
	state := &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{cert}}
	for _, row := range []struct {
		name string
		cnf  map[string]string
	}{
		{"handler-jwks-RS256-tls-plain-cold", nil},
		{"handler-jwks-RS256-tls-bound-cold", map[string]string{"x5t#S256": mtls.Thumbprint(cert)}},
	} {
		tok := costTokenWith(b, jwt.SigningMethodRS256, key, row.cnf)
		b.Run(row.name, func(b *testing.B) {
			serveCost(b, guard(b, fromJWKS(b)), tok, state)
		})
	}
}

// serveCost sends one Bearer request with tok through g's Handler b.N
// times (over the TLS connection state, if not nil), failing unless every request
// reached the handler.
func serveCost(b *testing.B, g *middleware.Guard, tok string, state *tls.ConnectionState) {
	served := 0
	h := g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served++ }))
	r := httptest.NewRequest(http.MethodGet, "https://api.example/resource", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	r.TLS = state
	w := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
	if served != b.N {
		b.Fatalf("%d of %d requests served", served, b.N)
	}
}
