package middleware_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
	"github.com/senderbound/senderbound/observe"
)

// BenchmarkObserverBearerWarm measures the warm Bearer path (ES256 token in
// the token cache) without an observer and with one whose Request callback
// does nothing: the difference is what the observation hook itself costs.
func BenchmarkObserverBearerWarm(b *testing.B) {
	iss := newIssuer(b, oauthtest.WithAlgorithm("ES256"))
	tok := mint(b, iss, oauthtest.Token{Scope: "read:messages"})
	noop := &observe.Observer{Request: func(context.Context, observe.Request) {}}
	for _, c := range []struct {
		name string
		opts []middleware.Option
	}{
		{"none", nil},
		{"noop", []middleware.Option{middleware.WithObserver(noop)}},
	} {
		h := newGuard(b, iss, c.opts...).Handler(ok200)
		r := bearer(tok)
		w := &discard{h: http.Header{}}
		h.ServeHTTP(w, r)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}
