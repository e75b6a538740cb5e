package middleware

import "testing"

// benchHeader and benchPayload are a typical access token's JOSE header and
// claims (RFC 9068 profile, DPoP-bound).
var (
	benchHeader  = []byte(`{"alg":"RS256","kid":"key-2026-12","typ":"at+jwt"}`)
	benchPayload = []byte(`{"iss":"https://issuer.example","sub":"user-1234","aud":"https://api.example","exp":1796000000,"iat":1795999000,` +
		`"jti":"0f8a7c1e-3b2d-4e5f-8a9b-1c2d3e4f5a6b","client_id":"client-42","scope":"read:messages write:messages",` +
		`"permissions":["read:messages"],"cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}`)
)

// BenchmarkParseToken measures reading a token's header and claims: the
// "header and payload reading" line of the cost budget.
func BenchmarkParseToken(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseHeader(benchHeader); err != nil {
			b.Fatal(err)
		}
		if _, err := parsePayload(benchPayload); err != nil {
			b.Fatal(err)
		}
	}
}
