package jwks_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/jwks"
)

// offlineTransport answers https requests with respond and counts the http
// ones, which it never sends anywhere: no test here touches the network.
func offlineTransport(plain *atomic.Int64, respond func(*http.Request) *http.Response) roundTripFunc {
	return func(r *http.Request) (*http.Response, error) {
		if r.URL.Scheme != "https" {
			plain.Add(1)
			return nil, io.ErrUnexpectedEOF
		}
		return respond(r), nil
	}
}

func jsonResponse(r *http.Request, status int, body string) *http.Response {
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}
}

// TestPlaintextToLoopbackLookalikeRefused: a host that only starts like a
// loopback name ("localhost.example.com", "127.0.0.1.example") resolves
// wherever its owner wants, so plain http to it is refused as a JWKS URL,
// as an issuer to discover, from a resolver and as a redirect target.
func TestPlaintextToLoopbackLookalikeRefused(t *testing.T) {
	for _, host := range []string{"localhost.example.com", "127.0.0.1.example", "localhost.", "[::1%25lo]"} {
		plainURL := "http://" + host + "/"
		t.Run(host, func(t *testing.T) {
			done, cancel := context.WithCancel(t.Context())
			cancel()
			for name, opt := range map[string]jwks.Option{
				"JWKS URL":      jwks.WithIssuerJWKS("https://issuer.example/", plainURL+"jwks.json"),
				"discovery URL": jwks.WithIssuer(plainURL),
				"issuer":        jwks.WithIssuerJWKS(plainURL, "https://issuer.example/jwks.json"),
			} {
				k, err := jwks.New(done, opt)
				require.ErrorIs(t, err, jwks.ErrPlaintext, name)
				require.Nil(t, k, name)
			}

			k := newKeys(t, newClock(), jwks.WithResolver(func(context.Context, string) (string, error) {
				return plainURL + "jwks.json", nil
			}, 4))
			_, err := k.Key(t.Context(), "https://tenant.example/", "a", "RS256")
			require.ErrorIs(t, err, jwks.ErrPlaintext, "resolver")

			var plain atomic.Int64
			client := &http.Client{Transport: offlineTransport(&plain, func(r *http.Request) *http.Response {
				resp := jsonResponse(r, http.StatusFound, "")
				resp.Header.Set("Location", plainURL+"jwks.json")
				return resp
			})}
			k = newKeys(t, newClock(), jwks.WithHTTPClient(client), jwks.WithIssuerJWKS("https://issuer.example/", "https://issuer.example/jwks.json"))
			_, err = k.Key(t.Context(), "https://issuer.example/", "a", "RS256")
			require.ErrorIs(t, err, jwks.ErrUnavailable, "redirect")
			assert.ErrorIs(t, err, jwks.ErrPlaintext, "redirect")
			assert.Zero(t, plain.Load(), "no plaintext request")
		})
	}
}

// TestDiscoveryNeverDowngradesToPlaintext: an https issuer's metadata must
// name an https jwks_uri. An http one is refused even when its address
// passes the plaintext rule: a loopback address, or any address under
// WithInsecurePlaintextHTTP (which allows http issuers, not downgrades).
func TestDiscoveryNeverDowngradesToPlaintext(t *testing.T) {
	const issuer = "https://issuer.example/"
	for _, tc := range []struct {
		name, jwksURI string
		opts          []jwks.Option
	}{
		{"loopback address", "http://127.0.0.1:1/jwks.json", nil},
		{"localhost", "http://localhost:1/jwks.json", nil},
		{"plaintext allowed", "http://192.0.2.2/jwks.json", []jwks.Option{jwks.WithInsecurePlaintextHTTP()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var plain atomic.Int64
			client := &http.Client{Transport: offlineTransport(&plain, func(r *http.Request) *http.Response {
				return jsonResponse(r, http.StatusOK, `{"issuer":"`+issuer+`","jwks_uri":"`+tc.jwksURI+`"}`)
			})}
			k := newKeys(t, newClock(), append(tc.opts, jwks.WithHTTPClient(client), jwks.WithIssuer(issuer))...)
			_, err := k.Key(t.Context(), issuer, "a", "RS256")
			require.ErrorIs(t, err, jwks.ErrUnavailable)
			require.ErrorIs(t, err, jwks.ErrDiscovery)
			assert.ErrorContains(t, err, "jwks_uri is not https")
			assert.Zero(t, plain.Load(), "no plaintext request")
		})
	}
}
