package middleware_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gojose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/internal/jwe"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

func rsaKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return k
}

func TestEncryptedTokens(t *testing.T) {
	iss := newIssuer(t)
	k1, k2 := rsaKey(t), rsaKey(t)
	g := newGuard(t, iss, middleware.WithDecryptionKeys(map[string]*rsa.PrivateKey{"rs-1": k1, "rs-2": k2}))

	t.Run("every algorithm pair round-trips", func(t *testing.T) {
		for _, alg := range []string{"RSA-OAEP-256", "RSA-OAEP-384", "RSA-OAEP-512"} {
			for _, enc := range []string{"A256GCM", "A128CBC-HS256"} {
				t.Run(alg+"/"+enc, func(t *testing.T) {
					tok, err := iss.MintEncrypted(oauthtest.Token{Subject: "enc"}, &k1.PublicKey, "rs-1", alg, enc)
					require.NoError(t, err)
					got, err := g.Check(bearer(tok))
					require.NoError(t, err)
					assert.Equal(t, "enc", got.Claims.Subject())
				})
			}
		}
	})
	t.Run("two keys during rotation", func(t *testing.T) {
		for kid, k := range map[string]*rsa.PrivateKey{"rs-1": k1, "rs-2": k2} {
			tok, err := iss.MintEncrypted(oauthtest.Token{}, &k.PublicKey, kid, "RSA-OAEP-256", "A256GCM")
			require.NoError(t, err)
			_, err = g.Check(bearer(tok))
			require.NoError(t, err, kid)
		}
	})

	good, err := iss.MintEncrypted(oauthtest.Token{}, &k1.PublicKey, "rs-1", "RSA-OAEP-256", "A256GCM")
	require.NoError(t, err)
	parts := strings.Split(good, ".")
	tamper := func(i int) string {
		p := append([]string(nil), parts...)
		b, err := base64.RawURLEncoding.DecodeString(p[i])
		require.NoError(t, err)
		b[len(b)/2] ^= 1
		p[i] = base64.RawURLEncoding.EncodeToString(b)
		return strings.Join(p, ".")
	}
	unsignedInner, err := jwe.Encrypt("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", &k1.PublicKey, "rs-1", "RSA-OAEP-256", "A256GCM")
	if err == nil { // Encrypt may itself refuse an unsigned payload; either way it never verifies
		_, cerr := g.Check(bearer(unsignedInner))
		require.ErrorIs(t, cerr, middleware.ErrMalformedToken)
	}
	rs1, err := iss.MintEncrypted(oauthtest.Token{}, &k1.PublicKey, "rs-1", "RSA-OAEP-256", "A192GCM")
	require.NoError(t, err)
	unknown, err := iss.MintEncrypted(oauthtest.Token{}, &rsaKey(t).PublicKey, "rs-9", "RSA-OAEP-256", "A256GCM")
	require.NoError(t, err)

	tests := []struct {
		name  string
		g     *middleware.Guard
		token string
		want  error
	}{
		{"encrypted token but no decryption key configured", newGuard(t, iss), good, middleware.ErrMalformedToken},
		{"content encryption not allowed", g, rs1, jwe.ErrAlgorithm},
		{"unknown kid", g, unknown, jwe.ErrUnknownKey},
		{"tampered ciphertext", g, tamper(3), jwe.ErrDecrypt},
		{"tampered tag", g, tamper(4), jwe.ErrDecrypt},
		{"tampered encrypted key", g, tamper(1), jwe.ErrDecrypt},
		{"over the size limit, before decryption", newGuard(t, iss, middleware.WithMaxTokenSize(1024),
			middleware.WithDecryptionKeys(map[string]*rsa.PrivateKey{"rs-1": k1})), good + strings.Repeat("A", 1024), middleware.ErrTokenTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.g.Check(bearer(tc.token))
			require.ErrorIs(t, err, tc.want)
			var e *middleware.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, middleware.CodeInvalidToken, e.Code)
			assert.Equal(t, http.StatusUnauthorized, e.Status)
		})
	}
}

