package jwks_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"strings"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/jwks"
)

// jwkOf marshals key (public or private, with its private members when
// private) as a JWK with kid.
func jwkOf(t *testing.T, key any, kid string, private bool) jwkset.JWKMarshal {
	t.Helper()
	j, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{
		Marshal:  jwkset.JWKMarshalOptions{Private: private},
		Metadata: jwkset.JWKMetadataOptions{KID: kid},
	})
	require.NoError(t, err)
	return j.Marshal()
}

// setOf marshals a JWK Set.
func setOf(t *testing.T, keys ...jwkset.JWKMarshal) []byte {
	t.Helper()
	b, err := json.Marshal(jwkset.JWKSMarshal{Keys: keys})
	require.NoError(t, err)
	return b
}

// leakedKeys returns a JWK Set whose every key but "good" publishes
// private members: whole private keys of each type, an RSA key with only
// "d" or only a CRT value (which jwkset reads as a public key, dropping
// the member), an EC key whose "d" is spelled "D" (Go's JSON decoding
// matches it), and a symmetric key.
func leakedKeys(t *testing.T) (body []byte, leaked []string) {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	good, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)

	full := jwkOf(t, rsaKey, "leaked-rsa", true)
	dOnly := jwkOf(t, &rsaKey.PublicKey, "leaked-rsa-d", false)
	dOnly.D = full.D
	pOnly := jwkOf(t, &rsaKey.PublicKey, "leaked-rsa-p", false)
	pOnly.P = full.P
	set := setOf(t,
		jwkOf(t, &good.PublicKey, "good", false),
		full, dOnly, pOnly,
		jwkOf(t, ecKey, "leaked-ec", true),
		jwkOf(t, edKey, "leaked-ed", true),
		jwkOf(t, []byte("0123456789abcdef0123456789abcdef"), "secret", true),
	)
	// The same EC private key once more, its "d" spelled "D".
	ecMarshal := jwkOf(t, ecKey, "leaked-ec-upper", true)
	raw, err := json.Marshal(ecMarshal)
	require.NoError(t, err)
	upper := strings.Replace(string(raw), `"d":`, `"D":`, 1)
	body = []byte(strings.Replace(string(set), `]}`, `,`+upper+`]}`, 1))
	return body, []string{"leaked-rsa", "leaked-rsa-d", "leaked-rsa-p", "leaked-ec", "leaked-ed", "secret", "leaked-ec-upper"}
}

// TestKeyWithPrivateMembersNeverVerifies: a JWK that publishes private
// members (d, the RSA CRT values, oth, k) is never used to verify; anyone
// who reads the JWKS could sign with it. Keys skips it (the other keys of
// the set still verify), logs it and lists it in the issuer's status; a
// key that was published properly before and is republished with private
// members stops verifying at that refresh (refusing the whole set would
// have kept it). KeyfuncSource refuses such a key too.
func TestKeyWithPrivateMembersNeverVerifies(t *testing.T) {
	body, leaked := leakedKeys(t)
	srv := newJWKSServer(t, body)
	const issuer = "https://issuer.example/"
	k := newKeys(t, newClock(), jwks.WithIssuerJWKS(issuer, srv.URL()))

	_, err := k.Key(t.Context(), issuer, "good", "RS256")
	require.NoError(t, err)
	for _, kid := range leaked {
		_, err := k.Key(t.Context(), issuer, kid, algFor(kid))
		assert.ErrorIs(t, err, jwks.ErrKeyNotFound, kid)
	}
	st := k.Status()[0]
	assert.Equal(t, 1, st.Keys)
	require.Len(t, st.Skipped, len(leaked))
	for i, kid := range leaked {
		assert.Contains(t, st.Skipped[i], `"`+kid+`"`)
		assert.Contains(t, st.Skipped[i], "private")
	}
	js, err := json.Marshal(st)
	require.NoError(t, err)
	assert.Contains(t, string(js), `"skipped":[`)

	t.Run("a key republished with private members stops verifying", func(t *testing.T) {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		good := jwkOf(t, &priv.PublicKey, "k1", false)
		other := jwkOf(t, testRSA(t), "k2", false)
		srv := newJWKSServer(t, setOf(t, good, other))
		k := newKeys(t, newClock(), jwks.WithIssuerJWKS(issuer, srv.URL()))
		_, err = k.Key(t.Context(), issuer, "k1", "ES256")
		require.NoError(t, err)

		srv.set(setOf(t, jwkOf(t, priv, "k1", true), other))
		jwks.NewRefreshWindow(k, issuer)
		_, err = k.Key(t.Context(), issuer, "rotated", "ES256") // an unknown kid refreshes
		require.ErrorIs(t, err, jwks.ErrKeyNotFound)
		require.EqualValues(t, 2, srv.fetches.Load())
		_, err = k.Key(t.Context(), issuer, "k1", "ES256")
		require.ErrorIs(t, err, jwks.ErrKeyNotFound)
	})

	t.Run("a set of only such keys is refused", func(t *testing.T) {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		srv := newJWKSServer(t, setOf(t, jwkOf(t, priv, "k1", true)))
		k := newKeys(t, newClock(), jwks.WithIssuerJWKS(issuer, srv.URL()))
		_, err = k.Key(t.Context(), issuer, "k1", "ES256")
		require.ErrorIs(t, err, jwks.ErrUnavailable)
		assert.ErrorContains(t, err, "private")
	})

	t.Run("KeyfuncSource", func(t *testing.T) {
		kf, err := keyfunc.NewJWKSetJSON(body)
		require.NoError(t, err)
		s, err := jwks.NewKeyfuncSource(map[string]keyfunc.Keyfunc{issuer: kf})
		require.NoError(t, err)
		_, err = s.Key(t.Context(), issuer, "good", "RS256")
		require.NoError(t, err)
		// jwkset drops an RSA "d" or CRT value published without all the
		// others before KeyfuncSource can see it (see NewKeyfuncSource).
		for _, kid := range []string{"leaked-rsa", "leaked-ec", "leaked-ed", "secret", "leaked-ec-upper"} {
			key, err := s.Key(t.Context(), issuer, kid, algFor(kid))
			assert.ErrorIs(t, err, jwks.ErrKeyNotFound, kid)
			assert.ErrorContains(t, err, "private", kid)
			assert.Nil(t, key)
		}
	})
}

