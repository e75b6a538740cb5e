package middleware

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestOneLine(t *testing.T) {
	long := strings.Repeat("a", 2*maxLogValue)
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"plain kid-1", "plain kid-1"},
		{"a\nb", "a; b"},
		{"trailing\n", "trailing"},
		{"cr\r\nlf", "cr?; lf"},
		{"tab\there", "tab?here"},
		{"esc\x1b[31mred", "esc?[31mred"},
		{"del\x7f", "del?"},
		{"bad\xffutf8", "bad?utf8"},
		{"c1\u0085next", "c1?next"},
		{"café ✓", "café ✓"},
		{"ls\u2028ps\u2029end", "ls; ps; end"},
		{"bidi\u202aa\u202bb\u202cc\u202dd\u202ee", "bidi?a?b?c?d?e"},
		{"iso\u2066a\u2067b\u2068c\u2069d", "iso?a?b?c?d"},
		{"trailing sep\u2028", "trailing sep"},
		{"marks\u200el\u200fr\u061cal", "marks?l?r?al"},
		{long, strings.Repeat("a", maxLogValue) + "…"},
	} {
		got := oneLine(c.in)
		assert.Equal(t, c.want, got, "%q", c.in)
		assert.NotContains(t, got, "\n")
		assert.NotContains(t, got, "\r")
		assert.False(t, strings.ContainsFunc(got, func(r rune) bool {
			return r == '\u2028' || r == '\u2029' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069')
		}), "%q", got)
		assert.True(t, utf8.ValidString(got), "%q", got)
	}
}

func TestExternalURL(t *testing.T) {
	u, err := url.Parse("https://user:pw@api.example.com:8443/a/b?access_token=secret#frag")
	assert.NoError(t, err)
	assert.Equal(t, "https://api.example.com:8443/a/b", externalURL(u))
	assert.Empty(t, externalURL(nil))
}
