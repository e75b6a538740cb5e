package introspect

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/senderbound/senderbound/clientauth"
)

type canned []byte

func (c canned) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(c)), Request: r}, nil
}

func benchClient(b *testing.B) *Client {
	answer := []byte(`{"active":true,"token_type":"Bearer","sub":"u","aud":"https://api.example.com","scope":"read","iat":1700000000,"exp":4102444800}`)
	c, err := New(context.Background(), "https://issuer.example/", WithEndpoint("https://issuer.example/introspect"),
		WithClientAuth(clientauth.ClientSecretBasic("id", "secret")), WithHTTPClient(&http.Client{Transport: canned(answer)}),
		WithCache(0), WithLimits(64, 1e9))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// BenchmarkIntrospectCold: our own work per call (cache off), through the
// single-flight goroutine, and the call alone (without it).
func BenchmarkIntrospectCold(b *testing.B) {
	b.Run("Introspect", func(b *testing.B) {
		c := benchClient(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Introspect(context.Background(), "ot_token"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("call", func(b *testing.B) {
		c := benchClient(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := c.call(context.Background(), "ot_token"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
