package dpop

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// neverSeen is a ReplayCache that has seen nothing, so that fuzzed proofs
// are judged on their content alone (replay has its own tests).
type neverSeen struct{}

func (neverSeen) Record(context.Context, ReplayKey, time.Time) (bool, error) { return false, nil }

// FuzzVerifyProof signs fuzzed proof headers and claims with a P-256 key,
// so that the fuzzer reaches every check after the signature. Property: a
// proof is accepted only when an independent reading of its JSON says it
// satisfies RFC 9449 §4.3 for the request (typ dpop+jwt, alg ES256, the jwk
// is the signing key and public, no crit, jti a non-empty string, htm GET,
// htu the request URI, iat within the window, ath the token's hash), and
// its key is the one the token is bound to.
func FuzzVerifyProof(f *testing.F) {
	testKeys(f)
	jwk, err := json.Marshal(jwkMap(f, ecKey.Public()))
	require.NoError(f, err)
	jkt, err := Thumbprint(ecKey.Public())
	require.NoError(f, err)
	hdr := `{"typ":"dpop+jwt","alg":"ES256","jwk":` + string(jwk) + `}`
	claims := func(extra string) string {
		return `{"jti":"j1","htm":"GET","htu":"` + testHTU + `","iat":1700000000,"ath":"` + testATH + `"` + extra + `}`
	}
	for _, s := range [][2]string{
		{hdr, claims("")},
		{hdr, claims(`,"htm":"get"`)},
		{hdr, claims(`,"htu":"https://u@resource.example.org/protectedresource"`)},
		{hdr, claims(`,"htu":"https://resource.example.org:444/protectedresource"`)},
		{hdr, claims(`,"htu":"HTTPS://RESOURCE.example.org:443/protectedresource?q#f"`)},
		{hdr, claims(`,"iat":1e300`)},
		{hdr, claims(`,"iat":"1700000000"`)},
		{hdr, claims(`,"jti":""`)},
		{hdr, claims(`,"nonce":"n"`)},
		{`{"typ":"dpop+jwt","alg":"ES256","jwk":` + string(jwk[:len(jwk)-1]) + `,"d":"AAAA"}}`, claims("")},
		{`{"alg":"ES256","jwk":` + string(jwk) + `}`, claims("")},
		{`{"typ":"dpop+jwt","alg":"ES256","crit":["x"],"jwk":` + string(jwk) + `}`, claims("")},
		{`{"typ":"dpop+jwt","Typ":"jwt","alg":"ES256","jwk":` + string(jwk) + `}`, claims("")},
		{`{"typ":"dpop+jwt","alg":"HS256","jwk":` + string(jwk) + `}`, claims("")},
		{`{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"oct","k":"AAAA"}}`, claims("")},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	u := testRequest().URL
	v, err := NewVerifier(WithClock(func() time.Time { return testNow }), WithReplayCache(neverSeen{}))
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, header, claims []byte) {
		proof := signRaw(t, ecKey, "ES256", string(header), string(claims))
		p, err := v.Verify(context.Background(), proof, Request{Method: "GET", URL: u, AccessToken: testToken, JKT: jkt})
		if err != nil {
			require.Nil(t, p)
			require.NotContains(t, err.Error(), proof)
			return
		}
		require.NoError(t, proofIndependentlyValid(header, claims, jkt), "accepted header %q claims %q", header, claims)
		require.Equal(t, jkt, p.Thumbprint)
		require.Equal(t, "ES256", p.Algorithm)
	})
}

// proofIndependentlyValid checks a signed proof's JSON without the package's
// parser. Member names are matched exactly (JOSE names are case-sensitive);
// duplicate names make the proof invalid (RFC 7515 §5.2 lets a verifier
// refuse them, and this package does).
func proofIndependentlyValid(header, claims []byte, jkt string) error {
	var h, c map[string]any
	if json.Unmarshal(header, &h) != nil || json.Unmarshal(claims, &c) != nil || h == nil || c == nil {
		return ErrMalformed
	}
	if hasDuplicateMembers(header) || hasDuplicateMembers(claims) {
		return ErrMalformed
	}
	if h["typ"] != "dpop+jwt" || h["alg"] != "ES256" {
		return ErrType
	}
	if _, ok := h["crit"]; ok {
		return ErrMalformed
	}
	jwk, ok := h["jwk"].(map[string]any)
	if !ok {
		return ErrMalformed
	}
	for _, m := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		if _, ok := jwk[m]; ok {
			return ErrPrivateKey
		}
	}
	raw, _ := json.Marshal(jwk)
	if got, err := ThumbprintJWK(raw); err != nil || got != jkt {
		return ErrKey
	}
	if jti, ok := c["jti"].(string); !ok || jti == "" {
		return ErrMalformed
	}
	if c["htm"] != "GET" {
		return ErrMethod
	}
	htu, ok := c["htu"].(string)
	if !ok {
		return ErrURL
	}
	if n, err := NormalizeURI(htu); err != nil || n != testHTU {
		return ErrURL
	}
	iat, ok := c["iat"].(float64)
	now := float64(testNow.Unix())
	if !ok || iat < now-65 || iat > now+5 {
		return ErrIssuedAt
	}
	if c["ath"] != testATH {
		return ErrAccessTokenHash
	}
	return nil
}

// hasDuplicateMembers reports whether any JSON object in b (at any depth)
// names a member twice, comparing decoded names.
func hasDuplicateMembers(b []byte) bool {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	type frame struct {
		obj   bool
		names map[string]bool
		key   bool // next string token in an object is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		isKey := top != nil && top.obj && top.key
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, &frame{obj: true, names: map[string]bool{}, key: true})
				continue
			case '[':
				stack = append(stack, &frame{})
				continue
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if isKey {
				if top.names[v] {
					return true
				}
				top.names[v] = true
				top.key = false
				continue
			}
		}
		if len(stack) > 0 && stack[len(stack)-1].obj {
			stack[len(stack)-1].key = true
		}
	}
}
