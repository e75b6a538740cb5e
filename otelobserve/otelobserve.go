package otelobserve

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/introspect"
	"github.com/senderbound/senderbound/observe"
)

// ScopeName is the instrumentation scope of the meter and the tracer.
const ScopeName = "github.com/senderbound/senderbound/otelobserve"

// The attribute keys. Every value is bounded: outcomes, reasons, mechanisms
// and error codes are fixed sets, and issuers and key IDs are only those
// the key source trusts (see [observe.Request]); issuers past the first
// 1,000 share the series of [OtherIssuer].
const (
	AttrOutcome   = attribute.Key("senderbound.outcome")
	AttrReason    = attribute.Key("senderbound.reason")
	AttrMechanism = attribute.Key("senderbound.mechanism")
	AttrErrorCode = attribute.Key("senderbound.error_code")
	AttrIssuer    = attribute.Key("senderbound.issuer")
	AttrKeyID     = attribute.Key("senderbound.kid")
	AttrCacheHit  = attribute.Key("senderbound.token_cache.hit")
	AttrStatus    = attribute.Key("http.response.status_code")
	AttrErrorType = attribute.Key("error.type")
	// AttrIntrospectionOutcome is an introspection's outcome: active,
	// inactive, failed or limited.
	AttrIntrospectionOutcome = attribute.Key("senderbound.introspection.outcome")
	// AttrIntrospectionCacheHit says whether the introspection client's
	// cache answered.
	AttrIntrospectionCacheHit = attribute.Key("senderbound.introspection.cache.hit")
)

// durationBuckets suit verification, which takes microseconds when the
// token is cached and up to seconds when keys must be fetched.
var durationBuckets = []float64{
	0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// Option configures [New].
type Option func(*config)

type config struct {
	meters  metric.MeterProvider
	tracers trace.TracerProvider
	now     func() time.Time
	errs    []error
}

// WithMeterProvider sets where metrics go. Default: the global
// otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) {
		if mp == nil {
			c.errs = append(c.errs, errors.New("otelobserve: nil MeterProvider"))
		}
		c.meters = mp
	}
}

// WithTracerProvider sets where spans go. Default: the global
// otel.GetTracerProvider().
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) {
		if tp == nil {
			c.errs = append(c.errs, errors.New("otelobserve: nil TracerProvider"))
		}
		c.tracers = tp
	}
}

// WithClock sets the clock that the seconds-since-last-good-refresh gauge
// reads when it is collected (for tests). Default: time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now == nil {
			c.errs = append(c.errs, errors.New("otelobserve: nil clock"))
		}
		c.now = now
	}
}

