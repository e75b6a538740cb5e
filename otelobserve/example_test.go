package otelobserve_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
	"github.com/senderbound/senderbound/otelobserve"
)

// This example gives a Guard the OpenTelemetry observer and reads the
// request counter. In production, leave out WithMeterProvider (the global
// provider is used) and export with the SDK's readers or the Prometheus
// exporter.
func Example() {
	iss, _ := oauthtest.NewIssuer() // test-only issuer
	defer iss.Close()
	keys, err := jwks.New(context.Background(), jwks.WithIssuerJWKS(iss.Issuer(), iss.JWKSURL()))
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

	good, _ := iss.Mint(oauthtest.Token{})
	expired, _ := iss.Mint(oauthtest.Token{IssuedAt: time.Now().Add(-2 * time.Hour), ExpiresIn: time.Hour})
	for _, tok := range []string{good, good, expired} {
		r := httptest.NewRequest("GET", "https://api.example.com/messages", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		_, _ = guard.Check(r)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name != "senderbound.requests" {
			continue
		}
		for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
			outcome, _ := p.Attributes.Value(otelobserve.AttrOutcome)
			reason, _ := p.Attributes.Value(otelobserve.AttrReason)
			fmt.Printf("%s %s reason=%q: %d\n", m.Name, outcome.AsString(), reason.AsString(), p.Value)
		}
	}
	// Unordered output:
	// senderbound.requests accepted reason="": 2
	// senderbound.requests rejected reason="expired": 1
}
