package jwks

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDiscoveryURLs(t *testing.T) {
	tests := []struct {
		issuer string
		want   []string
	}{
		{"https://tenant.auth0.com/", []string{
			"https://tenant.auth0.com/.well-known/openid-configuration",
			"https://tenant.auth0.com/.well-known/oauth-authorization-server",
		}},
		{"https://tenant.auth0.com", []string{
			"https://tenant.auth0.com/.well-known/openid-configuration",
			"https://tenant.auth0.com/.well-known/oauth-authorization-server",
		}},
		{"https://idp.example:8443/realms/a", []string{
			"https://idp.example:8443/realms/a/.well-known/openid-configuration",
			"https://idp.example:8443/.well-known/oauth-authorization-server/realms/a",
			"https://idp.example:8443/realms/a/.well-known/oauth-authorization-server",
		}},
		{"https://idp.example/realms/a/", []string{
			"https://idp.example/realms/a/.well-known/openid-configuration",
			"https://idp.example/.well-known/oauth-authorization-server/realms/a",
			"https://idp.example/realms/a/.well-known/oauth-authorization-server",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.issuer, func(t *testing.T) {
			got, err := discoveryURLs(tt.issuer)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			for _, u := range got {
				assert.NotContains(t, strings.TrimPrefix(u, "https://"), "//")
			}
		})
	}
}

func TestParseMetadata(t *testing.T) {
	const iss = "https://tenant.auth0.com/"
	tests := []struct {
		name    string
		issuer  string
		body    string
		want    string
		wantErr error
	}{
		{"ok", iss, `{"issuer":"https://tenant.auth0.com/","jwks_uri":"https://tenant.auth0.com/.well-known/jwks.json"}`,
			"https://tenant.auth0.com/.well-known/jwks.json", nil},
		{"issuer without trailing slash", iss, `{"issuer":"https://tenant.auth0.com","jwks_uri":"https://t/j"}`, "", ErrDiscovery},
		{"issuer case differs", iss, `{"issuer":"https://TENANT.auth0.com/","jwks_uri":"https://t/j"}`, "", ErrDiscovery},
		{"issuer missing", iss, `{"jwks_uri":"https://t/j"}`, "", ErrDiscovery},
		{"issuer not a string", iss, `{"issuer":42,"jwks_uri":"https://t/j"}`, "", ErrDiscovery},
		{"jwks_uri missing", iss, `{"issuer":"https://tenant.auth0.com/"}`, "", ErrDiscovery},
		{"jwks_uri empty", iss, `{"issuer":"https://tenant.auth0.com/","jwks_uri":""}`, "", ErrDiscovery},
		{"jwks_uri relative", iss, `{"issuer":"https://tenant.auth0.com/","jwks_uri":"/jwks.json"}`, "", ErrDiscovery},
		{"jwks_uri downgrade", iss, `{"issuer":"https://tenant.auth0.com/","jwks_uri":"http://tenant.auth0.com/jwks"}`, "", ErrDiscovery},
		{"jwks_uri other scheme", iss, `{"issuer":"https://tenant.auth0.com/","jwks_uri":"file:///etc/passwd"}`, "", ErrDiscovery},
		{"http issuer may use http", "http://127.0.0.1:1/", `{"issuer":"http://127.0.0.1:1/","jwks_uri":"http://127.0.0.1:1/j"}`,
			"http://127.0.0.1:1/j", nil},
		{"http jwks_uri off loopback", "http://127.0.0.1:1/", `{"issuer":"http://127.0.0.1:1/","jwks_uri":"http://192.0.2.2/j"}`, "", ErrPlaintext},
		{"not an object", iss, `["issuer"]`, "", ErrDiscovery},
		{"garbage", iss, `{"issuer":`, "", ErrDiscovery},
		{"null", iss, `null`, "", ErrDiscovery},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMetadata([]byte(tt.body), tt.issuer, false)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// metadataServer serves metadata at the given paths only, naming the
// issuer given by issuerOf(serverURL).
func metadataServer(t *testing.T, paths []string, issuerPath string, jwksBody []byte) (srv *httptest.Server, issuer string, hits *[]string) {
	t.Helper()
	var seen []string
	mux := http.NewServeMux()
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.URL.Path)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	issuer = srv.URL + issuerPath
	for _, p := range paths {
		mux.HandleFunc("GET "+p, func(w http.ResponseWriter, _ *http.Request) {
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": srv.URL + "/keys"})
		})
	}
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(jwksBody) })
	return srv, issuer, &seen
}

