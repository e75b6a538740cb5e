package jwe

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
)

var b64 = base64.RawURLEncoding.Strict()

// split5 cuts a compact JWE into its five parts and requires each to be
// non-empty, canonical unpadded base64url: only the URL-safe alphabet, a
// length that is not 1 mod 4, and zero unused bits in the last character.
// Canonical parts mean one JWE has exactly one string form.
func split5(s string) ([5]string, bool) {
	var parts [5]string
	for i := range 4 {
		var ok bool
		parts[i], s, ok = strings.Cut(s, ".")
		if !ok {
			return parts, false
		}
	}
	if strings.IndexByte(s, '.') >= 0 {
		return parts, false
	}
	parts[4] = s
	for _, p := range parts {
		if !canonical(p) {
			return parts, false
		}
	}
	return parts, true
}

func canonical(p string) bool {
	if p == "" || len(p)%4 == 1 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if b64Value(p[i]) < 0 {
			return false
		}
	}
	last := b64Value(p[len(p)-1])
	switch len(p) % 4 {
	case 2:
		return last&0x0f == 0
	case 3:
		return last&0x03 == 0
	}
	return true
}

func b64Value(c byte) int {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 26
	case '0' <= c && c <= '9':
		return int(c-'0') + 52
	case c == '-':
		return 62
	case c == '_':
		return 63
	}
	return -1
}

var (
	errNotObject = errors.New("not a JSON object")
	errDuplicate = errors.New("duplicate member name")
)

// parseObject decodes one JSON object into its members, refusing duplicate
// names (RFC 7515 §4 and RFC 7516 §4 allow a recipient to reject them; doing
// so rules out two parsers reading different values) and trailing data.
func parseObject(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errNotObject
	}
	m := make(map[string]json.RawMessage, 8)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errNotObject
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errNotObject
		}
		if _, dup := m[name]; dup {
			return nil, errDuplicate
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errNotObject
		}
		m[name] = v
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, errNotObject
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errNotObject
	}
	return m, nil
}

var errNotString = errors.New("member is not a string")

// stringMember returns the string value of member name, whether it is
// present, and an error if it is present but not a JSON string.
func stringMember(m map[string]json.RawMessage, name string) (string, bool, error) {
	raw, ok := m[name]
	if !ok {
		return "", false, nil
	}
	var s string
	if len(raw) == 0 || raw[0] != '"' {
		return "", true, errNotString
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, errNotString
	}
	return s, true, nil
}
