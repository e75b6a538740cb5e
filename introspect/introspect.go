package introspect

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/senderbound/senderbound/clientauth"
	"github.com/senderbound/senderbound/internal/jose"
	"github.com/senderbound/senderbound/internal/jsonobj"
	"github.com/senderbound/senderbound/internal/loopback"
	"github.com/senderbound/senderbound/observe"
)

// Errors of a [Client]. Test for them with [errors.Is]. Every fault that
// leaves the token's state unknown matches [ErrUnavailable] as well as its
// own sentinel.
var (
	// ErrConfig: an argument or option of [New] is invalid.
	ErrConfig = errors.New("introspect: invalid configuration")
	// ErrDiscovery: the issuer's metadata could not be had, names another
	// issuer, or has no usable introspection_endpoint.
	ErrDiscovery = errors.New("introspect: discovery failed")
	// ErrInactive: the authorization server answered active: false. The
	// token is revoked, expired, unknown or not meant for us.
	ErrInactive = errors.New("introspect: token is not active")
	// ErrUnavailable: no trustworthy answer could be had; the token's
	// state is unknown, so it must not be accepted (fail closed).
	ErrUnavailable = errors.New("introspect: introspection unavailable")
	// ErrLimited: the bound on concurrent or per-second calls was reached,
	// so no call was made. It matches ErrUnavailable too.
	ErrLimited = errors.New("introspect: introspection call limit reached")
	// ErrClientAuth: the authorization server refused our own client
	// authentication (401 or 403): a configuration fault, not the token's.
	// It matches ErrUnavailable too.
	ErrClientAuth = errors.New("introspect: authorization server refused the client authentication")
	// ErrResponse: the answer was unusable: a status other than 200 (a
	// 5xx, a redirect), over the size cap, not a JSON object, without a
	// boolean active; for signed answers, a JWT whose signature, typ, alg,
	// iss or aud is wrong. It matches ErrUnavailable too.
	ErrResponse = errors.New("introspect: unusable introspection response")
	// ErrClosed: the Client was closed. It matches ErrUnavailable too.
	ErrClosed = errors.New("introspect: client closed")
)

// Defaults of a [Client].
const (
	// DefaultCacheMaxAge is how long an active answer is reused unless
	// [WithCache] says otherwise (never past the token's exp): a token
	// revoked at the authorization server is refused here within a minute.
	DefaultCacheMaxAge = time.Minute
	// DefaultInactiveCacheMaxAge is how long an inactive answer is reused
	// unless [WithInactiveCache] says otherwise.
	DefaultInactiveCacheMaxAge = 10 * time.Second
	// DefaultMaxConcurrent and DefaultMaxPerSecond bound the calls to the
	// authorization server unless [WithLimits] says otherwise.
	DefaultMaxConcurrent = 16
	DefaultMaxPerSecond  = 50
	// DefaultMaxResponseSize caps the answer's body unless
	// [WithMaxResponseSize] says otherwise.
	DefaultMaxResponseSize = 64 << 10
	// DefaultTimeout bounds one call unless [WithTimeout] says otherwise.
	DefaultTimeout = 5 * time.Second
	// DefaultCacheEntries bounds the number of cached answers unless
	// [WithCacheSize] says otherwise; the cache never holds more than
	// 16 MiB of answers either.
	DefaultCacheEntries = 10_000
)

// jwtMediaType is RFC 9701 §4's media type of a signed answer.
const jwtMediaType = "application/token-introspection+jwt"

// KeySource finds the key that verifies a signed (RFC 9701) answer.
// [github.com/senderbound/senderbound/jwks.Keys] is the usual
// implementation; it must know the Client's issuer.
type KeySource interface {
	Key(ctx context.Context, issuer, kid, alg string) (crypto.PublicKey, error)
}

// Option configures [New]. Options are checked together.
type Option func(*config)

type config struct {
	endpoint       string
	auth           clientauth.Method
	authSet        bool
	client         *http.Client
	jwtKeys        KeySource
	jwtAudience    string
	jwtAlgs        []string
	cacheMaxAge    time.Duration
	inactiveMaxAge time.Duration
	cacheEntries   int
	concurrent     int
	perSecond      float64
	maxResponse    int64
	timeout        time.Duration
	now            func() time.Time
	logger         *slog.Logger
	observer       *observe.Observer
	plaintext      bool
	errs           []error
}

