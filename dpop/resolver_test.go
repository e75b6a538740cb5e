package dpop

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestURLResolver(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	public, _ := url.Parse("https://api.example.com/v1/")
	for _, tc := range []struct {
		name     string
		resolver URLResolver
		remote   string
		tls      bool
		header   map[string]string
		target   string
		want     string
	}{
		{name: "plain http", remote: "192.0.2.1:1234", target: "/a?b=c", want: "http://svc.internal:8080/a?b=c"},
		{name: "TLS", remote: "192.0.2.1:1234", tls: true, target: "/a", want: "https://svc.internal:8080/a"},
		{name: "untrusted proxy headers ignored", remote: "192.0.2.1:1234",
			header: map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example", "Forwarded": "proto=https;host=evil.example"},
			target: "/a", want: "http://svc.internal:8080/a"},
		{name: "trusted proxy X-Forwarded-*", resolver: URLResolver{TrustedProxies: trusted}, remote: "10.1.2.3:1234",
			header: map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"},
			target: "/a", want: "https://api.example.com/a"},
		{name: "trusted proxy, last list element", resolver: URLResolver{TrustedProxies: trusted}, remote: "10.1.2.3:1234",
			header: map[string]string{"X-Forwarded-Proto": "http, https", "X-Forwarded-Host": "evil.example, api.example.com"},
			target: "/a", want: "https://api.example.com/a"},
		{name: "trusted proxy Forwarded wins", resolver: URLResolver{TrustedProxies: trusted}, remote: "10.1.2.3:1234",
			header: map[string]string{"Forwarded": `for=1.2.3.4;proto=http, for=5.6.7.8;proto=https;host="api.example.com:8443"`, "X-Forwarded-Host": "other.example"},
			target: "/a", want: "https://api.example.com:8443/a"},
		{name: "trusted proxy, invalid values ignored", resolver: URLResolver{TrustedProxies: trusted}, remote: "10.1.2.3:1234",
			header: map[string]string{"X-Forwarded-Proto": "gopher", "X-Forwarded-Host": "a@evil.example/x"},
			target: "/a", want: "http://svc.internal:8080/a"},
		{name: "public URL with prefix", resolver: URLResolver{PublicURL: public, TrustedProxies: trusted}, remote: "10.1.2.3:1234",
			header: map[string]string{"X-Forwarded-Host": "evil.example"},
			target: "/users/%7e?x=1", want: "https://api.example.com/v1/users/%7e?x=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://svc.internal:8080"+tc.target, nil)
			r.RemoteAddr = tc.remote
			if !tc.tls {
				r.TLS = nil
			} else {
				r.TLS = &tls.ConnectionState{}
			}
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			before := *r.URL
			got := tc.resolver.URL(r)
			assert.Equal(t, tc.want, got.String())
			assert.Equal(t, before, *r.URL, "request URL untouched")
			assert.Equal(t, "svc.internal:8080", r.Host)
		})
	}
}

func TestURLResolverEndToEnd(t *testing.T) {
	// A proof for the external URL verifies against the resolved URL of the
	// request that the proxy forwarded.
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	r := httptest.NewRequest("GET", "http://10.0.0.5/protectedresource?x=1", nil)
	r.RemoteAddr = "127.0.0.1:5555"
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", "resource.example.org")
	got := URLResolver{TrustedProxies: trusted}.URL(r)
	n, err := NormalizeURI(got.String())
	assert.NoError(t, err)
	want, _ := NormalizeURI(testHTU)
	assert.Equal(t, want, n)
	_ = http.MethodGet
}
