package middleware_test

// Findings of the hardening pass, kept as regression tests.

import (
	"net/url"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// Claim names are case-sensitive (RFC 7519 §4, RFC 7515 §4). encoding/json
// matches struct fields case-insensitively, so a signed payload with "Exp",
// "CNF", "Cnf" or "JKT" overrides the real claim.
func TestClaimNamesAreCaseSensitive(t *testing.T) {
	iss := newIssuer(t)
	g := newGuard(t, iss)
	s := newSigner(t)
	kid := iss.CurrentKeyID()
	key := iss.PrivateKey(kid)
	base := `"iss":"` + iss.Issuer() + `","aud":"` + audience + `"`
	future := `9999999999`
	for _, tc := range []struct{ name, payload string }{
		{"Exp extends an expired token", `{` + base + `,"exp":1,"Exp":` + future + `}`},
		{"Cnf:null drops the DPoP binding", `{` + base + `,"exp":` + future + `,"cnf":{"jkt":"` + s.Thumbprint() + `"},"Cnf":null}`},
		{"JKT:null drops the DPoP binding", `{` + base + `,"exp":` + future + `,"cnf":{"jkt":"` + s.Thumbprint() + `","JKT":null}}`},
		{"AUD replaces a foreign aud", `{"iss":"` + iss.Issuer() + `","aud":"https://other.example","AUD":"` + audience + `","exp":` + future + `}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := rawSigned(t, jwt.SigningMethodRS256, key, `{"alg":"RS256","kid":"`+kid+`"}`, tc.payload)
			_, err := g.Check(bearer(tok))
			require.Error(t, err, "accepted: claim names were matched case-insensitively")
		})
	}
}

// A compact JWS has one encoding: base64url without padding and with zero
// trailing bits (RFC 7515 §2, §7.1). The decoder in internal/jose is not
// Strict, so the last character of the signature can be changed (to any of
// 2^k characters) and the token still verifies: one token, many strings,
// which defeats denylists, audit correlation and caches keyed by token hash.
func TestNonCanonicalBase64Refused(t *testing.T) {
	iss := newIssuer(t)
	g := newGuard(t, iss, middleware.WithTokenCache(0, 0))
	tok := mint(t, iss, oauthtest.Token{})
	i := len(tok) - 1
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	pos := strings.IndexByte(alphabet, tok[i])
	variant := tok[:i] + string(alphabet[pos^1])
	require.NotEqual(t, tok, variant)
	_, err := g.Check(bearer(variant))
	require.ErrorIs(t, err, middleware.ErrMalformedToken, "a token with non-zero trailing bits was accepted")
}

// Base64 decoding in Go ignores '\r' and '\n' even in Strict mode, so a
// token with a line break inside a part still verifies through Guard.Verify
// (the net/http path refuses it earlier via token68). jose.Split should
// refuse any byte outside the base64url alphabet before decoding.
func TestLineBreakInsideTokenRefused(t *testing.T) {
	iss := newIssuer(t)
	g := newGuard(t, iss, middleware.WithTokenCache(0, 0))
	tok := mint(t, iss, oauthtest.Token{})
	v := tok[:len(tok)-10] + "\n" + tok[len(tok)-10:]
	u, _ := url.Parse(resource)
	_, err := g.Verify(t.Context(), middleware.Request{Scheme: "Bearer", Token: v, Method: "GET", URL: u})
	require.ErrorIs(t, err, middleware.ErrMalformedToken)
}

// TestDuplicateClaimsRefused: a claim this package reads may appear once;
// parsers disagree on which duplicate wins, so neither is trusted.
func TestDuplicateClaimsRefused(t *testing.T) {
	iss := newIssuer(t)
	g := newGuard(t, iss)
	kid := iss.CurrentKeyID()
	key := iss.PrivateKey(kid)
	base := `"iss":"` + iss.Issuer() + `","aud":"` + audience + `","exp":9999999999`
	for name, payload := range map[string]string{
		"sub twice":     `{` + base + `,"sub":"a","sub":"b"}`,
		"cnf twice":     `{` + base + `,"cnf":{},"cnf":{}}`,
		"jkt twice":     `{` + base + `,"cnf":{"jkt":"x","jkt":"y"}}`,
		"escaped twice": `{` + base + `,"sub":"a","\u0073ub":"b"}`,
	} {
		t.Run(name, func(t *testing.T) {
			tok := rawSigned(t, jwt.SigningMethodRS256, key, `{"alg":"RS256","kid":"`+kid+`"}`, payload)
			_, err := g.Check(bearer(tok))
			require.ErrorIs(t, err, middleware.ErrClaims)
		})
	}
	// A header member twice is a malformed token.
	tok := rawSigned(t, jwt.SigningMethodRS256, key, `{"alg":"RS256","kid":"`+kid+`","kid":"other"}`, `{`+base+`}`)
	_, err := g.Check(bearer(tok))
	require.ErrorIs(t, err, middleware.ErrMalformedToken)
}