func (c *config) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format+": %w", append(args, ErrConfig)...))
}

// WithEndpoint sets the introspection endpoint's URL, so that [New] does
// no discovery. It must be https (http only on a loopback host, unless
// [WithInsecurePlaintextHTTP]).
func WithEndpoint(endpointURL string) Option {
	return func(c *config) { c.endpoint = endpointURL }
}

// WithClientAuth sets how the resource server authenticates to the
// introspection endpoint, which RFC 7662 §2.1 requires: a
// [clientauth.Method] (client_secret_basic, client_secret_post,
// private_key_jwt or tls_client_auth). Required: an endpoint that answers
// anyone is an oracle for stolen tokens.
func WithClientAuth(m clientauth.Method) Option {
	return func(c *config) {
		if err := m.Check(); err != nil {
			c.errs = append(c.errs, errors.Join(ErrConfig, err))
		}
		c.auth, c.authSet = m, true
	}
}

// WithHTTPClient sets the HTTP client for discovery and introspection
// (default: one with [DefaultTimeout]). For tls_client_auth its
// transport's TLS configuration holds the client certificate. Redirects
// are never followed, whatever its CheckRedirect says: a redirect would
// carry the token to a URL the operator did not name.
func WithHTTPClient(client *http.Client) Option {
	return func(c *config) {
		if client == nil {
			c.fail("nil HTTP client")
		}
		c.client = client
	}
}

// WithJWTResponse asks for RFC 9701 signed answers and verifies them with
// keys (the issuer's published keys, usually a [jwks.Keys] that knows the
// issuer): typ token-introspection+jwt, an allowed asymmetric algorithm
// (RS256, PS256, ES256, EdDSA, Ed25519 and their larger variants), iss
// equal to the issuer, and aud containing clientID, the resource server's
// own client ID at the authorization server. Plain JSON answers are then
// refused ([ErrResponse]).
//
// [jwks.Keys]: https://pkg.go.dev/github.com/senderbound/senderbound/jwks#Keys
func WithJWTResponse(keys KeySource, clientID string) Option {
	return func(c *config) {
		if keys == nil {
			c.fail("nil key source for JWT responses")
		}
		if clientID == "" {
			c.fail("empty client ID for JWT responses")
		}
		c.jwtKeys, c.jwtAudience = keys, clientID
	}
}

// WithCache sets the longest reuse of an active answer (default
// [DefaultCacheMaxAge]); it is never reused past the token's exp. This is
// the revocation latency: a token revoked at the authorization server
// keeps working here for at most maxAge. 0 turns the cache off: every
// request asks the server (single flight still shares one call among
// concurrent requests for the same token).
func WithCache(maxAge time.Duration) Option {
	return func(c *config) {
		if maxAge < 0 {
			c.fail("negative cache max age")
		}
		c.cacheMaxAge = maxAge
	}
}

// WithInactiveCache sets the longest reuse of an inactive answer (default
// [DefaultInactiveCacheMaxAge]); 0 turns it off.
func WithInactiveCache(maxAge time.Duration) Option {
	return func(c *config) {
		if maxAge < 0 {
			c.fail("negative inactive cache max age")
		}
		c.inactiveMaxAge = maxAge
	}
}

// WithCacheSize bounds the number of cached answers (default
// [DefaultCacheEntries]). The cache also never holds more than 16 MiB.
func WithCacheSize(entries int) Option {
	return func(c *config) {
		if entries < 1 {
			c.fail("cache size below 1")
		}
		c.cacheEntries = entries
	}
}

// WithLimits bounds the calls to the authorization server: at most
// concurrent at once and perSecond per second on average (bursts of up to
// perSecond, rounded up). Beyond either bound no call is made:
// [Client.Introspect] fails with [ErrLimited] at once, without waiting.
// Defaults: [DefaultMaxConcurrent], [DefaultMaxPerSecond]. Size them for
// the rate of new tokens (cache misses), not of requests.
func WithLimits(concurrent int, perSecond float64) Option {
	return func(c *config) {
		if concurrent < 1 {
			c.fail("concurrent call limit below 1")
		}
		if !(perSecond > 0) || math.IsInf(perSecond, 1) {
			c.fail("per-second call limit not a positive number")
		}
		c.concurrent, c.perSecond = concurrent, perSecond
	}
}

