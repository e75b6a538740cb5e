package jsonobj

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"
)

// literal reports whether the body of a JSON string (between its quotes)
// denotes itself: it holds no escape and is valid UTF-8, so the string's
// value is its bytes. Names and values are mostly short ASCII, so it tests
// eight bytes at a time for a non-ASCII byte or a backslash, and leaves
// anything else to the exact test (bytes.IndexByte, utf8.Valid).
func literal(body []byte) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
		slash = '\\' * ones
	)
	b := body
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		y := x ^ slash // a zero byte where x has a backslash
		if (x|(y-ones)&^y)&highs != 0 {
			return bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body)
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= utf8.RuneSelf || c == '\\' {
			return bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body)
		}
	}
	return true
}