// New returns an Observer that records senderbound's events as
// OpenTelemetry metrics (see the package documentation for the list) and
// one span per request decision. Give the same Observer to every component
// (middleware.WithObserver, jwks.WithObserver). It is safe for concurrent
// use.
func New(opts ...Option) (*observe.Observer, error) {
	c := config{now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	if c.meters == nil {
		c.meters = otel.GetMeterProvider()
	}
	if c.tracers == nil {
		c.tracers = otel.GetTracerProvider()
	}
	a := &adapter{now: c.now, issuers: map[string]*issuerState{}}
	if _, off := c.tracers.(noop.TracerProvider); !off {
		a.tracer = c.tracers.Tracer(ScopeName)
	}
	if err := a.instruments(c.meters.Meter(ScopeName)); err != nil {
		return nil, err
	}
	return &observe.Observer{
		Request:          a.request,
		Refresh:          a.refresh,
		ReplayStoreError: a.replayStoreError,
		NonceIssued:      a.nonceIssued,
		Introspection:    a.introspection,
	}, nil
}

type adapter struct {
	tracer trace.Tracer // nil: tracing is off
	now    func() time.Time

	requests, cacheLookups, refreshes, replayErrors, nonces metric.Int64Counter
	duration, refreshDuration                               metric.Float64Histogram
	introspections                                          metric.Int64Counter
	introspectionDuration                                   metric.Float64Histogram

	// attrs caches the attribute sets of the request metrics: their values
	// are bounded, so a few sets serve every request without allocating.
	attrs     sync.Map // requestKey -> *requestAttrs
	attrCount atomic.Int32

	mu      sync.Mutex
	issuers map[string]*issuerState

	// issuerNames holds the issuers that have series of their own, at most
	// maxIssuerSeries of them (see issuerName).
	issuerNames     sync.Map // string -> struct{}
	issuerNameCount atomic.Int32
}

// maxIssuerSeries bounds the issuers that get metric series of their own.
// A multi-tenant key source (jwks.WithResolver) may trust issuers named at
// run time; past this many, the others are counted together under
// [OtherIssuer], so that no stream of tenants can grow the series without
// end.
const maxIssuerSeries = 1000

// OtherIssuer is the senderbound.issuer value of the issuers past the
// first 1,000 seen.
const OtherIssuer = "_other"

// issuerName is iss, or OtherIssuer once maxIssuerSeries others have
// series.
func (a *adapter) issuerName(iss string) string {
	if iss == "" {
		return ""
	}
	if _, ok := a.issuerNames.Load(iss); ok {
		return iss
	}
	if a.issuerNameCount.Add(1) > maxIssuerSeries {
		a.issuerNameCount.Add(-1)
		return OtherIssuer
	}
	if _, loaded := a.issuerNames.LoadOrStore(iss, struct{}{}); loaded {
		a.issuerNameCount.Add(-1)
	}
	return iss
}

// issuerState is what the observable gauges report for one issuer.
type issuerState struct {
	lastSuccess time.Time
	keys        int64
}

func (a *adapter) instruments(m metric.Meter) error {
	var errs [11]error
	a.requests, errs[0] = m.Int64Counter("senderbound.requests",
		metric.WithUnit("{request}"),
		metric.WithDescription("Requests decided by a Guard, by outcome, reason, mechanism, error code and issuer."))
	a.duration, errs[1] = m.Float64Histogram("senderbound.verification.duration",
		metric.WithUnit("s"),
		metric.WithDescription("How long a Guard took to decide a request."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	a.cacheLookups, errs[2] = m.Int64Counter("senderbound.token_cache.lookups",
		metric.WithUnit("{lookup}"),
		metric.WithDescription("Requests that presented a token, by whether the verified-token cache answered."))
	a.refreshes, errs[3] = m.Int64Counter("senderbound.jwks.refreshes",
		metric.WithUnit("{refresh}"),
		metric.WithDescription("Attempts to load an issuer's signing keys, by issuer and outcome."))
	a.refreshDuration, errs[4] = m.Float64Histogram("senderbound.jwks.refresh.duration",
		metric.WithUnit("s"),
		metric.WithDescription("How long loading an issuer's signing keys took."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	a.replayErrors, errs[5] = m.Int64Counter("senderbound.replay_store.errors",
		metric.WithUnit("{error}"),
		metric.WithDescription("Times the DPoP replay store could not answer (the request failed closed)."))
	a.nonces, errs[6] = m.Int64Counter("senderbound.dpop.nonces.issued",
		metric.WithUnit("{nonce}"),
		metric.WithDescription("DPoP nonces issued to clients."))
	var age metric.Float64ObservableGauge
	age, errs[7] = m.Float64ObservableGauge("senderbound.jwks.last_success_age",
		metric.WithUnit("s"),
		metric.WithDescription("Seconds since the issuer's signing keys were last loaded successfully."))
	var keys metric.Int64ObservableGauge
	keys, errs[8] = m.Int64ObservableGauge("senderbound.jwks.keys",
		metric.WithUnit("{key}"),
		metric.WithDescription("Usable signing keys held for the issuer after its last successful load."))
	a.introspections, errs[9] = m.Int64Counter("senderbound.introspections",
		metric.WithUnit("{answer}"),
		metric.WithDescription("Answers of an introspection client (RFC 7662), by issuer, outcome and whether its cache answered."))
	a.introspectionDuration, errs[10] = m.Float64Histogram("senderbound.introspection.duration",
		metric.WithUnit("s"),
		metric.WithDescription("How long an introspection took when the cache did not answer (a call to the authorization server, or a wait for one)."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	if err := errors.Join(errs[:]...); err != nil {
		return err
	}
	_, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		now := a.now()
		a.mu.Lock()
		defer a.mu.Unlock()
		for iss, s := range a.issuers {
			set := metric.WithAttributeSet(attribute.NewSet(AttrIssuer.String(iss)))
			o.ObserveFloat64(age, now.Sub(s.lastSuccess).Seconds(), set)
			o.ObserveInt64(keys, s.keys, set)
		}
		return nil
	}, age, keys)
	return err
}

// requestKey is what the request metrics' attributes are made of.
type requestKey struct {
	outcome                         observe.Outcome
	reason, mechanism, code, issuer string
	cacheHit                        bool
}

// requestAttrs are the options of one attribute set, as slices built once:
// a variadic call with a fresh option would allocate on every request.
type requestAttrs struct {
	count, lookup []metric.AddOption
	duration      []metric.RecordOption
}

// maxAttrSets bounds the cache of attribute sets, whatever events come.
const maxAttrSets = 4096

func (a *adapter) requestAttrs(e *observe.Request) *requestAttrs {
	k := requestKey{e.Outcome, e.ReasonName, e.Mechanism, e.Code, e.Issuer, e.CacheHit}
	if v, ok := a.attrs.Load(k); ok {
		return v.(*requestAttrs)
	}
	// An attribute that does not apply (no reason when accepted, no
	// mechanism without a token) is left out rather than set empty: fewer
	// attributes, and less work for the SDK on every measurement.
	count := []attribute.KeyValue{AttrOutcome.String(e.Outcome.String())}
	count = appendNonEmpty(count, AttrMechanism, e.Mechanism)
	duration := append([]attribute.KeyValue(nil), count...)
	count = appendNonEmpty(count, AttrReason, e.ReasonName)
	count = appendNonEmpty(count, AttrErrorCode, e.Code)
	count = appendNonEmpty(count, AttrIssuer, a.issuerName(e.Issuer))
	duration = append(duration, AttrCacheHit.Bool(e.CacheHit))
	ra := &requestAttrs{
		count:    []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(count...))},
		duration: []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(duration...))},
		lookup:   []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(AttrCacheHit.Bool(e.CacheHit)))},
	}
	if a.attrCount.Load() < maxAttrSets {
		if _, loaded := a.attrs.LoadOrStore(k, ra); !loaded {
			a.attrCount.Add(1)
		}
	}
	return ra
}

