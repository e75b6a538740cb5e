package dpop

import "testing"

// BenchmarkParseProof measures reading a proof's header, claims and JWK:
// the "header and payload reading" line of the DPoP cost budget.
func BenchmarkParseProof(b *testing.B) {
	header := []byte(`{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}}`)
	claims := []byte(`{"jti":"e1j3V_bKic8-LAEB","htm":"GET","htu":"https://api.example/resource","iat":1796000000,"ath":"fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"}`)
	b.ReportAllocs()
	for b.Loop() {
		h, err := parseHeader(header)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := parseClaims(claims); err != nil {
			b.Fatal(err)
		}
		if _, err := parseJWK(h.jwk); err != nil {
			b.Fatal(err)
		}
	}
}
