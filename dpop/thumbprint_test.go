package dpop

import (
	"crypto"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	// RFC 9449 §4.1 / §6.1 example key and its thumbprint.
	rfc9449JWK   = `{"kty":"EC","crv":"P-256","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}`
	rfc9449Thumb = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
	// RFC 7638 §3.1 example key and its thumbprint.
	rfc7638JWK   = `{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`
	rfc7638Thumb = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
)

func TestThumbprintVectors(t *testing.T) {
	for _, tc := range []struct{ name, jwk, want string }{
		{"RFC 9449 EC key", rfc9449JWK, rfc9449Thumb},
		{"RFC 7638 RSA key", rfc7638JWK, rfc7638Thumb},
		{"whitespace and member order do not matter", "{ \"y\" : \"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA\",\n\"x\":\"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs\", \"crv\":\"P-256\",\"kty\":\"EC\",\"use\":\"sig\"}", rfc9449Thumb},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ThumbprintJWK([]byte(tc.jwk))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestATHVector(t *testing.T) {
	sum := sha256.Sum256([]byte(testToken))
	assert.Equal(t, testATH, b64u(sum[:]))
}

// TestThumbprintKeys checks Thumbprint of Go keys against ThumbprintJWK of
// the same keys written as JWKs by the test, for every supported key type.
func TestThumbprintKeys(t *testing.T) {
	testKeys(t)
	for _, tc := range []struct {
		name string
		key  crypto.PublicKey
	}{
		{"P-256", ecKey.Public()}, {"P-384", ec384Key.Public()}, {"P-521", ec521K.Public()},
		{"RSA", rsaKey.Public()}, {"Ed25519", edKey.Public()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := json.Marshal(jwkMap(t, tc.key))
			require.NoError(t, err)
			want, err := ThumbprintJWK(j)
			require.NoError(t, err)
			got, err := Thumbprint(tc.key)
			require.NoError(t, err)
			assert.Equal(t, want, got)
			assert.Len(t, got, 43)
			assert.True(t, MatchThumbprint(got, want))
		})
	}
	_, err := Thumbprint("not a key")
	require.ErrorIs(t, err, ErrKey)
}

func TestThumbprintJWKRejects(t *testing.T) {
	ec := strings.TrimSuffix(rfc9449JWK, "}")
	for _, tc := range []struct {
		name, jwk string
		want      error
	}{
		{"private d", ec + `,"d":"AAAA"}`, ErrPrivateKey},
		{"private p", rfc7638JWK[:len(rfc7638JWK)-1] + `,"p":"AAAA"}`, ErrPrivateKey},
		{"private oth", ec + `,"oth":[]}`, ErrPrivateKey},
		{"symmetric", `{"kty":"oct","k":"AAAA"}`, ErrPrivateKey},
		{"unsupported kty", `{"kty":"oct"}`, ErrKey},
		{"unsupported curve", `{"kty":"EC","crv":"P-192","x":"AA","y":"AA"}`, ErrKey},
		{"Ed448", `{"kty":"OKP","crv":"Ed448","x":"AA"}`, ErrKey},
		{"missing y", `{"kty":"EC","crv":"P-256","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs"}`, ErrKey},
		{"x a number", `{"kty":"EC","crv":"P-256","x":1,"y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}`, ErrKey},
		{"short x", `{"kty":"EC","crv":"P-256","x":"l8tFrhx","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}`, ErrKey},
		{"not on curve", `{"kty":"EC","crv":"P-256","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs"}`, ErrKey},
		{"RSA leading zero", `{"kty":"RSA","n":"AAEB","e":"AQAB"}`, ErrKey},
		{"RSA even exponent", `{"kty":"RSA","n":"AQEB","e":"Ag"}`, ErrKey},
		{"padded base64", `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo="}`, ErrKey},
		{"duplicate kty", `{"kty":"EC","kty":"RSA"}`, ErrMalformed},
		{"not an object", `["kty"]`, ErrMalformed},
		{"not JSON", `{"kty":`, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ThumbprintJWK([]byte(tc.jwk))
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestMatchThumbprint(t *testing.T) {
	assert.True(t, MatchThumbprint(rfc9449Thumb, rfc9449Thumb))
	assert.False(t, MatchThumbprint(rfc9449Thumb, rfc7638Thumb))
	assert.False(t, MatchThumbprint(rfc9449Thumb, rfc9449Thumb[:42]))
	assert.False(t, MatchThumbprint("", rfc9449Thumb))
}

func FuzzThumbprintJWK(f *testing.F) {
	f.Add([]byte(rfc9449JWK))
	f.Add([]byte(rfc7638JWK))
	f.Add([]byte(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`))
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"\u006c8tFrhx","d":1}`))
	f.Add([]byte(`{"a":[{"b":"}"}],"kty":"RSA"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ThumbprintJWK(data)
		if err != nil {
			return
		}
		// Accepted: a valid JSON object with a supported public key and no
		// private members; the thumbprint is that of the Go key.
		require.True(t, json.Valid(data))
		var m map[string]any
		require.NoError(t, json.Unmarshal(data, &m))
		for _, p := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
			_, has := m[p]
			require.False(t, has, "private member %s accepted", p)
		}
		k, err := parseJWK(data)
		require.NoError(t, err)
		pub, err := k.publicKey()
		require.NoError(t, err)
		want, err := Thumbprint(pub)
		require.NoError(t, err)
		require.Equal(t, want, got)
	})
}
