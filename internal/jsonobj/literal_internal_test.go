package jsonobj

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

// FuzzLiteral holds literal's eight-bytes-at-a-time test to the exact one:
// no backslash, and valid UTF-8.
func FuzzLiteral(f *testing.F) {
	for _, s := range []string{"", "a", "abcdefgh", "abcdefg\\", "abcdefgh\\", "\\abcdefgh", "é", "abcdefgé", "\xff", "abcdefgh\xff", "\x00\x00\x00\x00\x00\x00\x00\x00", "]]]]]]]]\\"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if got, want := literal(body), bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body); got != want {
			t.Fatalf("literal(%q) = %v, want %v", body, got, want)
		}
	})
}

// TestLiteralFindsABackslashAnywhere: a backslash or a byte outside ASCII
// is found at every position of a long body, in the eight-byte steps and
// in the tail.
func TestLiteralFindsABackslashAnywhere(t *testing.T) {
	for n := 1; n <= 20; n++ {
		for i := range n {
			for _, c := range []byte{'\\', 0xff} {
				body := bytes.Repeat([]byte{'a'}, n)
				body[i] = c
				if literal(body) {
					t.Fatalf("literal(%q) = true", body)
				}
			}
		}
		if !literal(bytes.Repeat([]byte{'['}, n)) {
			t.Fatalf("literal of %d plain bytes = false", n)
		}
	}
	if !literal([]byte("aébcdefghé")) {
		t.Fatal("valid UTF-8 without escapes is literal")
	}
}
