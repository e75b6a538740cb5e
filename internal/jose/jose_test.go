package jose_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/internal/jose"
)

func TestSplit(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	good := enc([]byte(`{"alg":"ES256"}`)) + "." + enc([]byte(`{}`)) + "." + enc([]byte{1, 2, 3})
	j, err := jose.Split(good)
	require.NoError(t, err)
	assert.Equal(t, `{"alg":"ES256"}`, string(j.Header))
	assert.Equal(t, `{}`, string(j.Payload))
	assert.Equal(t, []byte{1, 2, 3}, j.Signature)
	assert.Equal(t, good[:strings.LastIndexByte(good, '.')], j.SigningInput)

	for name, in := range map[string]string{
		"empty":            "",
		"two parts":        "a.b",
		"four parts":       good + ".x",
		"empty signature":  good[:strings.LastIndexByte(good, '.')+1],
		"empty header":     "." + strings.SplitN(good, ".", 2)[1],
		"padding":          good + "=",
		"standard base64":  strings.Replace(good, "e", "+", 1),
		"space":            " " + good,
		"five parts (JWE)": "a.b.c.d.e",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := jose.Split(in)
			require.ErrorIs(t, err, jose.ErrMalformed)
		})
	}
}

func TestKeyFitsAndVerify(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)

	tests := []struct {
		alg  string
		key  any
		want error
	}{
		{"RS256", &rsaKey.PublicKey, nil},
		{"PS256", &rsaKey.PublicKey, nil},
		{"RS256", &small.PublicKey, jose.ErrRSAKeyTooSmall},
		{"ES256", &p256.PublicKey, nil},
		{"ES256", &p384.PublicKey, jose.ErrKeyType},
		{"ES384", &p384.PublicKey, nil},
		{"ES256", &rsaKey.PublicKey, jose.ErrKeyType},
		{"RS256", &p256.PublicKey, jose.ErrKeyType},
		{"EdDSA", edPub, nil},
		{"EdDSA", &p256.PublicKey, jose.ErrKeyType},
		{"none", &rsaKey.PublicKey, jose.ErrKeyType},
	}
	for _, tc := range tests {
		t.Run(tc.alg, func(t *testing.T) {
			err := jose.KeyFits(tc.alg, tc.key)
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
		})
	}

	sign := func(m jwt.SigningMethod, key any) (string, []byte) {
		s, err := jwt.New(m).SignedString(key)
		require.NoError(t, err)
		i := strings.LastIndexByte(s, '.')
		sig, err := base64.RawURLEncoding.DecodeString(s[i+1:])
		require.NoError(t, err)
		return s[:i], sig
	}
	in, sig := sign(jwt.SigningMethodES256, p256)
	require.NoError(t, jose.Verify("ES256", in, sig, &p256.PublicKey))
	require.ErrorIs(t, jose.Verify("ES256", in+"x", sig, &p256.PublicKey), jose.ErrSignature)
	require.ErrorIs(t, jose.Verify("none", in, sig, &p256.PublicKey), jose.ErrAlgorithm)
	require.ErrorIs(t, jose.Verify("ES256", in, sig, &rsaKey.PublicKey), jose.ErrKeyType)
	in, sig = sign(jwt.SigningMethodEdDSA, edPriv)
	require.NoError(t, jose.Verify("EdDSA", in, sig, edPub))
	// HS256 is reachable only with a []byte key, never with a public key.
	in, sig = sign(jwt.SigningMethodHS256, []byte("secret"))
	require.NoError(t, jose.Verify("HS256", in, sig, []byte("secret")))
	require.ErrorIs(t, jose.Verify("HS256", in, sig, &rsaKey.PublicKey), jose.ErrKeyType)
}

func TestDepthWithin(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int
		want  bool
	}{
		{`{}`, 1, true},
		{`{"a":{"b":1}}`, 1, false},
		{`{"a":{"b":1}}`, 2, true},
		{`{"a":"{{{{{{"}`, 1, true},
		{`{"a":"\"{{{{"}`, 1, true},
		{strings.Repeat("[", 17) + strings.Repeat("]", 17), 16, false},
		{strings.Repeat("[", 16) + strings.Repeat("]", 16), 16, true},
	} {
		assert.Equal(t, tc.want, jose.DepthWithin([]byte(tc.in), tc.limit), tc.in)
	}
}

func TestIsCompactJWE(t *testing.T) {
	assert.True(t, jose.IsCompactJWE("a.b.c.d.e"))
	assert.False(t, jose.IsCompactJWE("a.b.c"))
}

// FuzzSplit: whatever the input, Split either refuses it or returns parts
// that re-encode to exactly the input.
func FuzzSplit(f *testing.F) {
	f.Add("eyJhbGciOiJFUzI1NiJ9.e30.AQID")
	f.Add("a.b.c")
	f.Add("..")
	f.Add("a.b.c.d.e")
	f.Fuzz(func(t *testing.T, s string) {
		j, err := jose.Split(s)
		if err != nil {
			return
		}
		enc := base64.RawURLEncoding.EncodeToString
		require.Equal(t, s, enc(j.Header)+"."+enc(j.Payload)+"."+enc(j.Signature))
		require.Equal(t, j.SigningInput, enc(j.Header)+"."+enc(j.Payload))
	})
}

// FuzzDepthWithin: never panics, and agrees with a plain bracket count on
// inputs without strings.
func FuzzDepthWithin(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"]"}]}`), 3)
	f.Fuzz(func(t *testing.T, b []byte, limit int) {
		got := jose.DepthWithin(b, limit)
		if strings.ContainsRune(string(b), '"') {
			return
		}
		depth, ok := 0, true
		for _, c := range b {
			switch c {
			case '{', '[':
				depth++
				if depth > limit {
					ok = false
				}
			case '}', ']':
				depth--
			}
		}
		require.Equal(t, ok, got)
	})
}

func TestSHA256(t *testing.T) {
	s := strings.Repeat("token", 200)
	assert.Equal(t, sha256.Sum256([]byte(s)), jose.SHA256(s))
	assert.Equal(t, sha256.Sum256(nil), jose.SHA256(""))
}

// TestSplitRefusesNonCanonicalBase64: "0w" and "00" decode to the same byte
// with a lax decoder; only the canonical form is accepted.
func TestSplitRefusesNonCanonicalBase64(t *testing.T) {
	_, err := jose.Split("0w.0w.0w")
	require.NoError(t, err)
	_, err = jose.Split("00.00.00")
	require.ErrorIs(t, err, jose.ErrMalformed)
}
