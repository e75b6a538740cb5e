package loopback

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost":              true,
		"LocalHost":              true,
		"127.0.0.1":              true,
		"127.8.9.10":             true,
		"::1":                    true,
		"::ffff:127.0.0.1":       true,
		"":                       false,
		"localhost.":             false,
		"localhost.example.com":  false,
		"127.0.0.1.evil.example": false,
		"127.attacker.example":   false,
		"127.1":                  false,
		"0x7f000001":             false,
		"10.0.0.1":               false,
		"::2":                    false,
		"fe80::1%lo":             false,
		"example.com":            false,
	} {
		assert.Equal(t, want, Host(host), "%q", host)
	}
}

func TestPlaintextAllowed(t *testing.T) {
	for raw, want := range map[string]bool{
		"http://127.0.0.1:8080/jwks":                true,
		"HTTP://localhost/x":                        true,
		"http://[::1]:9/x":                          true,
		"https://127.0.0.1/x":                       false,
		"http://127.0.0.1.evil.example/oauth/token": false,
		"http://localhost.example.com/x":            false,
		"ftp://localhost/x":                         false,
	} {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		assert.Equal(t, want, PlaintextAllowed(u), raw)
	}
}
