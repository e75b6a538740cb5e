package otelobserve_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/senderbound/senderbound/observe"
	"github.com/senderbound/senderbound/otelobserve"
)

// TestIssuerSeriesBounded: a multi-tenant key source may report issuers
// named at run time, each load (failed ones too) with its issuer. Past the
// first 1,000, they share the series of otelobserve.OtherIssuer, so that no
// stream of tenants grows the metrics without end.
func TestIssuerSeriesBounded(t *testing.T) {
	s := newSDK(t)
	ctx := context.Background()
	for i := range 1500 {
		e := observe.Refresh{Issuer: fmt.Sprintf("https://tenant-%d.example/", i), Start: time.Now(), Keys: 1}
		if i%2 == 1 {
			e.Err, e.Keys = errors.New("down"), 0
		}
		s.obs.Refresh(ctx, e)
	}
	m := s.collect(t)
	issuers := map[string]bool{}
	sum, ok := m["senderbound.jwks.refreshes"].Data.(metricdata.Sum[int64])
	require.True(t, ok)
	for _, p := range sum.DataPoints {
		v, _ := p.Attributes.Value(otelobserve.AttrIssuer)
		issuers[v.AsString()] = true
	}
	assert.Len(t, issuers, 1001, "1,000 issuers and the others together")
	assert.True(t, issuers[otelobserve.OtherIssuer])
	assert.Equal(t, int64(1500), count(t, m["senderbound.jwks.refreshes"]), "every load is still counted")
	assert.Equal(t, int64(500), count(t, m["senderbound.jwks.refreshes"], otelobserve.AttrIssuer.String(otelobserve.OtherIssuer)))
}
