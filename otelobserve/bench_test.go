package otelobserve_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
	"github.com/senderbound/senderbound/observe"
	"github.com/senderbound/senderbound/otelobserve"
)

// discard is a ResponseWriter that costs nothing.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// dropSpans is a span exporter that drops what it is given, so that the
// benchmark measures recording spans, not shipping them.
type dropSpans struct{}

func (dropSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (dropSpans) Shutdown(context.Context) error                             { return nil }

// BenchmarkBearerWarm measures the warm Bearer path (ES256 token in the
// token cache, through Guard.Handler) without an observer, with the
// OpenTelemetry SDK recording metrics only, and with the SDK recording
// metrics and a span per request (batched to an exporter that drops them),
// all in one run.
func BenchmarkBearerWarm(b *testing.B) {
	iss, err := oauthtest.NewIssuer(oauthtest.WithAlgorithm("ES256"))
	require.NoError(b, err)
	b.Cleanup(iss.Close)
	keys, err := jwks.New(context.Background(), jwks.WithIssuerJWKS(iss.Issuer(), iss.JWKSURL()))
	require.NoError(b, err)
	b.Cleanup(func() { _ = keys.Close() })
	tok, err := iss.Mint(oauthtest.Token{Scope: "read:messages"})
	require.NoError(b, err)

	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(dropSpans{}, sdktrace.WithBatchTimeout(time.Second)))
	b.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	metricsOnly, err := otelobserve.New(otelobserve.WithMeterProvider(mp), otelobserve.WithTracerProvider(noop.NewTracerProvider()))
	require.NoError(b, err)
	full, err := otelobserve.New(otelobserve.WithMeterProvider(mp), otelobserve.WithTracerProvider(tp))
	require.NoError(b, err)

	for _, c := range []struct {
		name string
		obs  *observe.Observer
	}{{"none", nil}, {"sdk-metrics", metricsOnly}, {"sdk-metrics+spans", full}} {
		opts := []middleware.Option{middleware.WithAudience(iss.Audience())}
		if c.obs != nil {
			opts = append(opts, middleware.WithObserver(c.obs))
		}
		g, err := middleware.New(keys, opts...)
		require.NoError(b, err)
		h := g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		r := httptest.NewRequest(http.MethodGet, "https://api.example.com/r", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
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

// BenchmarkRequestEvent measures the adapter alone: one request event
// recorded as metrics only, and as metrics and a span.
func BenchmarkRequestEvent(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(dropSpans{}, sdktrace.WithBatchTimeout(time.Second)))
	b.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	metricsOnly, err := otelobserve.New(otelobserve.WithMeterProvider(mp), otelobserve.WithTracerProvider(noop.NewTracerProvider()))
	require.NoError(b, err)
	full, err := otelobserve.New(otelobserve.WithMeterProvider(mp), otelobserve.WithTracerProvider(tp))
	require.NoError(b, err)
	e := observe.Request{Start: time.Now(), Duration: 2 * time.Microsecond, Outcome: observe.Accepted, Status: 200,
		Mechanism: observe.MechanismBearer, Issuer: "https://tenant.example.com/", KeyID: "k1", CacheHit: true}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		obs  *observe.Observer
	}{{"metrics", metricsOnly}, {"metrics+spans", full}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.obs.Request(ctx, e)
			}
		})
	}
}
