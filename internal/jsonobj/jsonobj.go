// Package jsonobj reads the top-level members of one JSON object with exact,
// case-sensitive member names, and no reflection or map on the way.
//
// JOSE headers, JWT claims and JWKs are read with it: RFC 7515 and RFC 7519
// names are case-sensitive, whereas encoding/json matches struct fields
// case-insensitively, so "Exp" or "Cnf" in a signed payload would override
// "exp" or "cnf". Callers switch on the exact name and reject duplicates.
// Input is first checked with json.Valid, so the walker only has to find
// boundaries.
package jsonobj

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// ErrInvalid means the input is not one valid JSON object.
var ErrInvalid = errors.New("jsonobj: invalid JSON object")

// Members calls fn with the unescaped name and the raw value of each
// top-level member of the JSON object in data. It fails when data is not a
// valid JSON object or when fn fails.
func Members(data []byte, fn func(name string, value []byte) error) error {
	if !json.Valid(data) {
		return ErrInvalid
	}
	i := skipWS(data, 0)
	if i >= len(data) || data[i] != '{' {
		return ErrInvalid
	}
	i = skipWS(data, i+1)
	if data[i] == '}' {
		return nil
	}
	for {
		end := endOfString(data, i)
		name, ok := String(data[i:end])
		if !ok {
			return ErrInvalid
		}
		i = skipWS(data, end) // at ':'
		i = skipWS(data, i+1)
		vend := endOfValue(data, i)
		if err := fn(name, data[i:vend]); err != nil {
			return err
		}
		i = skipWS(data, vend)
		if data[i] != ',' {
			return nil // '}' since data is valid
		}
		i = skipWS(data, i+1)
	}
}

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
	if bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) {
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
