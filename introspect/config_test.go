package introspect_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/clientauth"
	"github.com/senderbound/senderbound/introspect"
)

func TestNewReportsEveryProblem(t *testing.T) {
	_, err := introspect.New(context.Background(), "http://issuer.example/",
		introspect.WithEndpoint("http://issuer.example/introspect"),
		introspect.WithCache(-1), introspect.WithLimits(0, 0), introspect.WithClock(nil),
		introspect.WithMaxResponseSize(0), introspect.WithJWTResponse(nil, ""))
	require.ErrorIs(t, err, introspect.ErrConfig)
	for _, want := range []string{
		"no client authentication", "issuer", "endpoint", "negative cache", "concurrent call limit",
		"per-second call limit", "nil clock", "maximum response size", "nil key source", "empty client ID",
	} {
		assert.Contains(t, err.Error(), want)
	}
	_, err = introspect.New(context.Background(), "https://issuer.example/",
		introspect.WithEndpoint("https://issuer.example/introspect"),
		introspect.WithClientAuth(clientauth.ClientSecretBasic("id", "")))
	require.ErrorIs(t, err, introspect.ErrConfig)
	assert.Contains(t, err.Error(), "empty client secret")
}

func TestPlaintextOnlyOnLoopback(t *testing.T) {
	auth := introspect.WithClientAuth(clientauth.ClientSecretPost("id", "s"))
	for endpoint, ok := range map[string]bool{
		"https://issuer.example/introspect":         true,
		"http://127.0.0.1:9/introspect":             true,
		"http://localhost:9/introspect":             true,
		"http://issuer.example/introspect":          false,
		"http://127.0.0.1.evil.example/introspect":  false,
		"https://user:pw@issuer.example/introspect": false,
		"/introspect": false,
		"https://issuer.example/introspect#fragment":   false,
		"ftp://issuer.example/introspect":              false,
		"http://localhost.example.com:9/introspect":    false,
		"http://[::1]:9/introspect":                    true,
		"https://issuer.example:8443/oauth/introspect": true,
	} {
		c, err := introspect.New(context.Background(), "https://issuer.example/", introspect.WithEndpoint(endpoint), auth)
		if ok {
			require.NoError(t, err, endpoint)
			_ = c.Close()
		} else {
			require.ErrorIs(t, err, introspect.ErrConfig, endpoint)
		}
	}
	c, err := introspect.New(context.Background(), "http://issuer.example/",
		introspect.WithEndpoint("http://issuer.example/introspect"), auth, introspect.WithInsecurePlaintextHTTP())
	require.NoError(t, err, "the operator may allow plaintext explicitly")
	_ = c.Close()
}

func TestDiscovery(t *testing.T) {
	var metadata string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, metadata)
	}))
	defer srv.Close()
	issuer := srv.URL + "/"
	auth := introspect.WithClientAuth(clientauth.ClientSecretPost("id", "s"))
	for _, tc := range []struct {
		name, metadata string
		ok             bool
	}{
		{"found", `{"issuer":"` + issuer + `","introspection_endpoint":"` + srv.URL + `/introspect"}`, true},
		{"another issuer", `{"issuer":"https://evil.example/","introspection_endpoint":"` + srv.URL + `/introspect"}`, false},
		{"issuer differs by a slash", `{"issuer":"` + srv.URL + `","introspection_endpoint":"` + srv.URL + `/introspect"}`, false},
		{"no endpoint", `{"issuer":"` + issuer + `"}`, false},
		{"plaintext endpoint elsewhere", `{"issuer":"` + issuer + `","introspection_endpoint":"http://evil.example/introspect"}`, false},
		{"endpoint not a string", `{"issuer":"` + issuer + `","introspection_endpoint":42}`, false},
		{"duplicate endpoint", `{"issuer":"` + issuer + `","introspection_endpoint":"` + srv.URL + `/a","introspection_endpoint":"` + srv.URL + `/b"}`, false},
		{"not JSON", `<html>`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			metadata = tc.metadata
			c, err := introspect.New(context.Background(), issuer, auth)
			if tc.ok {
				require.NoError(t, err)
				assert.Equal(t, srv.URL+"/introspect", c.Endpoint())
				_ = c.Close()
				return
			}
			require.ErrorIs(t, err, introspect.ErrDiscovery)
		})
	}
}
