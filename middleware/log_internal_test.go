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
		{long, strings.Repeat("a", maxLogValue) + "…"},
	} {
		got := oneLine(c.in)
		assert.Equal(t, c.want, got, "%q", c.in)
		assert.NotContains(t, got, "\n")
		assert.NotContains(t, got, "\r")
		assert.True(t, utf8.ValidString(got), "%q", got)
	}
}

func TestExternalURL(t *testing.T) {
	u, err := url.Parse("https://user:pw@api.example.com:8443/a/b?access_token=secret#frag")
	assert.NoError(t, err)
	assert.Equal(t, "https://api.example.com:8443/a/b", externalURL(u))
	assert.Empty(t, externalURL(nil))
}