func appendNonEmpty(kvs []attribute.KeyValue, k attribute.Key, v string) []attribute.KeyValue {
	if v == "" {
		return kvs
	}
	return append(kvs, k.String(v))
}

func (a *adapter) request(ctx context.Context, e observe.Request) {
	ra := a.requestAttrs(&e)
	a.requests.Add(ctx, 1, ra.count...)
	a.duration.Record(ctx, e.Duration.Seconds(), ra.duration...)
	if e.Mechanism != "" {
		a.cacheLookups.Add(ctx, 1, ra.lookup...)
	}
	if a.tracer != nil {
		a.span(ctx, &e)
	}
}

// span records the decision as a span from e.Start to e.Start+e.Duration.
// Its attributes are the event's bounded fields: never a token, a proof or
// a claim value.
func (a *adapter) span(ctx context.Context, e *observe.Request) {
	_, span := a.tracer.Start(ctx, "senderbound.verify", trace.WithTimestamp(e.Start), internalSpan)
	if span.IsRecording() {
		// Attributes only for a span that keeps them: with no tracing, an
		// event costs no attribute slice.
		attrs := make([]attribute.KeyValue, 0, 9)
		attrs = append(attrs,
			AttrOutcome.String(e.Outcome.String()),
			AttrStatus.Int(e.Status),
			AttrCacheHit.Bool(e.CacheHit))
		if e.Mechanism != "" {
			attrs = append(attrs, AttrMechanism.String(e.Mechanism))
		}
		if e.Issuer != "" {
			attrs = append(attrs, AttrIssuer.String(e.Issuer))
		}
		if e.KeyID != "" {
			attrs = append(attrs, AttrKeyID.String(e.KeyID))
		}
		if e.Outcome != observe.Accepted {
			attrs = append(attrs, AttrReason.String(e.ReasonName), AttrErrorType.String(e.ReasonName))
			if e.Code != "" {
				attrs = append(attrs, AttrErrorCode.String(e.Code))
			}
			span.SetStatus(codes.Error, e.ReasonName)
		}
		span.SetAttributes(attrs...)
	}
	span.End(trace.WithTimestamp(e.Start.Add(e.Duration)))
}

