// Package jsonobj reads the top-level members of one JSON object with exact,
// case-sensitive member names, and no reflection or map on the way.
//
// JOSE headers, JWT claims, DPoP proofs, JWKs and token endpoint answers
// are read with it: RFC 7515 and RFC 7519 names are case-sensitive, whereas
// encoding/json matches struct fields case-insensitively, so "Exp" or "Cnf"
// in a signed payload would override "exp" or "cnf". A [Table] lists the
// members a reader knows, each with its decoder, and enforces one policy for
// all of them: exact names, no duplicates, the right JSON types, required
// members present, unknown members ignored or refused. Input is first
// checked with json.Valid, so the walker only has to find boundaries.
package jsonobj

import (
	"encoding/json"
	"errors"
	"strconv"
)

// ErrInvalid means the input is not one valid JSON object.
var ErrInvalid = errors.New("jsonobj: invalid JSON object")

// Members calls fn with the unescaped name and the raw value of each
// top-level member of the JSON object in data. It fails when data is not a
// valid JSON object or when fn fails.
func Members(data []byte, fn func(name string, value []byte) error) error {
	w, err := newWalker(data)
	if err != nil {
		return err
	}
	for {
		rawName, value, ok := w.next()
		if !ok {
			return nil
		}
		name, ok := String(rawName)
		if !ok {
			return ErrInvalid
		}
		if err := fn(name, value); err != nil {
			return err
		}
	}
}

// jsonValid is the one full validation pass before any walk: the walkers
// then only have to find boundaries.
var jsonValid = Valid

func skipWS(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// endOfString returns the index just past the string starting at data[i].
func endOfString(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(data)
}

// endOfValue returns the index just past the value starting at data[i].
func endOfValue(data []byte, i int) int {
	switch data[i] {
	case '"':
		return endOfString(data, i)
	case '{', '[':
		depth := 0
		for i < len(data) {
			switch data[i] {
			case '"':
				i = endOfString(data, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(data)
	}
	for i < len(data) {
		switch data[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i
		}
		i++
	}
	return i
}

// String returns the string a raw JSON value denotes, and false when the
// value is not a string.
func String(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	if literal(body) {
		return string(body), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// Number returns the number a raw JSON value denotes, and false when the
// value is not a (finite) number.
func Number(raw []byte) (float64, bool) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, false
	}
	return f, true
}
