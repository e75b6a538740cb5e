package middleware

import (
	"regexp"
	"testing"
)

// token68Syntax is RFC 9110 §11.2's token68, as a regular expression.
var token68Syntax = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)

// FuzzToken68 holds the branchless token68 check to the grammar.
func FuzzToken68(f *testing.F) {
	for _, s := range []string{"", "=", "a", "a=", "a==", "=a", "a=a", "abc.def-_~+/==", "a b", "a\x00", "é", "a\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := token68(s), token68Syntax.MatchString(s); got != want {
			t.Fatalf("token68(%q) = %v, the grammar says %v", s, got, want)
		}
	})
}
