package jwks

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// Defaults for the options of [New].
const (
	// DefaultHTTPTimeout bounds one refresh: discovery plus the JWKS fetch.
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
		logger:    slog.New(slog.DiscardHandler),
		now:       time.Now,
	}
}

// WithIssuer trusts issuer and finds its JWKS URL through discovery:
// {issuer}/.well-known/openid-configuration, then RFC 8414
// /.well-known/oauth-authorization-server. The metadata's "issuer" must equal
// issuer exactly. The issuer must be an absolute http or https URL. It may be
// given several times, once per issuer.
func WithIssuer(issuer string) Option {
	return func(c *config) { c.issuers = append(c.issuers, staticIssuer{issuer: issuer}) }
}

// WithIssuerJWKS trusts issuer with the JWK Set at jwksURL, without
// discovery.
func WithIssuerJWKS(issuer, jwksURL string) Option {
	return func(c *config) { c.issuers = append(c.issuers, staticIssuer{issuer: issuer, jwksURL: jwksURL}) }
}

// WithResolver trusts issuers that are known only at run time. For an issuer
// that is not configured statically, Key calls resolve with the issuer named
// by the token; a non-nil error means the issuer is not trusted
// ([ErrUnknownIssuer]). A non-empty jwksURL is used as is; an empty one with
// a nil error means discovery (the issuer must then be an http or https URL).
// resolve is called for every Key call naming an issuer that is not held, so
// it should be cheap.
//
// At most maxIssuers resolved key sets are held; past the bound the least
// recently used one is dropped (its refresh goroutine stops) and is resolved
// and fetched again when next needed. LRU rather than refusal keeps issuers
// in active use working when many others appear.
func WithResolver(resolve func(ctx context.Context, issuer string) (jwksURL string, err error), maxIssuers int) Option {
	return func(c *config) { c.resolve, c.resolverOn, c.maxIssuers = resolve, true, maxIssuers }
}

// WithHTTPClient sets the client for discovery and JWKS requests. It is not
// modified: a copy with a body-limiting transport is used. Default: a client
// using http.DefaultTransport.
func WithHTTPClient(c *http.Client) Option { return func(cfg *config) { cfg.client = c } }

// WithHTTPTimeout bounds one refresh of an issuer, discovery included
// (default [DefaultHTTPTimeout]).
func WithHTTPTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithRefreshInterval sets the period of each issuer's background refresh
// (default [DefaultRefreshInterval]).
func WithRefreshInterval(d time.Duration) Option { return func(c *config) { c.refresh = d } }

// WithRefreshRateLimit sets the window in which an unknown kid may cause at
// most one refresh per issuer (default [DefaultRefreshRateLimit]; keyfunc's
// own default is 5m). An issuer whose keys never loaded is also retried in
// the background once per window.
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

// WithLogger sets the logger for refresh failures (default: discard).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithClock sets the clock of the refresh rate limiter (default time.Now).
// Tests use it to open a new rate-limit window without waiting.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }
