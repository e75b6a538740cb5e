package introspect

import (
	"encoding/json"
	"testing"
)

// FuzzParseAnswer: no input panics (in the answer's reader, nor in those
// of a signed answer's header and payload and of discovery metadata), and
// an answer is active only when its active member is the JSON literal
// true.
func FuzzParseAnswer(f *testing.F) {
	for _, seed := range []string{
		`{"active":true}`,
		`{"active":false}`,
		`{"active":"true"}`,
		`{"active":1}`,
		`{"active":true,"active":false}`,
		`{"active":true,"exp":1700000000,"token_type":"DPoP","cnf":{"jkt":"x"}}`,
		`{"active":true,"exp":-1}`,
		`{"active":true,"exp":1e300}`,
		`{"Active":true}`,
		`{"active":tru}`,
		`[{"active":true}]`,
		` {"active" : true } `,
		`{"iss":"https://issuer.example/","aud":["rs"],"iat":1,"token_introspection":{"active":true}}`,
		`{"alg":"RS256","kid":"k","typ":"token-introspection+jwt","crit":["x"]}`,
		`{"issuer":"https://issuer.example/","introspection_endpoint":"https://issuer.example/i"}`,
		`{"active":true,"x":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The other readers of untrusted JSON must not panic either.
		_, _ = parseHeader(data)
		_, _ = parseEnvelope(data)
		_, _ = parseMetadata(data, "https://issuer.example/", false)
		a, err := parseAnswer(data)
		if err != nil {
			if a.active {
				t.Fatal("active with an error")
			}
			return
		}
		if a.active && !activeTrue(data) {
			t.Fatalf("active without a literal true in %q", data)
		}
	})
}

// activeTrue is an independent check: data has a top-level active member
// whose value is true, read with a generic decoder.
func activeTrue(data []byte) bool {
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return false
	}
	v, ok := m["active"].(bool)
	return ok && v
}
