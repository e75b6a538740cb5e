package dpop

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzTokenResponse feeds token endpoint answers to the parser: it never
// panics, and what it accepts is a JSON object whose access_token can travel
// in an Authorization header and whose expires_in is a sane count of seconds.
func FuzzTokenResponse(f *testing.F) {
	for _, s := range []string{
		`{"access_token":"eyJ.eyJ.sig","token_type":"DPoP","expires_in":86400,"scope":"read"}`,
		`{"access_token":"a","token_type":"Bearer"}`,
		`{"access_token":"a==","token_type":"dpop","expires_in":1.5}`,
		`{"access_token":"a","access_token":"b","token_type":"DPoP"}`,
		`{"access_token":"a\r\nb","token_type":"DPoP"}`,
		`{"access_token":"\u0061","token_type":"DPoP","expires_in":1e300}`,
		`[]`, `null`, `{"error":"use_dpop_nonce"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tr, err := parseTokenResponse(body)
		_ = parseTokenError(400, body)
		if err != nil {
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if tr.accessToken == "" || strings.ContainsAny(tr.accessToken, " \r\n\t,\"") {
			t.Fatalf("accepted access_token %q", tr.accessToken)
		}
		if tr.expiresIn < -1 || tr.expiresIn > 1<<31 { // -1: absent
			t.Fatalf("accepted expires_in %d", tr.expiresIn)
		}
	})
}
