package middleware

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzAuthorizationDetails feeds the authorization_details reader arbitrary
// claim values: it must never panic, and whatever it accepts is an array of
// objects, each with a non-empty string type that the standard library reads
// the same way, and common fields that agree with it.
func FuzzAuthorizationDetails(f *testing.F) {
	for _, s := range []string{
		`[]`,
		`[{"type":"payment_initiation","locations":["https://example.com/payments"],"actions":["initiate"],` +
			`"datatypes":["payment"],"identifier":"x","privileges":["owner"],"instructedAmount":{"currency":"EUR","amount":"1.00"}}]`,
		`[{"type":"urn:auth0:schemas:authorization-details:v1:user-profile","instruction":"Approve","properties":{}}]`,
		`[{"type":"a"},{"type":"b","actions":[]}]`,
		`[{"type":"\u0061","Type":"b"}]`,
		`[{"type":"a","type":"b"}]`,
		`[{"type":1}]`, `[{}]`, `["a"]`, `{}`, `null`, `[{"type":"a","actions":["x",1]}]`,
		`[{"type":"a"}`, `[{"type":"a\ud800"}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		details, ok := parseAuthorizationDetails(data)
		if !ok {
			return
		}
		var std []map[string]json.RawMessage
		if err := json.Unmarshal(data, &std); err != nil {
			t.Fatalf("accepted %q, which is not an array of objects: %v", data, err)
		}
		if len(std) != len(details) {
			t.Fatalf("%d details, encoding/json sees %d", len(details), len(std))
		}
		for i, d := range details {
			if d.Type == "" {
				t.Fatalf("detail %d accepted without a type", i)
			}
			var typ string
			if err := json.Unmarshal(std[i]["type"], &typ); err != nil || typ != d.Type {
				t.Fatalf("detail %d: type %q, encoding/json reads %q (%v)", i, d.Type, typ, err)
			}
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(d.raw, &obj); err != nil {
				t.Fatalf("detail %d: raw %q is not an object", i, d.raw)
			}
			for name, got := range map[string][]string{"locations": d.Locations, "actions": d.Actions, "datatypes": d.Datatypes, "privileges": d.Privileges} {
				var want []string
				if raw, ok := std[i][name]; ok {
					if err := json.Unmarshal(raw, &want); err != nil || len(want) != len(got) {
						t.Fatalf("detail %d: %s %q, encoding/json reads %q (%v)", i, name, got, want, err)
					}
				} else if got != nil {
					t.Fatalf("detail %d: %s %q without the member", i, name, got)
				}
			}
			var generic map[string]any
			if err := d.Decode(&generic); err != nil {
				t.Fatalf("detail %d: Decode into a map: %v", i, err)
			}
		}
	})
}

// TestDetailsCountInCacheCost: parsed details can take several times the
// memory of their JSON (a string header per short string), so the token
// cache's byte bound counts them.
func TestDetailsCountInCacheCost(t *testing.T) {
	raw := []byte(`{"exp":1,"authorization_details":[{"type":"t","actions":[""` + strings.Repeat(`,""`, 999) + `]}]}`)
	p, err := parsePayload(raw)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.claims(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := (&cacheEntry{claims: c}).cost(); got < 5*len(raw) {
		t.Fatalf("cost %d for %d bytes of JSON holding 1000 strings", got, len(raw))
	}
	plain, _ := parsePayload([]byte(`{"exp":1}`))
	c, _ = plain.claims([]byte(`{"exp":1}`))
	if c.ext != nil {
		t.Fatal("tokens without these claims allocate nothing for them")
	}
}

// TestAuthorizationDetailsDuplicates: a member the reader knows, given
// twice, refuses the token, at the top level and inside a detail (parsers
// disagree on which one wins). Unknown members may repeat.
func TestAuthorizationDetailsDuplicates(t *testing.T) {
	for _, tc := range []struct {
		payload string
		ok      bool
	}{
		{`{"authorization_details":[{"type":"a","x":1,"x":2}]}`, true},
		{`{"authorization_details":[{"type":"a","type":"b"}]}`, false},
		{`{"authorization_details":[{"type":"a","actions":[],"actions":["x"]}]}`, false},
		{`{"authorization_details":[{"type":"a","identifier":"i","identifier":"j"}]}`, false},
		{`{"authorization_details":[],"authorization_details":[{"type":"a"}]}`, false},
		{`{"acr":"a","acr":"b"}`, false},
		{`{"amr":[],"amr":["mfa"]}`, false},
		{`{"auth_time":1,"auth_time":2}`, false},
		{`{"authorization_details":[{"type":"a"}],"acr":"x","amr":["pwd"],"auth_time":1}`, true},
	} {
		_, err := parsePayload([]byte(tc.payload))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.payload, err, tc.ok)
		}
	}
}
