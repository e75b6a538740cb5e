package bench

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/bench/internal/benchkit"
	"github.com/senderbound/senderbound/clientauth"
	"github.com/senderbound/senderbound/introspect"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

const rsID, rsSecret = "bench-api", "bench-secret"

// introspectingGuard returns an introspection-only Guard for iss, its
// introspection client made with opts (limits high enough never to refuse
// a benchmark's calls).
func introspectingGuard(b *testing.B, iss *oauthtest.Issuer, client *http.Client, opts []introspect.Option, guardOpts ...middleware.Option) *middleware.Guard {
	b.Helper()
	require.NoError(b, iss.RegisterClient(oauthtest.Client{ID: rsID, Secret: rsSecret}))
	opts = append([]introspect.Option{
		introspect.WithClientAuth(clientauth.ClientSecretBasic(rsID, rsSecret)),
		introspect.WithHTTPClient(client),
		introspect.WithLimits(1024, 1e9),
	}, opts...)
	c, err := introspect.New(context.Background(), iss.Issuer(), opts...)
	require.NoError(b, err)
	b.Cleanup(func() { _ = c.Close() })
	g, err := middleware.New(nil, append([]middleware.Option{
		middleware.WithAudience(oauthtest.DefaultAudience), middleware.WithIntrospection(c)}, guardOpts...)...)
	require.NoError(b, err)
	return g
}

// BenchmarkIntrospection answers issue 21's targets, each as an interleaved
// comparison (x-floor is subject/floor, measured moments apart):
//
//   - warm: an opaque token whose answer is cached, through Handler, beside
//     a warm JWT with the same claims (the floor): it should cost no more;
//   - cold: an opaque token with every cache off, so that each request is
//     one introspection call to a local server, beside the floor of one bare
//     round trip of the same request to the same server; own-ns/op is the
//     difference, our own work per request (target: 20 µs at most).
func BenchmarkIntrospection(b *testing.B) {
	iss := newIssuer(b, oauthtest.WithAlgorithm("ES256"))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	claims := oauthtest.Token{Scope: "read:messages"}
	jwt := mint(b, iss, claims)
	ref, err := iss.MintOpaque(claims)
	require.NoError(b, err)

	b.Run("warm-Bearer-opaque-vs-JWT", func(b *testing.B) {
		jwtGuard := newGuard(b, iss)
		refGuard := introspectingGuard(b, iss, client, nil)
		benchkit.Compare(b,
			benchkit.Served(b, jwtGuard.Handler, benchkit.Same(benchkit.BearerRequest(jwt))),
			benchkit.Served(b, refGuard.Handler, benchkit.Same(benchkit.BearerRequest(ref))))
	})

	b.Run("warm-DPoP-opaque-vs-JWT", func(b *testing.B) {
		signer, _ := newSigner(b)
		bound := oauthtest.Token{Scope: "read:messages", JKT: signer.Thumbprint()}
		boundJWT := mint(b, iss, bound)
		boundRef, err := iss.MintOpaque(bound)
		require.NoError(b, err)
		jwtGuard := newGuard(b, iss, middleware.WithPublicURL(benchkit.PublicURL))
		refGuard := introspectingGuard(b, iss, client, nil, middleware.WithPublicURL(benchkit.PublicURL))
		benchkit.Compare(b,
			benchkit.Served(b, jwtGuard.Handler, benchkit.DPoPRequests(b, signer, boundJWT)),
			benchkit.Served(b, refGuard.Handler, benchkit.DPoPRequests(b, signer, boundRef)))
	})

	b.Run("cold-Bearer-vs-bare-round-trip", func(b *testing.B) {
		g := introspectingGuard(b, iss, client, []introspect.Option{introspect.WithCache(0)}, middleware.WithTokenCache(0, 0))
		// The floor: the same POST (form, Basic credentials, Accept) to the
		// same endpoint over the same client, its answer read in full.
		form := url.Values{"token": {ref}, "token_type_hint": {"access_token"}}.Encode()
		h := http.Header{}
		require.NoError(b, clientauth.ClientSecretBasic(rsID, rsSecret).Apply(h, url.Values{}, iss.IntrospectionURL()))
		roundTrip := func() {
			req, err := http.NewRequest(http.MethodPost, iss.IntrospectionURL(), strings.NewReader(form))
			if err != nil {
				b.Fatal(err)
			}
			req.Header = h.Clone()
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Accept", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"active":true`) {
				b.Fatalf("floor: status %d", resp.StatusCode)
			}
		}
		ns, ratio := benchkit.Compare(b, benchkit.Repeat(roundTrip), benchkit.Served(b, g.Handler, benchkit.Same(benchkit.BearerRequest(ref))))
		b.ReportMetric(ns-ns/ratio, "own-ns/op")
	})

	// Our own work without a network: the cold path with a transport that
	// answers at once with a canned active answer (the same claims), beside
	// a warm JWT as a familiar yardstick.
	b.Run("cold-Bearer-canned-answer-vs-warm-JWT", func(b *testing.B) {
		answer := []byte(`{"active":true,"token_type":"Bearer","iss":"` + iss.Issuer() + `","sub":"auth0|user-123","aud":["` +
			oauthtest.DefaultAudience + `"],"azp":"client-1","scope":"read:messages","iat":1700000000,"exp":4102444800}`)
		canned := &http.Client{Transport: cannedTransport(answer)}
		g := introspectingGuard(b, iss, canned, []introspect.Option{introspect.WithCache(0), introspect.WithEndpoint(iss.IntrospectionURL())}, middleware.WithTokenCache(0, 0))
		jwtGuard := newGuard(b, iss)
		benchkit.Compare(b,
			benchkit.Served(b, jwtGuard.Handler, benchkit.Same(benchkit.BearerRequest(jwt))),
			benchkit.Served(b, g.Handler, benchkit.Same(benchkit.BearerRequest(ref))))
	})
}

// cannedTransport answers every request with 200 and body, at once.
type cannedTransport []byte

func (c cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(bytes.NewReader(c)),
		Request:    r,
	}, nil
}
