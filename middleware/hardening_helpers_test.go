package middleware_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// Helpers for the hardening tests (fuzz, hostile, faults, load, limits).

// hzNow is the fixed instant the fuzz targets run at, so that tokens and
// proofs minted once stay valid for the whole run.
var hzNow = time.Unix(1_700_000_000, 0)

func hzClock() time.Time { return hzNow }

// staticKeys is a KeySource over one issuer's published keys, without HTTP,
// so fuzz targets spend their time in the middleware and not on loopback.
type staticKeys struct {
	issuer string
	keys   map[string]crypto.PublicKey
}

func newStaticKeys(iss *oauthtest.Issuer) *staticKeys {
	k := &staticKeys{issuer: iss.Issuer(), keys: map[string]crypto.PublicKey{}}
	for _, kid := range iss.KeyIDs() {
		k.keys[kid] = iss.PublicKey(kid)
	}
	return k
}

func (s *staticKeys) Key(_ context.Context, issuer, kid, _ string) (crypto.PublicKey, error) {
	if issuer != s.issuer {
		return nil, jwks.ErrUnknownIssuer
	}
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("kid: %w", jwks.ErrKeyNotFound)
}

// fixedWorld is a Guard at hzNow with one issuer, one DPoP client, and the
// credentials that are valid for it.
type fixedWorld struct {
	iss      *oauthtest.Issuer
	g        *middleware.Guard
	signer   *dpop.Signer
	bearer   string // unbound token
	bound    string // token bound to signer
	proof    string // proof for GET resource with bound
	resource *url.URL
}

var (
	fixedOnce sync.Once
	fixed     *fixedWorld
	fixedErr  error
)

// newFixedWorld builds (once per test binary) the world the fuzz targets
// share. Its issuer is never closed: it lives as long as the fuzz worker.
func newFixedWorld(t testing.TB) *fixedWorld {
	t.Helper()
	fixedOnce.Do(func() { fixed, fixedErr = buildFixedWorld(t) })
	require.NoError(t, fixedErr)
	return fixed
}

func buildFixedWorld(t testing.TB) (*fixedWorld, error) {
	iss, err := oauthtest.NewIssuer(oauthtest.WithClock(hzClock), oauthtest.WithAlgorithm("ES256"))
	if err != nil {
		return nil, err
	}
	w := &fixedWorld{iss: iss}
	w.resource, _ = url.Parse(resource)
	v, err := dpop.NewVerifier(dpop.WithClock(hzClock))
	if err != nil {
		return nil, err
	}
	if w.g, err = middleware.New(newStaticKeys(iss), middleware.WithAudience(audience),
		middleware.WithClock(hzClock), middleware.WithDPoP(v)); err != nil {
		return nil, err
	}
	if w.signer, err = dpop.NewSigner(hzECKey(t), dpop.WithSignerClock(hzClock)); err != nil {
		return nil, err
	}
	if w.bearer, err = iss.Mint(oauthtest.Token{}); err != nil {
		return nil, err
	}
	if w.bound, err = iss.Mint(oauthtest.Token{JKT: w.signer.Thumbprint()}); err != nil {
		return nil, err
	}
	w.proof, err = w.signer.Proof("GET", resource, w.bound, "")
	return w, err
}

// hzECKey returns a fresh P-256 key.
func hzECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

// sameJWS reports whether two compact JWS strings are the same credential:
// the same signing input and the same decoded signature. It tolerates the
// non-canonical base64url trailing bits that the decoder ignores (see the
// hardening report), and nothing else.
func sameJWS(a, b string) bool {
	ia, ib := strings.LastIndexByte(a, '.'), strings.LastIndexByte(b, '.')
	if ia < 0 || ib < 0 || a[:ia] != b[:ib] {
		return false
	}
	sa, err1 := base64.RawURLEncoding.DecodeString(a[ia+1:])
	sb, err2 := base64.RawURLEncoding.DecodeString(b[ib+1:])
	return err1 == nil && err2 == nil && string(sa) == string(sb)
}