var internalSpan = trace.WithSpanKind(trace.SpanKindInternal)

func (a *adapter) refresh(ctx context.Context, e observe.Refresh) {
	outcome := "success"
	issuer := a.issuerName(e.Issuer)
	if e.Err != nil {
		outcome = "failure"
	} else if issuer != OtherIssuer {
		a.mu.Lock()
		s := a.issuers[issuer]
		if s == nil {
			s = &issuerState{}
			a.issuers[issuer] = s
		}
		s.lastSuccess, s.keys = e.Start.Add(e.Duration), int64(e.Keys)
		a.mu.Unlock()
	}
	set := metric.WithAttributeSet(attribute.NewSet(AttrIssuer.String(issuer), AttrOutcome.String(outcome)))
	a.refreshes.Add(ctx, 1, set)
	a.refreshDuration.Record(ctx, e.Duration.Seconds(), set)
}

func (a *adapter) replayStoreError(ctx context.Context, err error) {
	kind := "unavailable"
	switch {
	case errors.Is(err, dpop.ErrReplayCacheFull):
		kind = "full"
	case errors.Is(err, context.DeadlineExceeded):
		kind = "timeout"
	case errors.Is(err, context.Canceled):
		kind = "canceled"
	}
	a.replayErrors.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(AttrErrorType.String(kind))))
}

func (a *adapter) nonceIssued(ctx context.Context) { a.nonces.Add(ctx, 1) }

// introspection counts one answer of an introspection client and, when it
// was not a cache hit, records its duration and a span
// "senderbound.introspect". Nothing of the token or the answer is
// recorded: only the issuer (configured), the outcome, the HTTP status and
// the kind of failure.
func (a *adapter) introspection(ctx context.Context, e observe.Introspection) {
	issuer := a.issuerName(e.Issuer)
	outcome := e.Outcome.String()
	a.introspections.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(
		AttrIssuer.String(issuer), AttrIntrospectionOutcome.String(outcome), AttrIntrospectionCacheHit.Bool(e.CacheHit))))
	if e.CacheHit {
		return
	}
	a.introspectionDuration.Record(ctx, e.Duration.Seconds(), metric.WithAttributeSet(attribute.NewSet(
		AttrIssuer.String(issuer), AttrIntrospectionOutcome.String(outcome))))
	if a.tracer == nil {
		return
	}
	_, span := a.tracer.Start(ctx, "senderbound.introspect", trace.WithTimestamp(e.Start), clientSpan)
	if span.IsRecording() {
		attrs := []attribute.KeyValue{AttrIssuer.String(e.Issuer), AttrIntrospectionOutcome.String(outcome)}
		if e.Status != 0 {
			attrs = append(attrs, AttrStatus.Int(e.Status))
		}
		if e.Err != nil {
			kind := introspectionErrorType(e.Err)
			attrs = append(attrs, AttrErrorType.String(kind))
			span.SetStatus(codes.Error, kind)
		}
		span.SetAttributes(attrs...)
	}
	span.End(trace.WithTimestamp(e.Start.Add(e.Duration)))
}

var clientSpan = trace.WithSpanKind(trace.SpanKindClient)

// introspectionErrorType names the kind of an introspection failure, from
// a fixed set.
func introspectionErrorType(err error) string {
	switch {
	case errors.Is(err, introspect.ErrLimited):
		return "limited"
	case errors.Is(err, introspect.ErrClientAuth):
		return "client_auth"
	case errors.Is(err, introspect.ErrResponse):
		return "response"
	case errors.Is(err, introspect.ErrClosed):
		return "closed"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "unavailable"
}
