package main

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/senderbound/senderbound/observe"
	"github.com/senderbound/senderbound/otelobserve"
)

// metrics is what -metrics adds: senderbound's OpenTelemetry metrics,
// exported in the Prometheus text format by handler (mounted on /metrics).
type metrics struct {
	observer *observe.Observer
	handler  http.Handler
	provider *sdkmetric.MeterProvider
}

// newMetrics builds the pipeline: the OpenTelemetry SDK with the Prometheus
// exporter as its reader, on a registry of its own, and no tracing.
func newMetrics() (*metrics, error) {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	obs, err := otelobserve.New(otelobserve.WithMeterProvider(provider),
		otelobserve.WithTracerProvider(noop.NewTracerProvider()))
	if err != nil {
		_ = provider.Shutdown(context.Background())
		return nil, err
	}
	return &metrics{
		observer: obs,
		handler:  promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		provider: provider,
	}, nil
}

// Close stops the meter provider.
func (m *metrics) Close() error { return m.provider.Shutdown(context.Background()) }
