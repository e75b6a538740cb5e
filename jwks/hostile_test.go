package jwks_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/jwks"
)

// TestHostileKeyLookups walks the attacks a token can make on key lookup
// (its iss, kid and alg are attacker-controlled until the signature
// verifies), one row per attack with the sentinel it must get.
func TestHostileKeyLookups(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	body := jwksJSON(t,
		jwkSpec{kid: "rsa", alg: "RS256", use: "sig", pub: rsaKey.Public()},
		jwkSpec{kid: "rsa-any", use: "sig", pub: rsaKey.Public()},
		jwkSpec{kid: "ec", alg: "ES256", use: "sig", pub: ecKey.Public()},
		jwkSpec{kid: "ed", alg: "EdDSA", use: "sig", pub: edPub},
		jwkSpec{kid: "enc", use: "enc", pub: rsaKey.Public()},
	)
	srv := newJWKSServer(t, body)
	const issuer = "https://issuer.example/"
	k := newKeys(t, newClock(), jwks.WithIssuerJWKS(issuer, srv.URL()))

	rows := []struct {
		class, attacks   string
		issuer, kid, alg string
		want             error // nil: a key is returned
	}{
		{"control", "known kid, fitting alg", issuer, "rsa", "RS256", nil},
		{"algorithm confusion", "HMAC with the RSA public key", issuer, "rsa", "HS256", jwks.ErrKeyMismatch},
		{"algorithm confusion", "HMAC with a JWK that names no alg", issuer, "rsa-any", "HS256", jwks.ErrKeyMismatch},
		{"algorithm confusion", "alg none", issuer, "rsa", "none", jwks.ErrKeyMismatch},
		{"algorithm confusion", "RSA key with an EC alg", issuer, "rsa-any", "ES256", jwks.ErrKeyMismatch},
		{"algorithm confusion", "EdDSA with a P-256 key", issuer, "ec", "EdDSA", jwks.ErrKeyMismatch},
		{"algorithm confusion", "P-256 key with ES384", issuer, "ec", "ES384", jwks.ErrKeyMismatch},
		{"algorithm confusion", "Ed25519 key with ES256", issuer, "ed", "ES256", jwks.ErrKeyMismatch},
		{"algorithm confusion", "PS256 against a JWK that says RS256", issuer, "rsa", "PS256", jwks.ErrKeyMismatch},
		{"algorithm confusion", "encryption key used to verify", issuer, "enc", "RS256", jwks.ErrKeyMismatch},
		{"key injection", "path-looking kid", issuer, "../../etc/passwd", "RS256", jwks.ErrKeyNotFound},
		{"key injection", "SQL-looking kid", issuer, "' OR 1=1 --", "RS256", jwks.ErrKeyNotFound},
		{"key injection", "kid with NUL", issuer, "rsa\x00", "RS256", jwks.ErrKeyNotFound},
		{"key injection", "kid differing in case", issuer, "RSA", "RS256", jwks.ErrKeyNotFound},
		{"key injection", "empty kid", issuer, "", "RS256", jwks.ErrKeyNotFound},
		{"key injection", "kid that is a URL", issuer, srv.URL(), "RS256", jwks.ErrKeyNotFound},
		{"issuer confusion", "issuer without the trailing slash", strings.TrimSuffix(issuer, "/"), "rsa", "RS256", jwks.ErrUnknownIssuer},
		{"issuer confusion", "issuer in upper case", strings.ToUpper(issuer), "rsa", "RS256", jwks.ErrUnknownIssuer},
		{"issuer confusion", "the JWKS URL as issuer", srv.URL(), "rsa", "RS256", jwks.ErrUnknownIssuer},
		{"issuer confusion", "attacker's issuer", "https://evil.example/", "rsa", "RS256", jwks.ErrUnknownIssuer},
	}
	for _, tc := range rows {
		t.Run(tc.class+"/"+tc.attacks, func(t *testing.T) {
			key, err := k.Key(t.Context(), tc.issuer, tc.kid, tc.alg)
			if tc.want == nil {
				require.NoError(t, err)
				require.NotNil(t, key)
				return
			}
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, key)
		})
	}
}

