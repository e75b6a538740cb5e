package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/jwks/jwkstest"
	"github.com/senderbound/senderbound/middleware"
)

// newIssuer starts a fake issuer that is closed when the test ends.
func newIssuer(tb testing.TB, opts ...jwkstest.Option) *jwkstest.Issuer {
	tb.Helper()
	iss, err := jwkstest.NewIssuer(opts...)
	require.NoError(tb, err)
	tb.Cleanup(iss.Close)
	return iss
}

// newGuard returns a Guard that trusts iss, for the issuer's default
// audience, with its keys fetched once before it returns.
func newGuard(tb testing.TB, iss *jwkstest.Issuer, opts ...middleware.Option) *middleware.Guard {
	tb.Helper()
	keys, err := jwks.New(context.Background(), jwks.WithIssuerJWKS(iss.Issuer(), iss.JWKSURL()))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = keys.Close() })
	g, err := middleware.New(keys, append([]middleware.Option{middleware.WithAudience(jwkstest.DefaultAudience)}, opts...)...)
	require.NoError(tb, err)
	return g
}

func mint(tb testing.TB, iss *jwkstest.Issuer, tok jwkstest.Token) string {
	tb.Helper()
	s, err := iss.Mint(tok)
	require.NoError(tb, err)
	return s
}

// newSigner returns a DPoP proof signer with a fresh P-256 key.
func newSigner(tb testing.TB, opts ...dpop.SignerOption) (*dpop.Signer, *ecdsa.PublicKey) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	s, err := dpop.NewSigner(key, opts...)
	require.NoError(tb, err)
	return s, &key.PublicKey
}

// proofs makes n proofs for GET uri with token, on all CPUs, before a
// benchmark's timed part.
func proofs(tb testing.TB, s *dpop.Signer, uri, token string, n int) []string {
	tb.Helper()
	out := make([]string, n)
	workers := runtime.GOMAXPROCS(0)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				p, err := s.Proof(http.MethodGet, uri, token, "")
				if err != nil {
					errs[w] = err
					return
				}
				out[i] = p
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(tb, err)
	}
	return out
}

// floorVerify returns a function that checks the signature of a compact JWS
// made by pub with SHA-256 (RS256, ES256 or EdDSA) using the standard
// library alone, and nothing else: the cost that no verifier can avoid. It
// splits at the last dot and base64-decodes the signature, as any verifier
// must.
func floorVerify(tb testing.TB, pub crypto.PublicKey) func(jws string) bool {
	tb.Helper()
	split := func(jws string) (input, sig []byte, ok bool) {
		i := strings.LastIndexByte(jws, '.')
		if i < 0 {
			return nil, nil, false
		}
		sig, err := base64.RawURLEncoding.DecodeString(jws[i+1:])
		if err != nil {
			return nil, nil, false
		}
		return []byte(jws[:i]), sig, true
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return func(jws string) bool {
			input, sig, ok := split(jws)
			if !ok {
				return false
			}
			d := sha256.Sum256(input)
			return rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) == nil
		}
	case *ecdsa.PublicKey:
		return func(jws string) bool {
			input, sig, ok := split(jws)
			if !ok || len(sig) != 64 {
				return false
			}
			d := sha256.Sum256(input)
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			return ecdsa.Verify(k, d[:], r, s)
		}
	case ed25519.PublicKey:
		return func(jws string) bool {
			input, sig, ok := split(jws)
			return ok && ed25519.Verify(k, input, sig)
		}
	}
	tb.Fatalf("floorVerify: key type %T", pub)
	return nil
}
