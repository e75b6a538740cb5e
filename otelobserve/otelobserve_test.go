package otelobserve_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
	"github.com/senderbound/senderbound/observe"
	"github.com/senderbound/senderbound/otelobserve"
)

const (
	audience = "https://api.example.com"
	subject  = "alice@example.com"
)

// sdk is a real OpenTelemetry SDK whose metrics are read on demand and
// whose spans are kept in memory.
type sdk struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	obs    *observe.Observer
}

func newSDK(t testing.TB, opts ...otelobserve.Option) *sdk {
	t.Helper()
	s := &sdk{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(s.reader))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(s.spans))
	t.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	var err error
	s.obs, err = otelobserve.New(append([]otelobserve.Option{
		otelobserve.WithMeterProvider(mp), otelobserve.WithTracerProvider(tp)}, opts...)...)
	require.NoError(t, err)
	return s
}

func (s *sdk) collect(t testing.TB) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, s.reader.Collect(context.Background(), &rm))
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		assert.Equal(t, otelobserve.ScopeName, sm.Scope.Name)
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// has reports whether set holds every one of kvs.
func has(set attribute.Set, kvs []attribute.KeyValue) bool {
	for _, kv := range kvs {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// count sums the int64 counter's points whose attributes hold kvs.
func count(t testing.TB, m metricdata.Metrics, kvs ...attribute.KeyValue) int64 {
	t.Helper()
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is an int64 sum, not %T", m.Name, m.Data)
	assert.True(t, sum.IsMonotonic, m.Name)
	var n int64
	for _, p := range sum.DataPoints {
		if has(p.Attributes, kvs) {
			n += p.Value
		}
	}
	return n
}

// world is a real Guard behind a real HTTP server, trusting one issuer
// that works and one that is down, observed through the real SDK.
type world struct {
	*sdk
	iss, down *oauthtest.Issuer
	client    *dpop.Signer
	srv       *httptest.Server
}

func newWorld(t testing.TB, guardOpts ...middleware.Option) *world {
	t.Helper()
	w := &world{sdk: newSDK(t)}
	var err error
	for _, p := range []**oauthtest.Issuer{&w.iss, &w.down} {
		*p, err = oauthtest.NewIssuer()
		require.NoError(t, err)
		t.Cleanup((*p).Close)
	}
	w.down.SetFault(oauthtest.Fault{Down: true})
	keys, err := jwks.New(context.Background(),
		jwks.WithIssuerJWKS(w.iss.Issuer(), w.iss.JWKSURL()), jwks.WithIssuerJWKS(w.down.Issuer(), w.down.JWKSURL()),
		jwks.WithRefreshRateLimit(time.Millisecond), jwks.WithRateLimitWait(50*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() { _ = keys.Close() })
	g, err := middleware.New(keys, append([]middleware.Option{
		middleware.WithAudience(audience), middleware.WithObserver(w.obs)}, guardOpts...)...)
	require.NoError(t, err)
	w.srv = httptest.NewServer(g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	t.Cleanup(w.srv.Close)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	w.client, err = dpop.NewSigner(key)
	require.NoError(t, err)
	return w
}

func (w *world) mint(t testing.TB, iss *oauthtest.Issuer, tok oauthtest.Token) string {
	t.Helper()
	tok.Subject = subject
	s, err := iss.Mint(tok)
	require.NoError(t, err)
	return s
}

// send makes one request with the token (DPoP scheme when proof is set)
// and returns the status.
func (w *world) send(t testing.TB, method, token, proof string) int {
	t.Helper()
	r, err := http.NewRequest(method, w.srv.URL+"/r", nil)
	require.NoError(t, err)
	if proof != "" {
		r.Header.Set("Authorization", "DPoP "+token)
		r.Header.Set("DPoP", proof)
	} else {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := w.srv.Client().Do(r)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

func (w *world) proof(t testing.TB, method, token string) string {
	t.Helper()
	p, err := w.client.Proof(method, w.srv.URL+"/r", token, "")
	require.NoError(t, err)
	return p
}

// TestThroughARealGuard drives a Guard through every outcome and reads
// what the SDK recorded: counts by outcome and reason, the duration
// histogram, the token-cache lookups, one span per decision with the
// right attributes and status, and nowhere a token, a proof or the subject.
func TestThroughARealGuard(t *testing.T) {
	w := newWorld(t)
	plain := w.mint(t, w.iss, oauthtest.Token{})
	expired := w.mint(t, w.iss, oauthtest.Token{IssuedAt: time.Now().Add(-3 * time.Hour), ExpiresIn: time.Hour})
	bound := w.mint(t, w.iss, oauthtest.Token{JKT: w.client.Thumbprint()})
	unavailable := w.mint(t, w.down, oauthtest.Token{})
	good := w.proof(t, "GET", bound)
	wrongMethod := w.proof(t, "POST", bound)
	secrets := []string{plain, expired, bound, unavailable, good, wrongMethod}

	steps := []struct {
		token, proof string
		status       int
	}{
		{plain, "", 200},          // cold
		{plain, "", 200},          // from the token cache
		{expired, "", 401},        // rejected: expired
		{bound, good, 200},        // DPoP
		{bound, wrongMethod, 401}, // rejected: bad proof
		{bound, good, 401},        // rejected: replayed
		{unavailable, "", 503},    // the issuer is down
	}
	for i, s := range steps {
		require.Equal(t, s.status, w.send(t, "GET", s.token, s.proof), "step %d", i)
	}

	m := w.collect(t)
	requests := m["senderbound.requests"]
	assert.Equal(t, "{request}", requests.Unit)
	iss := otelobserve.AttrIssuer.String(w.iss.Issuer())
	for _, c := range []struct {
		want int64
		kvs  []attribute.KeyValue
	}{
		{7, nil},
		{3, []attribute.KeyValue{otelobserve.AttrOutcome.String("accepted")}},
		{2, []attribute.KeyValue{otelobserve.AttrOutcome.String("accepted"), otelobserve.AttrMechanism.String("bearer"), iss}},
		{1, []attribute.KeyValue{otelobserve.AttrOutcome.String("accepted"), otelobserve.AttrMechanism.String("dpop"), iss}},
		{3, []attribute.KeyValue{otelobserve.AttrOutcome.String("rejected")}},
		{1, []attribute.KeyValue{otelobserve.AttrOutcome.String("rejected"), otelobserve.AttrReason.String("expired"),
			otelobserve.AttrMechanism.String("bearer"), otelobserve.AttrErrorCode.String("invalid_token"), iss}},
		{1, []attribute.KeyValue{otelobserve.AttrOutcome.String("rejected"), otelobserve.AttrReason.String("proof_htm"),
			otelobserve.AttrMechanism.String("dpop"), otelobserve.AttrErrorCode.String("invalid_dpop_proof"), iss}},
		{1, []attribute.KeyValue{otelobserve.AttrOutcome.String("rejected"), otelobserve.AttrReason.String("proof_replayed"),
			otelobserve.AttrMechanism.String("dpop"), iss}},
		{1, []attribute.KeyValue{otelobserve.AttrOutcome.String("unavailable"), otelobserve.AttrReason.String("keys_unavailable"),
			otelobserve.AttrIssuer.String(w.down.Issuer())}},
	} {
		assert.Equal(t, c.want, count(t, requests, c.kvs...), "%v", c.kvs)
	}

	// Attributes that do not apply are absent, not empty.
	for _, p := range requests.Data.(metricdata.Sum[int64]).DataPoints {
		outcome, _ := p.Attributes.Value(otelobserve.AttrOutcome)
		_, hasReason := p.Attributes.Value(otelobserve.AttrReason)
		assert.Equal(t, outcome.AsString() != "accepted", hasReason, "%v", p.Attributes.ToSlice())
		for _, kv := range p.Attributes.ToSlice() {
			assert.NotEmpty(t, kv.Value.AsString(), kv.Key)
		}
	}

	hits := m["senderbound.token_cache.lookups"]
	assert.Equal(t, int64(3), count(t, hits, otelobserve.AttrCacheHit.Bool(true)), "warm bearer, bad proof, replay")
	assert.Equal(t, int64(4), count(t, hits, otelobserve.AttrCacheHit.Bool(false)))

	dur := m["senderbound.verification.duration"]
	assert.Equal(t, "s", dur.Unit)
	hist, ok := dur.Data.(metricdata.Histogram[float64])
	require.True(t, ok)
	var n uint64
	for _, p := range hist.DataPoints {
		n += p.Count
		assert.GreaterOrEqual(t, p.Sum, 0.0)
	}
	assert.Equal(t, uint64(7), n)

	spans := w.spans.Ended()
	require.Len(t, spans, 7, "one span per decision")
	wantReasons := []string{"", "", "expired", "", "proof_htm", "proof_replayed", "keys_unavailable"}
	for i, sp := range spans {
		assert.Equal(t, "senderbound.verify", sp.Name())
		assert.False(t, sp.EndTime().Before(sp.StartTime()))
		attrs := attribute.NewSet(sp.Attributes()...)
		reason, _ := attrs.Value(otelobserve.AttrReason)
		assert.Equal(t, wantReasons[i], reason.AsString(), "span %d", i)
		status, _ := attrs.Value(otelobserve.AttrStatus)
		assert.Equal(t, int64(steps[i].status), status.AsInt64(), "span %d", i)
		if wantReasons[i] == "" {
			assert.Equal(t, codes.Unset, sp.Status().Code, "span %d", i)
		} else {
			assert.Equal(t, codes.Error, sp.Status().Code, "span %d", i)
			errType, _ := attrs.Value(otelobserve.AttrErrorType)
			assert.Equal(t, wantReasons[i], errType.AsString())
		}
	}
	expiredSpan := attribute.NewSet(spans[2].Attributes()...)
	kid, _ := expiredSpan.Value(otelobserve.AttrKeyID)
	assert.Equal(t, w.iss.CurrentKeyID(), kid.AsString())
	spanIss, _ := expiredSpan.Value(otelobserve.AttrIssuer)
	assert.Equal(t, w.iss.Issuer(), spanIss.AsString())
	warmSpan := attribute.NewSet(spans[1].Attributes()...)
	cached, _ := warmSpan.Value(otelobserve.AttrCacheHit)
	assert.True(t, cached.AsBool())

	// No attribute anywhere holds token or proof material, or the subject.
	var values []string
	for _, sp := range spans {
		for _, kv := range sp.Attributes() {
			values = append(values, kv.Value.String())
		}
		for _, ev := range sp.Events() {
			for _, kv := range ev.Attributes {
				values = append(values, kv.Value.String())
			}
		}
		values = append(values, sp.Status().Description)
	}
	for _, mm := range m {
		switch d := mm.Data.(type) {
		case metricdata.Sum[int64]:
			for _, p := range d.DataPoints {
				for _, kv := range p.Attributes.ToSlice() {
					values = append(values, kv.Value.String())
				}
			}
		case metricdata.Histogram[float64]:
			for _, p := range d.DataPoints {
				for _, kv := range p.Attributes.ToSlice() {
					values = append(values, kv.Value.String())
				}
			}
		}
	}
	require.NotEmpty(t, values)
	for _, v := range values {
		assert.NotContains(t, v, subject)
		for _, s := range secrets {
			for _, part := range strings.Split(s, ".") {
				assert.NotContains(t, v, part)
			}
		}
	}
}

// downStore is a replay store that cannot be reached.
type downStore struct{}

func (downStore) Record(context.Context, dpop.ReplayKey, time.Time) (bool, error) {
	return false, errors.New("dial tcp 127.0.0.1:6379: connection refused")
}

// TestNoncesAndReplayStoreErrors: a nonce round trip counts one nonce
// issued; a replay store that cannot answer counts one error, and the
// request is unavailable.
func TestNoncesAndReplayStoreErrors(t *testing.T) {
	nonces, err := dpop.NewHMACNonces([][]byte{[]byte(strings.Repeat("k", 32))})
	require.NoError(t, err)
	v, err := dpop.NewVerifier(dpop.WithNonces(nonces), dpop.WithReplayCache(downStore{}))
	require.NoError(t, err)
	w := newWorld(t, middleware.WithDPoP(v))
	bound := w.mint(t, w.iss, oauthtest.Token{JKT: w.client.Thumbprint()})

	require.Equal(t, http.StatusUnauthorized, w.send(t, "GET", bound, w.proof(t, "GET", bound)))
	nonce, err := v.Nonce()
	require.NoError(t, err)
	p, err := w.client.Proof("GET", w.srv.URL+"/r", bound, nonce)
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, w.send(t, "GET", bound, p))

	m := w.collect(t)
	assert.Equal(t, int64(1), count(t, m["senderbound.dpop.nonces.issued"]))
	assert.Equal(t, int64(1), count(t, m["senderbound.replay_store.errors"], otelobserve.AttrErrorType.String("unavailable")))
	assert.Equal(t, int64(1), count(t, m["senderbound.requests"], otelobserve.AttrReason.String("nonce_required")))
	assert.Equal(t, int64(1), count(t, m["senderbound.requests"],
		otelobserve.AttrOutcome.String("unavailable"), otelobserve.AttrReason.String("replay_store_unavailable")))
}

// TestRefreshes: each refresh counts by issuer and outcome, and the gauges
// report, when collected, the seconds since the issuer's last good refresh
// and how many keys it brought; a failed refresh does not reset the age.
func TestRefreshes(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := t0
	s := newSDK(t, otelobserve.WithClock(func() time.Time { return now }))
	ctx := context.Background()
	const a, b = "https://a.example.com/", "https://b.example.com/"

	s.obs.Refresh(ctx, observe.Refresh{Issuer: a, Start: t0, Duration: 20 * time.Millisecond, Keys: 2})
	s.obs.Refresh(ctx, observe.Refresh{Issuer: b, Start: t0, Duration: time.Second, Keys: 1})
	now = t0.Add(time.Minute)
	s.obs.Refresh(ctx, observe.Refresh{Issuer: a, Start: now, Duration: time.Second, Err: errors.New("503")})
	now = now.Add(30 * time.Second)

	m := s.collect(t)
	refreshes := m["senderbound.jwks.refreshes"]
	assert.Equal(t, int64(1), count(t, refreshes, otelobserve.AttrIssuer.String(a), otelobserve.AttrOutcome.String("success")))
	assert.Equal(t, int64(1), count(t, refreshes, otelobserve.AttrIssuer.String(a), otelobserve.AttrOutcome.String("failure")))
	assert.Equal(t, int64(1), count(t, refreshes, otelobserve.AttrIssuer.String(b)))

	age := m["senderbound.jwks.last_success_age"]
	assert.Equal(t, "s", age.Unit)
	g, ok := age.Data.(metricdata.Gauge[float64])
	require.True(t, ok)
	got := map[string]float64{}
	for _, p := range g.DataPoints {
		v, _ := p.Attributes.Value(otelobserve.AttrIssuer)
		got[v.AsString()] = p.Value
	}
	assert.Equal(t, map[string]float64{a: 89.98, b: 89}, got)

	keys, ok := m["senderbound.jwks.keys"].Data.(metricdata.Gauge[int64])
	require.True(t, ok)
	assert.Len(t, keys.DataPoints, 2)
	for _, p := range keys.DataPoints {
		v, _ := p.Attributes.Value(otelobserve.AttrIssuer)
		assert.Equal(t, map[string]int64{a: 2, b: 1}[v.AsString()], p.Value)
	}
}

// TestSpanIsAChildOfTheRequestSpan: the decision's span hangs under the
// span of the request (an HTTP server span, say) found in the context.
func TestSpanIsAChildOfTheRequestSpan(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	obs, err := otelobserve.New(otelobserve.WithTracerProvider(tp),
		otelobserve.WithMeterProvider(sdkmetric.NewMeterProvider()))
	require.NoError(t, err)
	iss, err := oauthtest.NewIssuer()
	require.NoError(t, err)
	t.Cleanup(iss.Close)
	keys, err := jwks.New(context.Background(), jwks.WithIssuerJWKS(iss.Issuer(), iss.JWKSURL()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = keys.Close() })
	g, err := middleware.New(keys, middleware.WithAudience(audience), middleware.WithObserver(obs))
	require.NoError(t, err)

	ctx, parent := tp.Tracer("test").Start(context.Background(), "GET /r")
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "https://api.example.com/r", nil)
	r.Header.Set("Authorization", "Bearer "+mustMint(t, iss))
	_, err = g.Check(r)
	require.NoError(t, err)
	parent.End()

	ended := spans.Ended()
	require.Len(t, ended, 2)
	assert.Equal(t, "senderbound.verify", ended[0].Name())
	assert.Equal(t, parent.SpanContext().SpanID(), ended[0].Parent().SpanID())
	assert.Equal(t, parent.SpanContext().TraceID(), ended[0].SpanContext().TraceID())
}

func mustMint(t *testing.T, iss *oauthtest.Issuer) string {
	t.Helper()
	tok, err := iss.Mint(oauthtest.Token{})
	require.NoError(t, err)
	return tok
}

func TestNewRefusesNilProviders(t *testing.T) {
	_, err := otelobserve.New(otelobserve.WithMeterProvider(nil), otelobserve.WithTracerProvider(nil), otelobserve.WithClock(nil))
	require.Error(t, err)
	for _, s := range []string{"MeterProvider", "TracerProvider", "clock"} {
		assert.Contains(t, err.Error(), s)
	}
}

// TestMetricsWithoutTracing: with a no-op TracerProvider the adapter
// records metrics and skips spans altogether.
func TestMetricsWithoutTracing(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	obs, err := otelobserve.New(otelobserve.WithMeterProvider(mp), otelobserve.WithTracerProvider(tracenoop.NewTracerProvider()))
	require.NoError(t, err)
	obs.Request(context.Background(), observe.Request{Start: time.Now(), Outcome: observe.Rejected, Status: 401,
		Code: "invalid_token", ReasonName: "expired", Mechanism: "bearer"})
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	require.Len(t, rm.ScopeMetrics, 1)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name == "senderbound.requests" {
			assert.Equal(t, int64(1), count(t, m, otelobserve.AttrReason.String("expired")))
			return
		}
	}
	t.Fatal("no senderbound.requests metric")
}