// TestJWKSLimits: a body one byte over WithMaxBodySize and a set with one
// key more than WithMaxKeys are refused (fail closed at start, last good
// keys kept on refresh), and refusing a huge body repeatedly reads no more
// than the limit each time.
func TestJWKSLimits(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	const issuer = "https://issuer.example/"
	spec := func(kid string) jwkSpec { return jwkSpec{kid: kid, alg: "RS256", use: "sig", pub: rsaKey.Public()} }
	one := jwksJSON(t, spec("a"))
	pad := func(b []byte, size int) []byte {
		// Valid JSON of exactly size bytes: spaces before the closing brace.
		i := bytes.LastIndexByte(b, '}')
		return append(append(append([]byte{}, b[:i]...), bytes.Repeat([]byte(" "), size-len(b))...), b[i:]...)
	}

	t.Run("body at the limit is read", func(t *testing.T) {
		srv := newJWKSServer(t, pad(one, 4096))
		k := newKeys(t, newClock(), jwks.WithIssuerJWKS(issuer, srv.URL()), jwks.WithMaxBodySize(4096))
		_, err := k.Key(t.Context(), issuer, "a", "RS256")
		require.NoError(t, err)
	})
	t.Run("body one byte over is refused", func(t *testing.T) {
		srv := newJWKSServer(t, pad(one, 4097))
		k := newKeys(t, newClock(), jwks.WithIssuerJWKS(issuer, srv.URL()), jwks.WithMaxBodySize(4096))
		_, err := k.Key(t.Context(), issuer, "a", "RS256")
		require.ErrorIs(t, err, jwks.ErrUnavailable)
	})
	t.Run("keys at the limit are used", func(t *testing.T) {
		srv := newJWKSServer(t, jwksJSON(t, spec("a"), spec("b"), spec("c")))
		k := newKeys(t, newClock(), jwks.WithIssuerJWKS(issuer, srv.URL()), jwks.WithMaxKeys(3))
		_, err := k.Key(t.Context(), issuer, "c", "RS256")
		require.NoError(t, err)
	})
	t.Run("one key over the limit: refused at start, last good kept on refresh", func(t *testing.T) {
		four := jwksJSON(t, spec("a"), spec("b"), spec("c"), spec("d"))
		srv := newJWKSServer(t, four)
		k := newKeys(t, newClock(), jwks.WithIssuerJWKS(issuer, srv.URL()), jwks.WithMaxKeys(3))
		_, err := k.Key(t.Context(), issuer, "a", "RS256")
		require.ErrorIs(t, err, jwks.ErrUnavailable)

		srv2 := newJWKSServer(t, one)
		clk := newClock()
		k2 := newKeys(t, clk, jwks.WithIssuerJWKS(issuer, srv2.URL()), jwks.WithMaxKeys(3))
		srv2.set(four)
		jwks.NewRefreshWindow(k2, issuer)
		_, err = k2.Key(t.Context(), issuer, "d", "RS256") // unknown kid: refresh, refused set
		require.ErrorIs(t, err, jwks.ErrKeyNotFound)
		_, err = k2.Key(t.Context(), issuer, "a", "RS256")
		require.NoError(t, err)
	})
	t.Run("memory stays flat for repeated oversized bodies", func(t *testing.T) {
		const limit, size = 64 << 10, 4 << 20
		srv := newJWKSServer(t, one)
		clk := newClock()
		k := newKeys(t, clk, jwks.WithIssuerJWKS(issuer, srv.URL()), jwks.WithMaxBodySize(limit))
		srv.set(pad(one, size))
		const n = 40
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range n {
			jwks.NewRefreshWindow(k, issuer) // a new rate-limit window each time
			_, err := k.Key(t.Context(), issuer, "unknown", "RS256")
			require.ErrorIs(t, err, jwks.ErrKeyNotFound)
		}
		runtime.ReadMemStats(&after)
		got := after.TotalAlloc - before.TotalAlloc
		t.Logf("%d refreshes of a %d-byte body (limit %d): %d bytes allocated, %d fetches", n, size, limit, got, srv.fetches.Load())
		require.GreaterOrEqual(t, srv.fetches.Load(), int64(n/2), "the refreshes happened")
		assert.Less(t, got, uint64(n*size/8), "each refresh stops reading at the limit")
		_, err := k.Key(t.Context(), issuer, "a", "RS256")
		require.NoError(t, err, "last good keys kept")
	})
}
