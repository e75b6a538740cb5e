package dpop

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"
	"time"

	gojose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// FuzzVerify feeds arbitrary proofs to a Verifier. Whatever it accepts must
// be a JWS that golang-jwt verifies with the key that go-jose reads from the
// jwk header, with typ dpop+jwt and the claims of the request.
func FuzzVerify(f *testing.F) {
	testKeys(f)
	s, err := NewSigner(ecKey, WithSignerClock(func() time.Time { return testNow }))
	require.NoError(f, err)
	for _, tok := range []string{testToken, ""} {
		p, err := s.Proof("GET", testHTU, tok, "")
		require.NoError(f, err)
		f.Add(p, tok)
	}
	f.Add(handProof(f, ecKey, "ES256", nil), testToken)
	f.Add(handProof(f, edKey, "EdDSA", nil), testToken)
	f.Add(handProof(f, ecKey, "ES256", func(h, c map[string]any) { h["jwk"].(map[string]any)["d"] = "AA" }), testToken)
	f.Add(handProof(f, ecKey, "ES256", func(h, c map[string]any) { h["alg"] = "none" }), testToken)
	f.Add("e30.e30.e30", "")
	f.Add("a.b.c, a.b.c", "")

	f.Fuzz(func(t *testing.T, proof, token string) {
		v, err := NewVerifier(WithClock(func() time.Time { return testNow }))
		require.NoError(t, err)
		req := testRequest()
		req.AccessToken = token
		p, err := v.Verify(context.Background(), proof, req)
		if err != nil {
			return
		}
		var typ string
		tok, err := jwt.Parse(proof, func(tk *jwt.Token) (any, error) {
			typ, _ = tk.Header["typ"].(string)
			raw, err := json.Marshal(tk.Header["jwk"])
			if err != nil {
				return nil, err
			}
			var k gojose.JSONWebKey
			if err := k.UnmarshalJSON(raw); err != nil {
				return nil, err
			}
			if !k.IsPublic() {
				t.Fatalf("accepted a private jwk")
			}
			return k.Key, nil
		}, jwt.WithValidMethods(DefaultAlgorithms), jwt.WithoutClaimsValidation())
		require.NoError(t, err, "accepted a proof that golang-jwt rejects")
		require.True(t, tok.Valid)
		require.True(t, strings.EqualFold(typ, "dpop+jwt"))
		c := tok.Claims.(jwt.MapClaims)
		require.Equal(t, "GET", c["htm"])
		htu, _ := c["htu"].(string)
		n, err := NormalizeURI(htu)
		require.NoError(t, err)
		want, _ := NormalizeURI(testHTU)
		require.Equal(t, want, n)
		if token != "" {
			sum := sha256.Sum256([]byte(token))
			require.Equal(t, b64u(sum[:]), c["ath"])
		}
		require.Equal(t, c["jti"], p.ID)
		if k, ok := p.Key.(*ecdsa.PublicKey); ok {
			point, err := k.Bytes()
			require.NoError(t, err)
			_, err = ecdsa.ParseUncompressedPublicKey(k.Curve, point) // checks the point is on the curve
			require.NoError(t, err)
		}
		_ = rand.Reader
	})
}
