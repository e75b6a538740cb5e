package dpop

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormalizeURI(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://api.example.com/a", "https://api.example.com/a"},
		{"HTTPS://API.EXAMPLE.COM/A", "https://api.example.com/A"},
		{"https://api.example.com", "https://api.example.com/"},
		{"https://api.example.com?x", "https://api.example.com/"},
		{"https://api.example.com:443/a", "https://api.example.com/a"},
		{"http://api.example.com:80/a", "http://api.example.com/a"},
		{"http://api.example.com:443/a", "http://api.example.com:443/a"},
		{"https://api.example.com:/a", "https://api.example.com/a"},
		{"https://api.example.com:0443/a", "https://api.example.com/a"},
		{"https://api.example.com:8443/a", "https://api.example.com:8443/a"},
		{"https://api.example.com/a?b=c#d", "https://api.example.com/a"},
		{"https://api.example.com/%7euser/%7E", "https://api.example.com/~user/~"},
		{"https://api.example.com/a%2fb", "https://api.example.com/a%2Fb"},
		{"https://api.example.com/%41%62", "https://api.example.com/Ab"},
		{"https://api.example.com/a b/é", "https://api.example.com/a%20b/%C3%A9"},
		{"https://api.example.com/a/./b/../../c", "https://api.example.com/c"},
		{"https://api.example.com/a/%2e%2E/b", "https://api.example.com/b"},
		{"https://api.example.com/../a", "https://api.example.com/a"},
		{"https://api.example.com/a/..", "https://api.example.com/"},
		{"https://[2001:DB8::1]:443/a", "https://[2001:db8::1]/a"},
		{"https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443/"},
		{"https://127.0.0.1/a", "https://127.0.0.1/a"},
		{"https://api.example.com/a;p=1/b:c@d", "https://api.example.com/a;p=1/b:c@d"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := NormalizeURI(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			again, err := NormalizeURI(got)
			require.NoError(t, err)
			assert.Equal(t, got, again)
		})
	}
}

func TestNormalizeURIRejects(t *testing.T) {
	for _, in := range []string{
		"", "/a", "api.example.com/a", "//api.example.com/a", "ftp://api.example.com/a",
		"https:api.example.com/a", "https://user@api.example.com/a", "https://user:pw@api.example.com/a",
		"https:///a", "https://:443/a", "https://api.example.com:99999/a", "https://api.example.com:8x/a",
		"https://api.example.com/%zz", "https://api.example.com/%4", "https://api exa.com/",
		"https://[::1%25eth0]/", "https://[127.0.0.1]/", "https://[::1/", "https://[::1]x/",
		"https://api.example.com:443:443/", "https://exa%6dple.com/",
	} {
		t.Run(in, func(t *testing.T) {
			_, err := NormalizeURI(in)
			require.ErrorIs(t, err, ErrURL)
		})
	}
}

func FuzzNormalizeURI(f *testing.F) {
	for _, s := range []string{
		"https://api.example.com/a/./b/../c?q#f", "HTTP://A.B:80", "https://[::1]:443/%7e%2f",
		"https://x/..//..", "https://x/.%2e/%2E./", "http://x:0/a b", "https://x//./",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, err := NormalizeURI(in)
		if err != nil {
			return
		}
		again, err := NormalizeURI(n)
		require.NoError(t, err, "normal form %q is rejected", n)
		require.Equal(t, n, again, "not idempotent")
	})
}

// TestHTUMustEqualTheRequestURL: htu must equal the request URL, not be a
// prefix of it (nor extend it).
func TestHTUMustEqualTheRequestURL(t *testing.T) {
	testKeys(t)
	require.Equal(t, "https://resource.example.org/protectedresource", testHTU)
	for _, htu := range []string{
		"https://resource.example.org",
		"https://resource.example.org/",
		"https://resource.example.org/protected",
		"https://resource.example.org/protectedresourc",
		"https://resource.example.org/protectedresource/",
		"https://resource.example.org/protectedresource/x",
		"https://resource.example.org/protectedresourcex",
		"https://resource.example.org.evil/protectedresource",
	} {
		v := newTestVerifier(t, newFakeClock())
		_, err := v.Verify(context.Background(), handProof(t, ecKey, "ES256", func(h, c map[string]any) { c["htu"] = htu }), testRequest())
		require.ErrorIs(t, err, ErrURL, htu)
	}
}