// WithMaxResponseSize caps the body of an answer, checked before parsing
// (default [DefaultMaxResponseSize]); a larger answer fails closed.
func WithMaxResponseSize(n int64) Option {
	return func(c *config) {
		if n < 1 {
			c.fail("maximum response size below 1")
		}
		c.maxResponse = n
	}
}

// WithTimeout bounds one call to the authorization server (default
// [DefaultTimeout]). The call does not end when the request that started
// it gives up: other requests may be waiting for the same token.
func WithTimeout(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.fail("timeout not positive")
		}
		c.timeout = d
	}
}

// WithClock sets the clock of the cache and the per-second limit (default
// time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now == nil {
			c.fail("nil clock")
		}
		c.now = now
	}
}

// WithLogger sets the logger for faults (Error) and limits reached (Warn,
// at most once a second). Default slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l == nil {
			c.fail("nil logger")
		}
		c.logger = l
	}
}

// WithObserver reports every answer as an [observe.Introspection] event.
func WithObserver(o *observe.Observer) Option {
	return func(c *config) { c.observer = o }
}

// WithInsecurePlaintextHTTP allows http URLs for discovery and the
// endpoint on any host. Plaintext is always allowed on loopback hosts
// (for tests) and nowhere else without this option: tokens and client
// secrets would cross the network in the clear.
func WithInsecurePlaintextHTTP() Option {
	return func(c *config) { c.plaintext = true }
}

