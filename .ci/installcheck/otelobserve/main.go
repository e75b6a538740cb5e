// Command otelobserve uses the otelobserve module as a user would: a
// Guard reporting to OpenTelemetry metrics, read back through the SDK.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
	"github.com/senderbound/senderbound/otelobserve"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iss, err := oauthtest.NewIssuer()
	if err != nil {
		log.Fatal(err)
	}
	defer iss.Close()
	keys, err := jwks.New(ctx, jwks.WithIssuer(iss.Issuer()))
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	reader := sdkmetric.NewManualReader()
	obs, err := otelobserve.New(otelobserve.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	if err != nil {
		log.Fatal(err)
	}
	guard, err := middleware.New(keys, middleware.WithAudience(iss.Audience()), middleware.WithObserver(obs))
	if err != nil {
		log.Fatal(err)
	}
	rec := httptest.NewRecorder()
	guard.Handler(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusUnauthorized {
		log.Fatalf("no token: %d, want 401", rec.Code)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "senderbound.requests" && len(sum.DataPoints) == 1 {
				fmt.Printf("otelobserve: %s = %d after one rejected request\n", m.Name, sum.DataPoints[0].Value)
				return
			}
		}
	}
	log.Fatal("no senderbound.requests metric")
}
