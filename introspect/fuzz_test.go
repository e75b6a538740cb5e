package introspect

import (
	"encoding/json"
	"testing"
)

// FuzzParseAnswer: no input panics, and an answer is active only when its
// active member is the JSON literal true.
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
		`{"active":true,"x":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
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