// Client is an RFC 7662 introspection client for one issuer. Build it with
// [New]; it is safe for concurrent use. [Client.Close] ends its work.
type Client struct {
	issuer, endpoint string
	auth             clientauth.Method
	http             *http.Client
	jwtKeys          KeySource
	jwtAudience      string
	maxAge           time.Duration
	inactiveMaxAge   time.Duration
	maxResponse      int64
	timeout          time.Duration
	now              func() time.Time
	logger           *slog.Logger
	observer         *observe.Observer
	cache            *cache
	slots            chan struct{}
	limiter          *rate.Limiter
	lastLimitLog     atomic.Int64 // unix seconds of the last Warn about limits

	mu      sync.Mutex
	flights map[[32]byte]*flight
	closed  bool

	ctx    context.Context // ends with Close: bounds every call
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// flight is one call for one token; done closes when res and err are set.
type flight struct {
	done   chan struct{}
	res    *Result
	err    error
	status int
}

// Result is an active answer: what the authorization server said about a
// token it considers active. A Result is immutable and shared by every
// request for the same token while it is cached; it never holds the token.
//
// The Client checks only active and, for signed answers, the answer's
// authenticity; the claim rules (exp, nbf, iat, iss, aud, the binding in
// cnf, scopes) are the caller's: a middleware Guard applies them.
type Result struct {
	// TokenType is token_type as the server wrote it ("Bearer", "DPoP";
	// RFC 9449 §6.2), or "" when absent.
	TokenType string
	// ExpiresAt is exp, or the zero time when absent.
	ExpiresAt time.Time
	// ReuseUntil is when the Client stops reusing this answer from its
	// cache: at most the cache time after the call, never past exp; the
	// zero time when it was not cached. A caller that keeps derived data
	// (a Guard's token cache does) keeps it no longer.
	ReuseUntil time.Time

	object []byte // the RFC 7662 JSON object
}

// JSON returns a copy of the answer's JSON object (RFC 7662 §2.2; for a
// signed answer, its token_introspection member).
func (r *Result) JSON() []byte { return slices.Clone(r.object) }

// Decode unmarshals the answer's JSON object into v, with exact,
// case-sensitive member names (see the middleware's Claims.Decode).
func (r *Result) Decode(v any) error { return jsonobj.Decode(r.object, v) }

// New returns a Client for issuer's introspection endpoint. Unless
// [WithEndpoint] names it, New finds it in the issuer's metadata (OpenID
// Connect Discovery, then RFC 8414), whose issuer must equal issuer
// exactly; ctx bounds that discovery. Every invalid argument and option is
// reported at once.
func New(ctx context.Context, issuer string, opts ...Option) (*Client, error) {
	cfg := config{
		cacheMaxAge:    DefaultCacheMaxAge,
		inactiveMaxAge: DefaultInactiveCacheMaxAge,
		cacheEntries:   DefaultCacheEntries,
		concurrent:     DefaultMaxConcurrent,
		perSecond:      DefaultMaxPerSecond,
		maxResponse:    DefaultMaxResponseSize,
		timeout:        DefaultTimeout,
		now:            time.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if !cfg.authSet {
		cfg.fail("no client authentication (WithClientAuth): RFC 7662 §2.1 requires one")
	}
	iu, err := url.Parse(issuer)
	if err != nil || iu.Host == "" || iu.User != nil || iu.RawQuery != "" || iu.Fragment != "" {
		cfg.fail("issuer %q is not an absolute URL without userinfo, query and fragment", issuer)
	} else if err := checkURL(iu, cfg.plaintext); err != nil {
		cfg.fail("issuer: %v", err)
	}
	if cfg.endpoint != "" {
		if err := checkEndpoint(cfg.endpoint, cfg.plaintext); err != nil {
			cfg.fail("endpoint: %v", err)
		}
	}
	if err := errors.Join(cfg.errs...); err != nil {
		return nil, err
	}
	httpClient := cfg.client
	if httpClient == nil {
		httpClient = &http.Client{Timeout: cfg.timeout}
	}
	httpClient = noRedirects(httpClient)
	logger := cfg.logger
	if logger == nil {
		logger = slog.Default()
	}
	endpoint := cfg.endpoint
	if endpoint == "" {
		endpoint, err = discover(ctx, httpClient, issuer, cfg.plaintext)
		if err != nil {
			return nil, err
		}
	}
	bctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		issuer:         issuer,
		endpoint:       endpoint,
		auth:           cfg.auth,
		http:           httpClient,
		jwtKeys:        cfg.jwtKeys,
		jwtAudience:    cfg.jwtAudience,
		maxAge:         cfg.cacheMaxAge,
		inactiveMaxAge: cfg.inactiveMaxAge,
		maxResponse:    cfg.maxResponse,
		timeout:        cfg.timeout,
		now:            cfg.now,
		logger:         logger,
		observer:       cfg.observer,
		cache:          newCache(cfg.cacheEntries),
		slots:          make(chan struct{}, cfg.concurrent),
		limiter:        rate.NewLimiter(rate.Limit(cfg.perSecond), int(math.Ceil(cfg.perSecond))),
		flights:        make(map[[32]byte]*flight),
		ctx:            bctx,
		cancel:         cancel,
	}
	return c, nil
}

// checkURL applies the plaintext rule: https, or http on a loopback host
// (internal/loopback), or http anywhere when the operator allowed it.
func checkURL(u *url.URL, plaintext bool) error {
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && (plaintext || loopback.PlaintextAllowed(u)):
		return nil
	}
	return fmt.Errorf("%q: want https (http only on loopback, or with WithInsecurePlaintextHTTP)", u.Redacted())
}

func checkEndpoint(raw string, plaintext bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%q is not an absolute URL without userinfo and fragment", raw)
	}
	return checkURL(u, plaintext)
}

// noRedirects returns a copy of c that never follows a redirect.
func noRedirects(c *http.Client) *http.Client {
	cp := *c
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// Issuer returns the issuer the Client was made for.
func (c *Client) Issuer() string { return c.issuer }

// Endpoint returns the introspection endpoint's URL.
func (c *Client) Endpoint() string { return c.endpoint }

// Close stops the calls in flight (their callers fail with [ErrClosed])
// and waits for them to end. Introspect fails with ErrClosed afterwards.
// It is safe to call more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	return nil
}

// Introspect returns what the authorization server says about token: a
// Result when it is active, an error matching [ErrInactive] when it is
// not, and one matching [ErrUnavailable] when that cannot be known (the
// caller must then refuse the token without blaming it). ctx bounds only
// this caller's wait: the call itself, which other callers may share, is
// bounded by [WithTimeout] and [Client.Close].
func (c *Client) Introspect(ctx context.Context, token string) (*Result, error) {
	start := time.Now()
	sum := jose.SHA256(token)
	if res, inactive, ok := c.cache.get(sum, c.now()); ok {
		if inactive {
			c.report(ctx, start, observe.IntrospectionInactive, true, false, 0, nil)
			return nil, ErrInactive
		}
		c.report(ctx, start, observe.IntrospectionActive, true, false, 0, nil)
		return res, nil
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, ErrClosed)
	}
	f, shared := c.flights[sum]
	if !shared {
		if err := c.admit(); err != nil {
			c.mu.Unlock()
			c.report(ctx, start, observe.IntrospectionLimited, false, false, 0, err)
			c.warnLimited()
			return nil, err
		}
		f = &flight{done: make(chan struct{})}
		c.flights[sum] = f
		c.wg.Add(1)
		go c.fly(sum, token, f)
	}
	c.mu.Unlock()
	select {
	case <-f.done:
	case <-ctx.Done():
		err := fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
		c.report(ctx, start, observe.IntrospectionFailed, false, shared, 0, err)
		return nil, err
	}
	switch {
	case f.err == nil:
		c.report(ctx, start, observe.IntrospectionActive, false, shared, f.status, nil)
	case errors.Is(f.err, ErrInactive):
		c.report(ctx, start, observe.IntrospectionInactive, false, shared, f.status, nil)
	default:
		c.report(ctx, start, observe.IntrospectionFailed, false, shared, f.status, f.err)
	}
	return f.res, f.err
}

// admit takes a call slot and a per-second token, or fails with
// ErrLimited. c.mu is held.
func (c *Client) admit() error {
	select {
	case c.slots <- struct{}{}:
	default:
		return fmt.Errorf("%w: %w: %d calls in flight", ErrUnavailable, ErrLimited, cap(c.slots))
	}
	if !c.limiter.AllowN(c.now(), 1) {
		<-c.slots
		return fmt.Errorf("%w: %w: %g calls per second", ErrUnavailable, ErrLimited, float64(c.limiter.Limit()))
	}
	return nil
}

// fly makes the call of f, caches its answer, and lets its waiters go.
func (c *Client) fly(sum [32]byte, token string, f *flight) {
	defer c.wg.Done()
	res, status, err := c.call(token)
	now := c.now()
	switch {
	case err == nil:
		if until := c.reuseUntil(res, now); until.After(now) {
			res.ReuseUntil = until
			c.cache.put(sum, entry{res: res, stored: now, until: until})
		}
	case errors.Is(err, ErrInactive):
		if c.inactiveMaxAge > 0 {
			c.cache.put(sum, entry{stored: now, until: now.Add(c.inactiveMaxAge)})
		}
	default:
		c.logger.Error("introspect: no usable answer from the introspection endpoint; requests with this token fail with 503",
			"issuer", c.issuer, "endpoint", c.endpoint, "status", status, "err", err)
	}
	f.res, f.status, f.err = res, status, err
	c.mu.Lock()
	delete(c.flights, sum)
	c.mu.Unlock()
	<-c.slots
	close(f.done)
}

// reuseUntil is how long an active answer may be reused: the cache time,
// never past exp.
func (c *Client) reuseUntil(res *Result, now time.Time) time.Time {
	if c.maxAge == 0 {
		return time.Time{}
	}
	until := now.Add(c.maxAge)
	if !res.ExpiresAt.IsZero() && res.ExpiresAt.Before(until) {
		until = res.ExpiresAt
	}
	return until
}

// warnLimited tells the operator, at most once a second, that calls were
// refused by the limits.
func (c *Client) warnLimited() {
	now := time.Now().Unix()
	last := c.lastLimitLog.Load()
	if now == last || !c.lastLimitLog.CompareAndSwap(last, now) {
		return
	}
	c.logger.Warn("introspect: call limit reached; requests with tokens not in the cache fail with 503 (a flood of unknown tokens, or WithLimits set too low)",
		"issuer", c.issuer)
}

func (c *Client) report(ctx context.Context, start time.Time, o observe.IntrospectionOutcome, hit, shared bool, status int, err error) {
	if c.observer == nil || c.observer.Introspection == nil {
		return
	}
	c.observer.Introspection(ctx, observe.Introspection{
		Issuer: c.issuer, Start: start, Duration: time.Since(start),
		Outcome: o, CacheHit: hit, Shared: shared, Status: status, Err: err,
	})
}
