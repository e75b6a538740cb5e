package dpop

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// redirectWorld is a set of servers under made-up names: /to?u=URL answers
// 302 to URL, and /record remembers the credentials it received. Every name
// resolves to the loopback address, so a URL's name is what the client sees
// while its port picks the server.
type redirectWorld struct {
	mu                 sync.Mutex
	got                map[string][2]string // path → Authorization, DPoP
	plain, plain2, tls *httptest.Server
}

func newRedirectWorld(t *testing.T) *redirectWorld {
	w := &redirectWorld{got: map[string][2]string{}}
	h := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if u := r.URL.Query().Get("u"); r.URL.Path == "/to" && u != "" {
			http.Redirect(rw, r, u, http.StatusFound)
			return
		}
		w.mu.Lock()
		w.got[r.URL.Path] = [2]string{r.Header.Get("Authorization"), r.Header.Get("DPoP")}
		w.mu.Unlock()
	})
	w.plain, w.plain2, w.tls = httptest.NewServer(h), httptest.NewServer(h), httptest.NewTLSServer(h)
	t.Cleanup(w.plain.Close)
	t.Cleanup(w.plain2.Close)
	t.Cleanup(w.tls.Close)
	return w
}

// url names server s as host (its port kept) with path.
func (w *redirectWorld) url(s *httptest.Server, scheme, host, path string) string {
	u, _ := url.Parse(s.URL)
	return scheme + "://" + net.JoinHostPort(host, u.Port()) + path
}

// client follows redirects through a DPoP Transport whose base dials every
// name at the loopback address and trusts the test certificate (issued to
// example.com and *.example.com).
func (w *redirectWorld) client(t *testing.T) *http.Client {
	testKeys(t)
	s, err := NewSigner(ecKey)
	require.NoError(t, err)
	base := w.tls.Client().Transport.(*http.Transport).Clone()
	base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}
	t.Cleanup(base.CloseIdleConnections)
	return &http.Client{Transport: &Transport{Base: base, Signer: s, Source: StaticToken("tok")}}
}

// TestRedirectCarriesCredentialsOnlyWhereNetHTTPWould: after a redirect, the
// token and a proof go only where net/http itself would send an
// Authorization header (the same host, or a subdomain of the first request's
// host), and never from https down to http.
func TestRedirectCarriesCredentialsOnlyWhereNetHTTPWould(t *testing.T) {
	w := newRedirectWorld(t)
	c := w.client(t)
	for _, tc := range []struct {
		name  string
		start string // the first request's URL
		hops  []string
		creds bool
	}{
		{"same host, same port", w.url(w.plain, "http", "example.com", ""), []string{w.url(w.plain, "http", "example.com", "/same")}, true},
		{"same host, other port", w.url(w.plain, "http", "example.com", ""), []string{w.url(w.plain2, "http", "example.com", "/port")}, true},
		{"subdomain", w.url(w.plain, "http", "example.com", ""), []string{w.url(w.plain2, "http", "api.example.com", "/sub")}, true},
		{"other domain", w.url(w.plain, "http", "example.com", ""), []string{w.url(w.plain2, "http", "evil.test", "/other")}, false},
		{"suffix without a dot", w.url(w.plain, "http", "example.com", ""), []string{w.url(w.plain2, "http", "notexample.com", "/suffix")}, false},
		{"parent domain", w.url(w.plain, "http", "api.example.com", ""), []string{w.url(w.plain2, "http", "example.com", "/parent")}, false},
		{"IP address for a name", w.url(w.plain, "http", "example.com", ""), []string{w.url(w.plain2, "http", "127.0.0.1", "/ip")}, false},
		{"away and back", w.url(w.plain, "http", "example.com", ""), []string{
			w.url(w.plain2, "http", "evil.test", "/to"), w.url(w.plain, "http", "example.com", "/back")}, false},
		{"https down to http, same host", w.url(w.tls, "https", "example.com", ""), []string{w.url(w.plain, "http", "example.com", "/down")}, false},
		{"https to https", w.url(w.tls, "https", "example.com", ""), []string{w.url(w.tls, "https", "example.com", "/tls")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Build the chain from the last hop back: each hop but the
			// last redirects to the next.
			target := tc.hops[len(tc.hops)-1]
			for i := len(tc.hops) - 2; i >= 0; i-- {
				target = tc.hops[i] + "?u=" + url.QueryEscape(target)
			}
			resp, err := c.Get(tc.start + "/to?u=" + url.QueryEscape(target))
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			last, _ := url.Parse(tc.hops[len(tc.hops)-1])
			w.mu.Lock()
			got, ok := w.got[last.Path]
			w.mu.Unlock()
			require.True(t, ok, "the last hop was reached")
			if tc.creds {
				assert.Equal(t, "DPoP tok", got[0])
				assert.NotEmpty(t, got[1])
				proof, err := parseProofClaims(got[1])
				require.NoError(t, err)
				assert.Equal(t, tc.hops[len(tc.hops)-1], proof.htu, "the proof names the hop it is sent to")
			} else {
				assert.Empty(t, got[0], "no token on this hop")
				assert.Empty(t, got[1], "no proof on this hop")
			}
		})
	}
}

// parseProofClaims decodes the claims of a proof without verifying it.
func parseProofClaims(proof string) (proofClaims, error) {
	parts := strings.Split(proof, ".")
	if len(parts) != 3 {
		return proofClaims{}, ErrMalformed
	}
	b, err := b64.DecodeString(parts[1])
	if err != nil {
		return proofClaims{}, err
	}
	return parseClaims(b)
}

// TestRedirectDomainRuleMatchesNetHTTP checks the names rule against the
// cases of net/http's own TestShouldCopyHeaderOnRedirect, plus non-ASCII
// names.
func TestRedirectDomainRuleMatchesNetHTTP(t *testing.T) {
	for _, tc := range []struct {
		sub, parent string
		want        bool
	}{
		{"foo.com", "foo.com", true},
		{"sub.foo.com", "foo.com", true},
		{"a.b.foo.com", "foo.com", true},
		{"foo.com", "sub.foo.com", false},
		{"barfoo.com", "foo.com", false},
		{"bar.com", "foo.com", false},
		{"::1", "::1", true},
		{"::1%.foo.com", "foo.com", false},
		{"127.0.0.1", "0.0.1", true}, // as net/http: an IP is compared as a name
		{"xn--bcher-kva.example", "xn--bcher-kva.example", true},
		{"bücher.example", "bücher.example", false},
		{"sub.bücher.example", "bücher.example", false},
		{"", "foo.com", false},
	} {
		assert.Equal(t, tc.want, isDomainOrSubdomain(tc.sub, tc.parent), "%q under %q", tc.sub, tc.parent)
	}
}
