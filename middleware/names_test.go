package middleware

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/internal/jose"
	"github.com/senderbound/senderbound/internal/jsonobj"
)

// FuzzUnambiguousNames compares unambiguousNames with an independent
// reading through encoding/json's tokenizer, which compares names with
// strings.EqualFold (the equivalence encoding/json documents for its field
// matching). It must never panic, whatever the input.
func FuzzUnambiguousNames(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"sub":"a"}`, `{"sub":"a","SUB":"b"}`, `{"Sub":"a"}`, `{"ſub":"a","sub":"b"}`,
		`{"a":{"k":1,"\u212a":2}}`, `{"a":[{"x":1},{"x":2,"X":3}]}`, `{"a":1,"a":2}`,
		`{"\u0073ub":1,"sub":2}`, `{"a":{"sub":1,"SUB":2}}`, `{"a":[[[{"b":{"c":1}}]]],"A":0}`,
		`{"CLIENT_ID":"x"}`, `{"client_Id":"x"}`, `[{"a":1,"A":2}]`, `"x"`, `{"a":"\"}"}`, `{"é":1,"É":2}`,
		`{"a" : 1 , "b" : [ 1 , { "c" : 2 , "C" : 3 } ] }`, `{"\xff":1,"\ufffd":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := unambiguousNames(data)
		if !json.Valid(data) {
			return
		}
		require.Equal(t, referenceUnambiguous(data), got, "%q", data)
	})
}

// referenceUnambiguous walks data with json.Decoder.Token.
func referenceUnambiguous(data []byte) bool {
	type frame struct {
		object, wantName bool
		names            []string
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if s, ok := tok.(string); ok && top != nil && top.object && top.wantName {
			for _, n := range top.names {
				if strings.EqualFold(n, s) {
					return false
				}
			}
			if len(stack) == 1 {
				for _, claim := range []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "permissions", "client_id", "azp", "cnf"} {
					if strings.EqualFold(s, claim) && s != claim {
						return false
					}
				}
			}
			top.names = append(top.names, s)
			top.wantName = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, wantName: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: the enclosing object expects a name next.
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].wantName = true
		}
	}
}

// FuzzValidPayload holds the one pass of validPayload to the three passes
// it replaced in verifyToken: jsonobj.Valid, jose.DepthWithin at the
// limit, and the names check (referenceUnambiguous, encoding/json's
// reading) on valid data.
func FuzzValidPayload(f *testing.F) {
	for _, s := range []string{
		`{"sub":"a"}`, `{"sub":"a","SUB":"b"}`, `{"a":{"b":{"c":1}}}`, `[[[[1]]]]`, `{"a":"[[[["}`,
		`{"a":[{"x":1},{"x":2,"X":3}]}`, `{"a":1,}`, `{"a":{"k":1,"\u212a":2}}`, `{"cnf":{"jkt":"x","JKT":"y"}}`,
	} {
		f.Add([]byte(s), uint8(2))
	}
	f.Fuzz(func(t *testing.T, data []byte, limit uint8) {
		valid, unambiguous := validPayload(data, int(limit), nil)
		require.Equal(t, jsonobj.Valid(data) && jose.DepthWithin(data, int(limit)), valid, "%q at %d", data, limit)
		if valid {
			require.Equal(t, referenceUnambiguous(data), unambiguous, "%q", data)
		}
	})
}

// TestValidPayloadLargeObjects: objects past maxLinearNames members, nested
// in each other and side by side, are checked through their sets, and a
// set never outlives its object.
func TestValidPayloadLargeObjects(t *testing.T) {
	obj := func(prefix string, n int, extra string) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, `"%s%d":%d,`, prefix, i, i)
		}
		b.WriteString(extra + "}")
		return b.String()
	}
	big := 2*maxLinearNames + 3
	for _, tc := range []struct {
		in          string
		unambiguous bool
	}{
		{obj("a", big, `"z":1`), true},
		{obj("a", big, `"A7":1`), false},
		{obj("a", big, `"in":`+obj("a", big, `"z":1`)), true},
		{obj("a", big, `"in":`+obj("b", big, `"B3":1`)), false},
		{`[` + obj("a", big, `"z":1`) + `,` + obj("b", big, `"a1":1`) + `]`, true},
		{obj("a", big, `"in":`+obj("b", big, `"z":1`)+`,"IN":2`), false},
	} {
		valid, unambiguous := validPayload([]byte(tc.in), 10, nil)
		require.True(t, valid)
		assert.Equal(t, tc.unambiguous, unambiguous, tc.in)
		assert.Equal(t, referenceUnambiguous([]byte(tc.in)), unambiguous, tc.in)
	}
}