// TestEncryptedDPoPBoundToken: ath is computed over the token as sent (the
// JWE), cnf comes from the decrypted claims; the client transport does not
// need to know the token is encrypted.
func TestEncryptedDPoPBoundToken(t *testing.T) {
	iss := newIssuer(t)
	k := rsaKey(t)
	client := newSigner(t)
	g := newGuard(t, iss, middleware.WithDecryptionKeys(map[string]*rsa.PrivateKey{"rs": k}))
	srv := httptest.NewServer(g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := middleware.TokenFromContext(r.Context())
		_, _ = io.WriteString(w, tok.Binding.Thumbprint)
	})))
	defer srv.Close()
	tok, err := iss.MintEncrypted(oauthtest.Token{JKT: client.Thumbprint()}, &k.PublicKey, "rs", "RSA-OAEP-256", "A256GCM")
	require.NoError(t, err)
	hc := &http.Client{Transport: &dpop.Transport{Base: http.DefaultTransport, Signer: client, Source: staticToken(tok)}, Timeout: 10 * time.Second}
	resp, err := hc.Get(srv.URL + "/x")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, client.Thumbprint(), string(body))

	// Stolen and presented as Bearer: refused like any bound token.
	_, err = g.Check(bearer(tok))
	require.ErrorIs(t, err, middleware.ErrBoundTokenAsBearer)
}

// BenchmarkEncryptedBearer: one encrypted Bearer request (cache off) beside
// the plain one; RSA decryption dominates.
func BenchmarkEncryptedBearer(b *testing.B) {
	iss := newIssuer(b)
	k := rsaKey(b)
	g := newGuard(b, iss, middleware.WithTokenCache(0, 0), middleware.WithDecryptionKeys(map[string]*rsa.PrivateKey{"rs": k}))
	plain := mint(b, iss, oauthtest.Token{})
	enc, err := iss.MintEncrypted(oauthtest.Token{}, &k.PublicKey, "rs", "RSA-OAEP-256", "A256GCM")
	require.NoError(b, err)
	h := g.Handler(ok200)
	for _, tc := range []struct{ name, tok string }{{"plain", plain}, {"encrypted", enc}} {
		r := bearer(tc.tok)
		w := &discard{h: http.Header{}}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}

// auth0StyleJWE wraps a signed token the way Auth0 documents its header:
// alg, enc and kid only, no cty. It uses go-jose's own encrypter.
func auth0StyleJWE(t *testing.T, signed string, to *rsa.PublicKey, kid string, cty string) string {
	t.Helper()
	opts := &gojose.EncrypterOptions{}
	if cty != "" {
		opts = opts.WithContentType(gojose.ContentType(cty))
	}
	e, err := gojose.NewEncrypter(gojose.A256GCM, gojose.Recipient{Algorithm: gojose.RSA_OAEP_256, Key: to, KeyID: kid}, opts)
	require.NoError(t, err)
	obj, err := e.Encrypt([]byte(signed))
	require.NoError(t, err)
	s, err := obj.CompactSerialize()
	require.NoError(t, err)
	return s
}

// TestJWEContentType: cty "JWT" is required by default (RFC 7519 §5.2);
// WithJWEContentTypeOptional accepts a header without cty, as Auth0
// documents it, but never another cty, and the inner token is verified as
// always.
func TestJWEContentType(t *testing.T) {
	iss := newIssuer(t)
	k := rsaKey(t)
	keys := map[string]*rsa.PrivateKey{"rs": k}
	strict := newGuard(t, iss, middleware.WithDecryptionKeys(keys))
	lenient := newGuard(t, iss, middleware.WithDecryptionKeys(keys), middleware.WithJWEContentTypeOptional())
	signed := mint(t, iss, oauthtest.Token{})
	forged := handMade(t, jwt.SigningMethodRS256, rsaKey(t), map[string]any{"kid": iss.CurrentKeyID()}, goodClaims(iss))

	tests := []struct {
		name  string
		g     *middleware.Guard
		token string
		want  error // nil: accepted
	}{
		{"cty JWT, strict", strict, auth0StyleJWE(t, signed, &k.PublicKey, "rs", "JWT"), nil},
		{"no cty, strict", strict, auth0StyleJWE(t, signed, &k.PublicKey, "rs", ""), jwe.ErrContentType},
		{"no cty, optional", lenient, auth0StyleJWE(t, signed, &k.PublicKey, "rs", ""), nil},
		{"no cty and no kid, optional (one key)", lenient, auth0StyleJWE(t, signed, &k.PublicKey, "", ""), nil},
		{"other cty, optional", lenient, auth0StyleJWE(t, signed, &k.PublicKey, "rs", "json"), jwe.ErrContentType},
		{"no cty, optional, inner signed by another key", lenient, auth0StyleJWE(t, forged, &k.PublicKey, "rs", ""), middleware.ErrSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.g.Check(bearer(tc.token))
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}
}