func TestDiscoveryFallback(t *testing.T) {
	jwksBody := testJWKS(t)
	tests := []struct {
		name       string
		paths      []string
		issuerPath string
		wantHits   []string
	}{
		{"openid configuration, trailing slash", []string{"/.well-known/openid-configuration"}, "/",
			[]string{"/.well-known/openid-configuration", "/keys"}},
		{"RFC 8414 fallback", []string{"/.well-known/oauth-authorization-server"}, "/",
			[]string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/keys"}},
		{"RFC 8414 fallback, issuer with path", []string{"/.well-known/oauth-authorization-server/tenant"}, "/tenant",
			[]string{"/tenant/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/tenant", "/keys"}},
		{"openid configuration, issuer with path", []string{"/tenant/.well-known/openid-configuration"}, "/tenant/",
			[]string{"/tenant/.well-known/openid-configuration", "/keys"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, issuer, hits := metadataServer(t, tt.paths, tt.issuerPath, jwksBody)
			k, err := New(t.Context(), WithIssuer(issuer))
			require.NoError(t, err)
			defer k.Close()
			_, err = k.Key(t.Context(), issuer, "a", "RS256")
			require.NoError(t, err)
			assert.Equal(t, tt.wantHits, *hits)
		})
	}
	t.Run("nothing found", func(t *testing.T) {
		_, issuer, hits := metadataServer(t, nil, "/tenant", jwksBody)
		k, err := New(t.Context(), WithIssuer(issuer))
		require.NoError(t, err)
		defer k.Close()
		_, err = k.Key(t.Context(), issuer, "a", "RS256")
		require.ErrorIs(t, err, ErrUnavailable)
		require.ErrorIs(t, err, ErrDiscovery)
		// Three metadata locations at New; the Key call fails at once, without
		// a second try inside the rate-limit window; never a JWKS.
		assert.Len(t, *hits, 3)
		assert.NotContains(t, *hits, "/keys")
	})
}

func TestMismatchErrorNamesBothIssuers(t *testing.T) {
	_, err := parseMetadata([]byte(`{"issuer":"https://tenant.auth0.com/","jwks_uri":"https://t/j"}`), "https://tenant.auth0.com", false)
	require.ErrorIs(t, err, ErrDiscovery)
	var mm *mismatchError
	require.ErrorAs(t, err, &mm)
	assert.Contains(t, err.Error(), `"https://tenant.auth0.com/"`)
	assert.Contains(t, err.Error(), `"https://tenant.auth0.com"`)
	assert.Contains(t, mm.fix(), "trailing slash")

	_, err = parseMetadata([]byte(`{"issuer":"https://other.example/`+strings.Repeat("a", 5000)+`","jwks_uri":"https://t/j"}`), "https://tenant.auth0.com/", false)
	require.ErrorAs(t, err, &mm)
	assert.Less(t, len(err.Error()), 1000, "an issuer-chosen value is clipped")
	assert.Contains(t, mm.fix(), "exactly as the metadata names it")
}

func testJWKS(t testing.TB) []byte {
	t.Helper()
	// A fixed 2048-bit RSA public key is enough: only the public part matters.
	j, err := jwkset.NewJWKFromKey(testRSAPublic(t), jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: "a", ALG: jwkset.AlgRS256, USE: jwkset.UseSig},
	})
	require.NoError(t, err)
	b, err := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{j.Marshal()}})
	require.NoError(t, err)
	return b
}