func algFor(kid string) string {
	switch {
	case strings.Contains(kid, "ec"):
		return "ES256"
	case strings.Contains(kid, "ed"):
		return "EdDSA"
	}
	return "RS256"
}

// TestKeyOpsDecideVerification: when a JWK has "key_ops", only a key whose
// key_ops holds "verify" verifies signatures; a JWK whose "use" and
// "key_ops" contradict each other, or whose key_ops repeats a value
// (RFC 7517 §4.3), is never used: Keys skips it and lists it in the status,
// KeyfuncSource refuses it.
func TestKeyOpsDecideVerification(t *testing.T) {
	pub := testRSA(t)
	withOps := func(kid, use string, ops ...jwkset.KEYOPS) jwkset.JWKMarshal {
		m := jwkOf(t, pub, kid, false)
		m.USE, m.KEYOPS = jwkset.USE(use), ops
		return m
	}
	body := setOf(t,
		withOps("verify", "", jwkset.KeyOpsVerify),
		withOps("sig-verify", "sig", jwkset.KeyOpsVerify),
		withOps("sign-and-verify", "", jwkset.KeyOpsSign, jwkset.KeyOpsVerify),
		withOps("encrypt", "", jwkset.KeyOpsEncrypt, jwkset.KeyOpsWrapKey),
		withOps("sign-only", "sig", jwkset.KeyOpsSign),
		withOps("sig-with-encrypt", "sig", jwkset.KeyOpsVerify, jwkset.KeyOpsEncrypt),
		withOps("enc-with-verify", "enc", jwkset.KeyOpsVerify),
		withOps("verify-twice", "", jwkset.KeyOpsVerify, jwkset.KeyOpsVerify),
	)
	tests := []struct {
		kid  string
		want error // nil: the key verifies
	}{
		{"verify", nil},
		{"sig-verify", nil},
		{"sign-and-verify", nil},
		{"encrypt", jwks.ErrKeyMismatch},
		{"sign-only", jwks.ErrKeyMismatch},
		{"sig-with-encrypt", jwks.ErrKeyNotFound},
		{"enc-with-verify", jwks.ErrKeyNotFound},
		{"verify-twice", jwks.ErrKeyNotFound},
	}
	const issuer = "https://issuer.example/"
	srv := newJWKSServer(t, body)
	k := newKeys(t, newClock(), jwks.WithIssuerJWKS(issuer, srv.URL()))
	kf, err := keyfunc.NewJWKSetJSON(body)
	require.NoError(t, err)
	s, err := jwks.NewKeyfuncSource(map[string]keyfunc.Keyfunc{issuer: kf})
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.kid, func(t *testing.T) {
			for name, src := range map[string]interface {
				Key(ctx context.Context, issuer, kid, alg string) (crypto.PublicKey, error)
			}{"Keys": k, "KeyfuncSource": s} {
				key, err := src.Key(t.Context(), issuer, tt.kid, "RS256")
				if tt.want == nil {
					assert.NoError(t, err, name)
					assert.NotNil(t, key, name)
					continue
				}
				assert.ErrorIs(t, err, tt.want, name)
				assert.Nil(t, key, name)
			}
		})
	}
	st := k.Status()[0]
	assert.Equal(t, 3, st.Keys, "only the keys that may verify count")
	require.Len(t, st.Skipped, 3)
	assert.Contains(t, st.Skipped[0], `"sig-with-encrypt"`)
	assert.Contains(t, st.Skipped[1], `"enc-with-verify"`)
	assert.Contains(t, st.Skipped[2], `"verify-twice"`)
}
