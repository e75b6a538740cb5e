package jwks

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/senderbound/senderbound/observe"
)

// Defaults for the options of [New].
const (
	// DefaultHTTPTimeout bounds one load of an issuer's keys: discovery
	// plus the JWKS fetch.
	DefaultHTTPTimeout = 5 * time.Second
	// DefaultRefreshInterval is the period of the background refresh.
	DefaultRefreshInterval = time.Hour
	// DefaultRefreshRateLimit is the window in which at most one refresh per
	// issuer is caused by unknown kids (or retries of an issuer whose keys
	// never loaded).
	DefaultRefreshRateLimit = time.Minute
	// DefaultRateLimitWait is how long a Key call may wait for the limiter.
	DefaultRateLimitWait = 250 * time.Millisecond
	// DefaultMaxBodySize caps discovery and JWKS response bodies (1 MiB).
	DefaultMaxBodySize = 1 << 20
	// DefaultMaxKeys caps the keys in one JWK Set.
	DefaultMaxKeys = 100
)

// Option configures [New].
type Option func(*config)

type staticIssuer struct {
	issuer  string
	jwksURL string // empty: discovery
}

type config struct {
	issuers    []staticIssuer
	resolve    func(ctx context.Context, issuer string) (string, error)
	resolverOn bool
	maxIssuers int
	client     *http.Client
	timeout    time.Duration
	refresh    time.Duration
	rateEvery  time.Duration
	rateWait   time.Duration
	maxBody    int64
	maxKeys    int
	logger     *slog.Logger
	now        func() time.Time
	plaintext  bool
	observer   *observe.Observer
}

func defaults() config {
	return config{
		client:    &http.Client{},
		timeout:   DefaultHTTPTimeout,
		refresh:   DefaultRefreshInterval,
		rateEvery: DefaultRefreshRateLimit,
		rateWait:  DefaultRateLimitWait,
		maxBody:   DefaultMaxBodySize,
		maxKeys:   DefaultMaxKeys,
		logger:    slog.Default(),
		now:       time.Now,
	}
}

// WithIssuer trusts issuer and finds its JWKS URL through discovery:
// {issuer}/.well-known/openid-configuration, then RFC 8414
// /.well-known/oauth-authorization-server. The metadata's "issuer" must equal
// issuer exactly. The issuer must be an absolute https URL (http only on a
// loopback host, or with [WithInsecurePlaintextHTTP]). It may be given
// several times, once per issuer.
func WithIssuer(issuer string) Option {
	return func(c *config) { c.issuers = append(c.issuers, staticIssuer{issuer: issuer}) }
}

// WithIssuerJWKS trusts issuer with the JWK Set at jwksURL, without
// discovery. jwksURL must be an absolute https URL (http only on a loopback
// host, or with [WithInsecurePlaintextHTTP]); an issuer that is an http URL
// is refused in the same way.
func WithIssuerJWKS(issuer, jwksURL string) Option {
	return func(c *config) { c.issuers = append(c.issuers, staticIssuer{issuer: issuer, jwksURL: jwksURL}) }
}

// WithResolver trusts issuers that are known only at run time. For an issuer
// that is not configured statically, Key calls resolve with the issuer named
// by the token; a non-nil error means the issuer is not trusted
// ([ErrUnknownIssuer]: the middleware answers 401), unless it wraps
// [ErrUnavailable] or a context error: a resolver that cannot decide (its
// tenant store is down) should say so that way, and the middleware then
// fails closed with 503 instead. A non-empty jwksURL is used as is; an empty one with
// a nil error means discovery (the issuer must then be an https URL). The
// plaintext rule of [WithIssuerJWKS] applies to what resolve returns.
// resolve is called for every Key call naming an issuer that is not held, so
// it should be cheap.
//
// At most maxIssuers resolved key sets are held; past the bound the least
// recently used one is dropped (its refresh goroutine stops) and is resolved
// again when next needed. LRU rather than refusal keeps issuers in active
// use working when many others appear. The keys and the refresh rate
// limiter of the last maxIssuers dropped issuers are remembered, so that
// tenants churning through the bound are not fetched again and keep their
// limit of one unknown-kid refresh per window; and key loads caused by
// requests for resolved issuers are capped at 2×maxIssuers per rate-limit
// window across all of them (past the cap, a new issuer's requests fail
// with [ErrUnavailable] until the cap allows its load).
func WithResolver(resolve func(ctx context.Context, issuer string) (jwksURL string, err error), maxIssuers int) Option {
	return func(c *config) { c.resolve, c.resolverOn, c.maxIssuers = resolve, true, maxIssuers }
}

// WithHTTPClient sets the client for discovery and JWKS requests. It is not
// modified: a copy with a body-limiting transport is used, whose redirect
// policy refuses plaintext hops before calling the client's own. Default: a client
// using http.DefaultTransport.
func WithHTTPClient(c *http.Client) Option { return func(cfg *config) { cfg.client = c } }

// WithHTTPTimeout bounds one load of an issuer's keys, discovery included
// (default [DefaultHTTPTimeout]).
func WithHTTPTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithRefreshInterval sets the period of each issuer's background refresh
// (default [DefaultRefreshInterval]).
func WithRefreshInterval(d time.Duration) Option { return func(c *config) { c.refresh = d } }

// WithRefreshRateLimit sets the window in which an unknown kid may cause at
// most one refresh per issuer (default [DefaultRefreshRateLimit]; keyfunc's
// own default is 5m). An issuer whose keys failed to load is retried once
// per window, in the background or by a request; between retries its
// requests fail at once with [ErrUnavailable].
func WithRefreshRateLimit(every time.Duration) Option { return func(c *config) { c.rateEvery = every } }

// WithRateLimitWait sets how long a Key call may wait for the refresh rate
// limiter before giving up on a refresh (default [DefaultRateLimitWait]).
func WithRateLimitWait(d time.Duration) Option { return func(c *config) { c.rateWait = d } }

// WithMaxBodySize caps discovery and JWKS response bodies; a larger body is
// an error, never a truncated parse (default [DefaultMaxBodySize]).
func WithMaxBodySize(n int64) Option { return func(c *config) { c.maxBody = n } }

// WithMaxKeys caps the number of keys in one JWK Set; a larger set is
// refused and the last good set kept (default [DefaultMaxKeys]).
func WithMaxKeys(n int) Option { return func(c *config) { c.maxKeys = n } }

// WithLogger sets the logger for failed loads of an issuer's keys (default:
// [slog.Default] as it is when New is called).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithClock sets the clock of the times reported by [Keys.Status] and to the
// observer (default time.Now). Rate limiting runs on keyfunc's limiter,
// which reads the monotonic clock.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithInsecurePlaintextHTTP allows http issuers, JWKS URLs and discovered
// jwks_uri values on any host. Without it plaintext is refused except on a
// loopback host (localhost, 127.0.0.0/8, ::1): keys fetched in plaintext can
// be replaced by anyone on the path, who can then mint accepted tokens.
func WithInsecurePlaintextHTTP() Option { return func(c *config) { c.plaintext = true } }

// WithObserver sets an observer whose Refresh callback is called after
// every attempt to load an issuer's keys (initial, periodic, retry, unknown
// kid).
func WithObserver(o *observe.Observer) Option { return func(c *config) { c.observer = o } }