func TestLimitTransport(t *testing.T) {
	big := bytes.Repeat([]byte("a"), 2048)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("chunked") {
			w.(http.Flusher).Flush() // no Content-Length
		}
		_, _ = w.Write(big[:len(big)-len(r.URL.Query().Get("shorter"))])
	}))
	t.Cleanup(srv.Close)
	c := &http.Client{Transport: limitTransport{base: http.DefaultTransport, max: 2047}}
	for _, q := range []string{"", "?chunked=1"} {
		_, err := c.Get(srv.URL + q)
		require.ErrorIs(t, err, errTooLarge, q)
		resp, err := c.Get(srv.URL + q + "&shorter=x")
		if q == "" {
			resp, err = c.Get(srv.URL + "?shorter=x")
		}
		require.NoError(t, err)
		resp.Body.Close()
		assert.EqualValues(t, 2047, resp.ContentLength)
	}
}

// FuzzParseMetadata: accepted metadata always names the expected issuer
// exactly and an absolute http(s) jwks_uri.
func FuzzParseMetadata(f *testing.F) {
	const iss = "https://tenant.auth0.com/"
	f.Add([]byte(`{"issuer":"https://tenant.auth0.com/","jwks_uri":"https://tenant.auth0.com/.well-known/jwks.json"}`))
	f.Add([]byte(`{"issuer":"https://tenant.auth0.com","jwks_uri":"https://x/"}`))
	f.Add([]byte(`{"issuer":"https://tenant.auth0.com/","jwks_uri":"http://x/"}`))
	f.Add([]byte(`{"issuer":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := parseMetadata(body, iss, false)
		if err != nil {
			require.ErrorIs(t, err, ErrDiscovery)
			return
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal(body, &m))
		issuer, ok := m["issuer"].(string)
		require.True(t, ok)
		require.Equal(t, iss, issuer)
		u, err := url.Parse(got)
		require.NoError(t, err)
		require.Equal(t, "https", u.Scheme)
		require.NotEmpty(t, u.Host)
	})
}

// FuzzJWKS runs untrusted JWKS bodies through the private-key filter and
// jwkset (as a refresh does) into an index: every key the index hands out
// fits the algorithm asked for, no key held publishes private members or
// contradicts its use, and the filtered body jwkset reads holds no private
// member however its JSON is spelled.
func FuzzJWKS(f *testing.F) {
	f.Add(testJWKS(f))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"a"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"AA","y":"AA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"AA","y":"AA","D":"AA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"AA"}]} {"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB","use":"sig","key_ops":["encrypt"]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		store := newIndexStore(100)
		client := &http.Client{Transport: privateKeyFilter{store: store, base: roundTripFunc(func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(bytes.NewReader(body))}, nil
		})}}
		_, err := jwkset.NewStorageFromHTTP("https://issuer.example/jwks", jwkset.HTTPClientStorageOptions{
			Client: client, Ctx: context.Background(), Storage: store})
		idx := store.idx.Load()
		if err != nil {
			require.Nil(t, idx, "a failed fetch installs nothing")
			return
		}
		require.NotNil(t, idx)
		kept, _ := dropPrivateKeys(body)
		var set jwkset.JWKSMarshal
		if json.NewDecoder(bytes.NewReader(kept)).Decode(&set) == nil {
			for _, m := range set.Keys {
				require.Empty(t, privateMembers(m))
			}
		}
		for _, es := range idx.keys {
			for _, e := range es {
				require.NoError(t, neverUsed(e.jwk))
			}
			for i, alg := range algs {
				key, err := es.pick(alg, i)
				if err == nil {
					require.NoError(t, keyFits(alg, key))
				} else {
					require.ErrorIs(t, err, ErrKeyMismatch)
				}
			}
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
