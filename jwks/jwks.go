package jwks

import (
	"container/list"
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"golang.org/x/time/rate"

	"github.com/senderbound/senderbound/internal/jose"
	"github.com/senderbound/senderbound/internal/loopback"
	"github.com/senderbound/senderbound/observe"
)

// Errors returned by this package; check them with errors.Is.
var (
	// ErrUnknownIssuer: the issuer is neither configured nor accepted by the
	// resolver.
	ErrUnknownIssuer = errors.New("jwks: issuer is not trusted")
	// ErrKeyNotFound: the issuer's key set, even after a refresh (or while
	// refreshes are rate limited), has no key with the token's kid.
	ErrKeyNotFound = errors.New("jwks: no key with this key ID")
	// ErrKeyMismatch: the key exists but does not fit the token's alg (wrong
	// type or size, a different JWK "alg", a "use" other than "sig", a
	// "key_ops" without "verify"), or alg is not an asymmetric algorithm.
	ErrKeyMismatch = errors.New("jwks: key does not fit the algorithm")
	// ErrUnavailable: no key set was ever loaded for this issuer (issuer down,
	// slow or answering garbage since start); fail closed.
	ErrUnavailable = errors.New("jwks: key set unavailable")
	// ErrDiscovery: the issuer's metadata could not be fetched or was
	// invalid (issuer mismatch, no jwks_uri). Returned wrapped in
	// ErrUnavailable by Key.
	ErrDiscovery = errors.New("jwks: discovery failed")
	// ErrNotReady: returned by [Keys.Ready] for each issuer that has no keys.
	ErrNotReady = errors.New("jwks: issuer has no keys")
	// ErrPlaintext: an http URL on a host that is not loopback, without
	// [WithInsecurePlaintextHTTP].
	ErrPlaintext = errors.New("jwks: plaintext http refused (not a loopback host)")
	// ErrPermanent marks a failed load that retrying will not fix: the
	// discovered metadata names another issuer ([ErrIssuerMismatch]) or is
	// unusable, a discovery or JWKS URL answers a client error
	// ([ErrHTTPStatus]: 4xx other than 408, 425 and 429), a plaintext URL
	// was refused ([ErrPlaintext]), or the body is not a usable JWK Set
	// ([ErrKeySet]). Its text says what to fix. [Keys.Ready] returns at
	// once on it instead of waiting for its deadline; the issuer is still
	// retried in the background at the usual pace (once per rate-limit
	// window without keys), so it recovers on its own once the issuer or
	// the network is fixed. Transient faults (connection refused, timeouts,
	// TLS handshake failures, 5xx, 429) are not permanent.
	ErrPermanent = errors.New("jwks: permanent failure")
	// ErrIssuerMismatch: the discovered metadata names another issuer than
	// the configured one (RFC 8414 §3.3), typically the same one with a
	// trailing slash. Wrapped in [ErrDiscovery]. Tokens naming the issuer
	// that the metadata names are refused with [ErrUnavailable] while it
	// lasts, not [ErrUnknownIssuer]: the configuration is at fault, not the
	// token.
	ErrIssuerMismatch = errors.New("jwks: metadata names another issuer")
	// ErrHTTPStatus: a discovery or JWKS URL answered an error status.
	ErrHTTPStatus = errors.New("jwks: HTTP error status")
	// ErrKeySet: the JWKS URL's body is not a usable JWK Set (not JSON, a
	// JWK that does not decode, too many keys, or no usable signing key).
	ErrKeySet = errors.New("jwks: not a usable JWK Set")
)

var (
	errTooLarge   = errors.New("jwks: response body too large")
	errTooManyKey = errors.New("jwks: too many keys in JWK Set")
	errNoKeys     = errors.New("jwks: JWK Set has no usable signing key")
	errClosed     = errors.New("jwks: closed")
	errFetchCap   = errors.New("jwks: too many key loads for resolved issuers in this window")

	errUseNotSig  = fmt.Errorf("%w: JWK use is not \"sig\"", ErrKeyMismatch)
	errAlgDiffers = fmt.Errorf("%w: JWK alg differs from the token's", ErrKeyMismatch)
)

// Keys holds the signing keys of trusted issuers, one JWK Set per issuer,
// refreshed in the background until Close. It is safe for concurrent use.
type Keys struct {
	client    *http.Client
	timeout   time.Duration
	refresh   time.Duration
	rateEvery time.Duration
	rateWait  time.Duration
	maxBody   int64
	maxKeys   int
	plaintext bool
	log       *slog.Logger
	now       func() time.Time
	observer  *observe.Observer

	ctx    context.Context // background work; ends with Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	static map[string]*issuerKeys // read-only after New
	order  []string

	resolve    func(ctx context.Context, issuer string) (string, error)
	maxIssuers int
	fetchCap   *rate.Limiter // request-driven loads of resolved issuers, all together

	mu        sync.Mutex // guards the fields below
	dynamic   map[string]*list.Element
	lru       *list.List // of *issuerKeys held, most recently used first
	gone      map[string]*list.Element
	goneLRU   *list.List    // of *issuerKeys recently evicted, most recent first
	changed   chan struct{} // closed (and replaced) after every load attempt
	closed    bool
	closeOnce sync.Once
}

// issuerKeys is one issuer's key set and its refresh state. For a resolved
// issuer it outlives eviction (in Keys.gone) so that its keys and its rate
// limiter survive tenant churn.
type issuerKeys struct {
	issuer   string
	resolved string // for resolved issuers: what the resolver answered
	store    *indexStore
	client   *http.Client // Keys.client, dropping published private keys (privateKeyFilter)
	// limiter is keyfunc's RefreshUnknownKID for this issuer; its one token
	// per window also paces the retries of a failed load.
	limiter *rate.Limiter

	// ctx and cancel end the issuer's background work (Close, eviction);
	// they are replaced when a resolved issuer is held again. Guarded by
	// Keys.mu once the issuer is shared.
	ctx    context.Context
	cancel context.CancelFunc

	sem     chan struct{} // one load at a time; guards jwksURL, kf and kfErr
	jwksURL string        // empty until discovered
	kf      keyfunc.Keyfunc
	kfErr   error // the last refresh error keyfunc's client reported

	mu          sync.Mutex    // guards the status fields and refreshing
	refreshing  chan struct{} // closed when the unknown-kid refresh under way ends
	lastSuccess time.Time     // Keys.now
	lastAttempt time.Time
	lastErr     error
	loadedAt    time.Time // monotonic time of the last success, for scheduling
	triedAt     time.Time // monotonic time of the last attempt, for scheduling
}

// New returns the keys of the configured issuers. It loads every static
// issuer's key set before returning, in parallel, each bounded by the HTTP
// timeout and by ctx: ctx bounds only this initial load, as a start-up
// deadline. An issuer that did not load in time does not make New fail: its
// Key calls fail with [ErrUnavailable] until a retry (once per rate-limit
// window) succeeds; [Keys.Ready] waits for that. Background refresh runs
// until [Keys.Close]. New fails if ctx is already done.
func New(ctx context.Context, opts ...Option) (*Keys, error) {
	c := defaults()
	for _, o := range opts {
		o(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	base := c.client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	client := *c.client // the caller's client is never modified
	client.Transport = limitTransport{base: base, max: c.maxBody}
	client.CheckRedirect = checkRedirect(c.client.CheckRedirect, c.plaintext)
	k := &Keys{
		client:     &client,
		timeout:    c.timeout,
		refresh:    c.refresh,
		rateEvery:  c.rateEvery,
		rateWait:   c.rateWait,
		maxBody:    c.maxBody,
		maxKeys:    c.maxKeys,
		plaintext:  c.plaintext,
		log:        c.logger,
		now:        c.now,
		observer:   c.observer,
		static:     make(map[string]*issuerKeys, len(c.issuers)),
		resolve:    c.resolve,
		maxIssuers: c.maxIssuers,
		dynamic:    make(map[string]*list.Element),
		lru:        list.New(),
		gone:       make(map[string]*list.Element),
		goneLRU:    list.New(),
		changed:    make(chan struct{}),
	}
	if c.resolverOn {
		// As many request-driven loads per window as issuers can be held
		// and remembered.
		n := 2 * c.maxIssuers
		k.fetchCap = rate.NewLimiter(rate.Limit(float64(n)/c.rateEvery.Seconds()), n)
	}
	// Background work keeps ctx's values but not its end.
	k.ctx, k.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for _, s := range c.issuers {
		ik := k.newIssuerKeys(s.issuer, s.jwksURL)
		ik.ctx, ik.cancel = k.ctx, func() {}
		k.static[s.issuer] = ik
		k.order = append(k.order, s.issuer)
	}
	var initial sync.WaitGroup
	for _, ik := range k.static {
		initial.Go(func() {
			ctx, stop := mergeCancel(ctx, k.ctx)
			defer stop()
			ik.sem <- struct{}{}
			_ = k.load(ctx, ik, "initial")
			<-ik.sem
		})
	}
	initial.Wait()
	for _, ik := range k.static {
		k.start(ik.ctx, ik)
	}
	return k, nil
}

// mergeCancel returns ctx, also cancelled when other ends.
func mergeCancel(ctx, other context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(other, cancel)
	return ctx, func() { stop(); cancel() }
}

func (c *config) validate() error {
	var errs []error
	seen := make(map[string]bool)
	for _, s := range c.issuers {
		switch {
		case s.issuer == "":
			errs = append(errs, errors.New("jwks: empty issuer"))
		case seen[s.issuer]:
			errs = append(errs, fmt.Errorf("jwks: issuer %q configured twice", s.issuer))
		case s.jwksURL == "":
			if err := checkURL(s.issuer, c.plaintext); err != nil {
				errs = append(errs, fmt.Errorf("jwks: issuer %q: %w", s.issuer, err))
			}
		default:
			if err := checkURL(s.jwksURL, c.plaintext); err != nil {
				errs = append(errs, fmt.Errorf("jwks: JWKS URL of issuer %q: %w", s.issuer, err))
			}
			if err := checkIssuerScheme(s.issuer, c.plaintext); err != nil {
				errs = append(errs, fmt.Errorf("jwks: issuer %q: %w", s.issuer, err))
			}
		}
		seen[s.issuer] = true
	}
	if c.resolverOn {
		if c.resolve == nil {
			errs = append(errs, errors.New("jwks: nil resolver"))
		}
		if c.maxIssuers <= 0 {
			errs = append(errs, errors.New("jwks: resolver bound must be positive"))
		}
	}
	if len(c.issuers) == 0 && !c.resolverOn {
		errs = append(errs, errors.New("jwks: no issuer configured"))
	}
	if c.client == nil {
		errs = append(errs, errors.New("jwks: nil HTTP client"))
	}
	if c.timeout <= 0 {
		errs = append(errs, errors.New("jwks: HTTP timeout must be positive"))
	}
	if c.refresh <= 0 {
		errs = append(errs, errors.New("jwks: refresh interval must be positive"))
	}
	if c.rateEvery <= 0 {
		errs = append(errs, errors.New("jwks: refresh rate limit must be positive"))
	}
	if c.rateWait < 0 {
		errs = append(errs, errors.New("jwks: rate limit wait must not be negative"))
	}
	if c.maxBody <= 0 {
		errs = append(errs, errors.New("jwks: max body size must be positive"))
	}
	if c.maxKeys <= 0 {
		errs = append(errs, errors.New("jwks: max keys must be positive"))
	}
	if c.logger == nil {
		errs = append(errs, errors.New("jwks: nil logger"))
	}
	if c.now == nil {
		errs = append(errs, errors.New("jwks: nil clock"))
	}
	return errors.Join(errs...)
}

// checkURL accepts absolute https URLs without user, query or fragment, and
// http ones on a loopback host or when plaintext is allowed.
func checkURL(s string, plaintext bool) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case u.Scheme != "https" && u.Scheme != "http":
		return errors.New("scheme must be https (or http on loopback)")
	case u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "":
		return errors.New("must be an absolute URL with a host and no user, query or fragment")
	case u.Scheme == "http" && !plaintext && !loopback.Host(u.Hostname()):
		return fmt.Errorf("%w; use https, or WithInsecurePlaintextHTTP", ErrPlaintext)
	}
	return nil
}

// checkRedirect wraps a client's redirect policy (nil: Go's default) so
// that every hop passes the plaintext rule of checkURL: an https discovery
// or JWKS URL must not be downgraded to http by a redirect. Go's limit of
// 10 hops always holds.
func checkRedirect(next func(*http.Request, []*http.Request) error, plaintext bool) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("jwks: stopped after 10 redirects")
		}
		u := req.URL
		switch {
		case u.Scheme != "https" && u.Scheme != "http":
			return errors.New("jwks: redirect to a scheme other than https")
		case u.Scheme == "http" && !plaintext && !loopback.Host(u.Hostname()):
			return fmt.Errorf("%w (redirect); use https, or WithInsecurePlaintextHTTP", ErrPlaintext)
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
}

// checkIssuerScheme refuses an issuer identifier that is a plaintext URL on
// a host that is not loopback; other identifiers are not fetched and pass.
func checkIssuerScheme(issuer string, plaintext bool) error {
	u, err := url.Parse(issuer)
	if err != nil || !strings.EqualFold(u.Scheme, "http") || plaintext || loopback.Host(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("%w; use https, or WithInsecurePlaintextHTTP", ErrPlaintext)
}

func (k *Keys) newIssuerKeys(issuer, jwksURL string) *issuerKeys {
	store := newIndexStore(k.maxKeys)
	client := *k.client
	client.Transport = privateKeyFilter{base: k.client.Transport, store: store}
	return &issuerKeys{
		issuer:  issuer,
		store:   store,
		client:  &client,
		limiter: rate.NewLimiter(rate.Every(k.rateEvery), 1),
		sem:     make(chan struct{}, 1),
		jwksURL: jwksURL,
	}
}

// Issuers returns the statically configured issuers, in the order given.
func (k *Keys) Issuers() []string {
	return append([]string(nil), k.order...)
}

// Close stops all background refreshes and the loads that requests
// started, and waits for them to end: once it returns, nothing is fetched,
// logged or reported to the observer. Key keeps answering from the keys
// of the issuers configured or held, but never loads again, and calls no
// resolver: an issuer not held (an evicted one included) is unavailable.
// Close also closes the idle connections of the HTTP client. Close is
// idempotent and always returns nil.
func (k *Keys) Close() error {
	k.closeOnce.Do(func() {
		k.mu.Lock()
		k.closed = true
		k.mu.Unlock()
		k.cancel()
		k.wg.Wait()
		k.client.CloseIdleConnections()
	})
	return nil
}

// Key returns the public key that verifies a token from issuer whose JOSE
// header names kid and alg.
//
// A known kid is a lock-free lookup in an immutable index, with no
// allocation. An unknown kid is looked up through keyfunc's storage, whose
// HTTP client refreshes the issuer's set at most once per rate-limit window;
// the call waits at most the rate limit wait for the limiter, plus the HTTP
// timeout when it does or waits for the refresh, then decides (or until ctx
// ends: the refresh itself goes on). An issuer whose keys failed to load
// answers [ErrUnavailable] at once until its next permitted
// retry. The key must fit alg ([jose.KeyFits]; "Ed25519" as "EdDSA") and
// the JWK's "alg" when it has one; a JWK whose "use" is not "sig", or
// whose "key_ops" does not hold "verify", never verifies; of several keys
// sharing the kid, the one that fits is used. A JWK that publishes private
// members ("d", the RSA CRT values, "oth", "k"), or whose "use" and
// "key_ops" contradict each other, is skipped when its set loads: it is
// not held, is logged, and is listed in [IssuerStatus.Skipped]. Nothing
// named by the token itself (jku, x5u) is fetched. An empty kid matches only
// a JWK without "kid".
//
// Errors: [ErrUnknownIssuer], [ErrUnavailable] (possibly wrapping
// [ErrDiscovery]), [ErrKeyNotFound], [ErrKeyMismatch].
func (k *Keys) Key(ctx context.Context, issuer, kid, alg string) (crypto.PublicKey, error) {
	bit := algBit(alg)
	if bit < 0 {
		// Never fetch anything for "none", HS256 or unknown algorithms.
		return nil, fmt.Errorf("%w: %w", ErrKeyMismatch, jose.ErrAlgorithm)
	}
	ik, runCtx, err := k.issuerKeys(ctx, issuer)
	if err != nil {
		if cause := k.misnamed(issuer); cause != nil && errors.Is(err, ErrUnknownIssuer) {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, cause)
		}
		return nil, err
	}
	if idx := ik.store.idx.Load(); idx != nil {
		if es, ok := idx.keys[kid]; ok {
			return es.pick(alg, bit)
		}
		k.refreshUnknownKid(ctx, runCtx, ik, kid)
	} else {
		k.retryLoad(ctx, runCtx, ik)
	}
	idx := ik.store.idx.Load()
	if idx == nil {
		return nil, ik.unavailable()
	}
	if es, ok := idx.keys[kid]; ok {
		return es.pick(alg, bit)
	}
	return nil, ErrKeyNotFound
}

// misnamed returns the last load error of a static issuer whose discovery
// answered metadata naming issuer instead (the configured issuer lacks the
// trailing slash, say), or nil. A token naming that issuer comes from the
// configured authorization server, which this configuration cannot verify:
// the server is at fault, not the token. Static issuers are few; the scan
// happens only for issuers that are otherwise unknown.
func (k *Keys) misnamed(issuer string) error {
	if issuer == "" {
		return nil
	}
	for _, iss := range k.order {
		ik := k.static[iss]
		ik.mu.Lock()
		err := ik.lastErr
		ik.mu.Unlock()
		var mm *mismatchError
		if errors.As(err, &mm) && mm.metadata == issuer {
			return err
		}
	}
	return nil
}

// unavailable is ErrUnavailable with the reason of the last failed load.
func (ik *issuerKeys) unavailable() error {
	ik.mu.Lock()
	err := ik.lastErr
	ik.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return ErrUnavailable
}

// refreshUnknownKid asks keyfunc's storage for kid: its HTTP client
// refreshes the set if the issuer's limiter allows. Only one caller per
// issuer is in there at a time (others wait for its outcome, or go on when
// another kind of load is under way), so the limiter holds at most one reservation, and cancelling it restores the
// token in full: the limiter is never left in debt (see e707dec). The wait
// is checked first so that no call waits longer than the rate limit wait.
//
// The refresh spends the window's token, so it runs detached from the
// request: a client that goes away must not make it fail for everyone. It
// ends with the rate limit wait plus the HTTP timeout, Close or eviction;
// the request stops waiting for it when ctx ends.
func (k *Keys) refreshUnknownKid(ctx, runCtx context.Context, ik *issuerKeys, kid string) {
	// Claim the issuer's refresh first: requests that come while it is
	// under way wait for it, since it may bring their kid too (a key
	// rotation seen by many clients at once).
	ik.mu.Lock()
	if running := ik.refreshing; running != nil {
		ik.mu.Unlock()
		select {
		case <-running:
		case <-ctx.Done():
		}
		return
	}
	done := make(chan struct{})
	ik.refreshing = done
	ik.mu.Unlock()
	release := func() {
		ik.mu.Lock()
		ik.refreshing = nil
		ik.mu.Unlock()
		close(done)
	}
	select {
	case ik.sem <- struct{}{}:
	default:
		release() // another load is under way
		return
	}
	if ik.kf == nil || limiterDelay(ik.limiter, time.Now()) > k.rateWait || !k.capAllows(ik) || !k.beginLoad() {
		<-ik.sem
		release()
		return
	}
	go func() {
		defer k.wg.Done()
		defer release()
		defer func() { <-ik.sem }()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.rateWait+k.timeout)
		defer cancel()
		stop := context.AfterFunc(runCtx, cancel) // Close and eviction abort the fetch
		defer stop()
		ik.kfErr = nil
		loads, start := ik.store.loads.Load(), time.Now()
		_, _ = ik.kf.Storage().KeyRead(ctx, kid)
		switch {
		case ik.kfErr != nil:
			k.record(ctx, ik, "unknown kid", start, ik.kfErr)
		case ik.store.loads.Load() != loads:
			k.record(ctx, ik, "unknown kid", start, nil)
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// beginLoad registers a load started on a request path so that Close waits
// for it (the caller calls k.wg.Done when it ends), or reports false once
// Close began: no load starts after that.
func (k *Keys) beginLoad() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return false
	}
	k.wg.Add(1)
	return true
}

// limiterDelay is how long lim's next token is away at now.
func limiterDelay(lim *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - lim.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing / float64(lim.Limit()) * float64(time.Second))
}

// capAllows spends a token of the global cap on request-driven loads when
// ik is a resolved issuer.
func (k *Keys) capAllows(ik *issuerKeys) bool {
	if k.fetchCap == nil || k.static[ik.issuer] == ik {
		return true
	}
	return k.fetchCap.Allow()
}

// retryLoad loads the keys of an issuer that has none, on the request path,
// if its limiter has a token (a failed load spends it): between permitted
// retries, and while another load is under way, it returns at once. This is
// how a resolved issuer's keys are first loaded.
func (k *Keys) retryLoad(ctx, runCtx context.Context, ik *issuerKeys) {
	select {
	case ik.sem <- struct{}{}:
	default:
		return
	}
	defer func() { <-ik.sem }()
	// The limiter's token is only looked at until the cap allowed the load
	// (ik.sem keeps others off the limiter), so a capped issuer keeps it.
	if ik.store.idx.Load() != nil || ik.limiter.TokensAt(time.Now()) < 1 {
		return
	}
	if !k.capAllows(ik) {
		ik.setErr(k.now(), errFetchCap)
		return
	}
	if !k.beginLoad() {
		return
	}
	defer k.wg.Done()
	ik.limiter.Allow()
	// The load spends the window's retry: a client that goes away must not
	// make it fail for everyone, so it ends only with the timeout, Close or
	// eviction.
	ctx, stop := mergeCancel(context.WithoutCancel(ctx), runCtx)
	defer stop()
	_ = k.load(ctx, ik, "request")
}

// maxIssuerLen bounds the issuer strings handed to the resolver.
const maxIssuerLen = 2048

// issuerKeys returns the keys of issuer and the context of its background
// work, resolving and holding the issuer if needed.
func (k *Keys) issuerKeys(ctx context.Context, issuer string) (*issuerKeys, context.Context, error) {
	if ik, ok := k.static[issuer]; ok {
		return ik, ik.ctx, nil
	}
	if k.resolve == nil || issuer == "" || len(issuer) > maxIssuerLen {
		return nil, nil, ErrUnknownIssuer
	}
	k.mu.Lock()
	if el, ok := k.dynamic[issuer]; ok {
		k.lru.MoveToFront(el)
		ik := el.Value.(*issuerKeys)
		runCtx := ik.ctx
		k.mu.Unlock()
		return ik, runCtx, nil
	}
	closed := k.closed
	k.mu.Unlock()
	if closed { // nothing new is resolved or held after Close
		return nil, nil, fmt.Errorf("%w: %w", ErrUnavailable, errClosed)
	}

	jwksURL, err := k.resolve(ctx, issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnknownIssuer, err)
	}
	target := jwksURL
	if target == "" {
		target = issuer // discovery
	} else if err := checkIssuerScheme(issuer, k.plaintext); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnknownIssuer, err)
	}
	if err := checkURL(target, k.plaintext); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnknownIssuer, err)
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnavailable, errClosed)
	}
	if el, ok := k.dynamic[issuer]; ok { // resolved concurrently
		k.lru.MoveToFront(el)
		ik := el.Value.(*issuerKeys)
		return ik, ik.ctx, nil
	}
	var ik *issuerKeys
	if el, ok := k.gone[issuer]; ok {
		k.goneLRU.Remove(el)
		delete(k.gone, issuer)
		if old := el.Value.(*issuerKeys); old.resolved == jwksURL {
			ik = old // its keys and its limiter
		}
	}
	if ik == nil {
		ik = k.newIssuerKeys(issuer, jwksURL)
		ik.resolved = jwksURL
	}
	ik.ctx, ik.cancel = context.WithCancel(k.ctx)
	k.dynamic[issuer] = k.lru.PushFront(ik)
	for k.lru.Len() > k.maxIssuers {
		last := k.lru.Back()
		old := last.Value.(*issuerKeys)
		k.lru.Remove(last)
		delete(k.dynamic, old.issuer)
		old.cancel() // its goroutine ends; Close still waits for it
		k.gone[old.issuer] = k.goneLRU.PushFront(old)
		for k.goneLRU.Len() > k.maxIssuers {
			g := k.goneLRU.Back()
			k.goneLRU.Remove(g)
			delete(k.gone, g.Value.(*issuerKeys).issuer)
		}
	}
	k.start(ik.ctx, ik)
	return ik, ik.ctx, nil
}

// start runs ik's background refresh until ctx ends. Callers hold k.mu or
// are in New.
func (k *Keys) start(ctx context.Context, ik *issuerKeys) {
	k.wg.Go(func() { k.loop(ctx, ik) })
}

// loop refreshes ik every refresh interval, and retries once per rate-limit
// window while it has no keys.
func (k *Keys) loop(ctx context.Context, ik *issuerKeys) {
	t := time.NewTimer(k.firstDelay(ik))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		select {
		case ik.sem <- struct{}{}:
			k.backgroundLoad(ctx, ik)
			<-ik.sem
		case <-ctx.Done():
			return
		}
		t.Reset(k.nextDelay(ik))
	}
}

// backgroundLoad is one load of loop: a periodic refresh, or the retry of
// an issuer without keys. Background loads of resolved issuers count
// against the global cap too: tenant churn must not turn into fetches.
// Callers hold ik.sem.
func (k *Keys) backgroundLoad(ctx context.Context, ik *issuerKeys) {
	reason := "periodic"
	if ik.store.idx.Load() == nil {
		reason = "retry"
	}
	if k.capAllows(ik) {
		_ = k.load(ctx, ik, reason)
	} else if ik.store.idx.Load() == nil {
		ik.setErr(k.now(), errFetchCap)
	}
}

// nextDelay is the time until ik's next background load: the refresh
// interval once it has keys (a failed refresh waits for the next one too),
// the rate-limit window while it has none.
func (k *Keys) nextDelay(ik *issuerKeys) time.Duration {
	if ik.store.idx.Load() == nil {
		return k.rateEvery
	}
	return k.refresh
}

// firstDelay is nextDelay counted from ik's last successful load, for a
// resolved issuer held again with the keys it had when evicted, but never
// sooner than one rate-limit window after its last attempt: a tenant whose
// refreshes fail keeps old keys, and re-holding it must not fetch again.
func (k *Keys) firstDelay(ik *issuerKeys) time.Duration {
	if ik.store.idx.Load() == nil {
		return k.rateEvery
	}
	ik.mu.Lock()
	since, tried := time.Since(ik.loadedAt), time.Since(ik.triedAt)
	ik.mu.Unlock()
	if k.static[ik.issuer] == ik {
		return min(max(k.refresh-since, 0), k.refresh)
	}
	return min(max(k.refresh-since, k.rateEvery-tried, 0), max(k.refresh, k.rateEvery))
}

// load fetches ik's key set (discovering its URL first if needed) and, on
// success, replaces its keys; on failure the last good keys stay and the
// issuer's limiter token is spent, so that requests do not retry at once.
// Callers hold ik.sem.
func (k *Keys) load(ctx context.Context, ik *issuerKeys, reason string) error {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	start := time.Now()
	err := k.fetch(ctx, ik)
	if err != nil {
		ik.limiter.Allow()
	}
	k.record(ctx, ik, reason, start, err)
	return err
}

// fetch runs discovery if needed, then one jwkset fetch into ik's store.
// The first successful fetch also builds the issuer's keyfunc.Keyfunc over a
// jwkset HTTP client of that URL and store, with the issuer's limiter as
// RefreshUnknownKID. Callers hold ik.sem.
func (k *Keys) fetch(ctx context.Context, ik *issuerKeys) error {
	if ik.jwksURL == "" {
		u, err := k.discover(ctx, ik.issuer)
		if err != nil {
			return err
		}
		ik.jwksURL = u
	}
	// Without RefreshInterval, NewStorageFromHTTP is a synchronous one-shot
	// fetch, decode, validate and KeyReplaceAll into our store, and starts
	// no goroutine (whose end could not be waited for); it returns an error
	// (and leaves the store alone) when the fetch or any JWK fails.
	s, err := jwkset.NewStorageFromHTTP(ik.jwksURL, jwkset.HTTPClientStorageOptions{
		Client:              ik.client,
		Ctx:                 ctx,
		HTTPTimeout:         k.timeout,
		Storage:             ik.store,
		RefreshErrorHandler: func(_ context.Context, err error) { ik.kfErr = jwksError(err) }, // under ik.sem
	})
	if err != nil {
		return jwksError(err)
	}
	if ik.kf != nil {
		return nil
	}
	client, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{ik.jwksURL: s},
		RateLimitWaitMax:  k.rateWait + k.timeout,
		RefreshUnknownKID: ik.limiter,
	})
	if err != nil {
		return err
	}
	kf, err := keyfunc.New(keyfunc.Options{Ctx: k.ctx, Storage: client})
	if err != nil {
		return err
	}
	ik.kf = kf
	return nil
}

// record keeps the outcome of a load attempt for Status and Ready, logs a
// failure, and tells the observer.
func (k *Keys) record(ctx context.Context, ik *issuerKeys, reason string, start time.Time, err error) {
	d := time.Since(start)
	now := k.now()
	ik.mu.Lock()
	ik.lastAttempt, ik.lastErr, ik.triedAt = now, err, time.Now()
	if err == nil {
		ik.lastSuccess, ik.loadedAt = now, ik.triedAt
	}
	ik.mu.Unlock()
	idx := ik.store.idx.Load()
	keys := 0
	if idx != nil {
		keys = idx.usable
	}
	if err != nil {
		k.logFailure(ctx, ik, reason, err, idx != nil)
	} else if len(idx.skipped) > 0 {
		k.log.LogAttrs(ctx, slog.LevelWarn, "jwks: key set has keys that are never used; fix the issuer's JWKS",
			slog.String("issuer", ik.issuer), slog.String("reason", reason), slog.Any("skipped", idx.skipped))
	}
	if o := k.observer; o != nil && o.Refresh != nil {
		o.Refresh(ctx, observe.Refresh{Issuer: ik.issuer, Start: now.Add(-d), Duration: d, Keys: keys, Err: err})
	}
	k.mu.Lock()
	close(k.changed)
	k.changed = make(chan struct{})
	k.mu.Unlock()
}

func (ik *issuerKeys) setErr(now time.Time, err error) {
	ik.mu.Lock()
	ik.lastAttempt, ik.lastErr = now, err
	ik.mu.Unlock()
}

func (k *Keys) logFailure(ctx context.Context, ik *issuerKeys, reason string, err error, haveKeys bool) {
	msg := "jwks: loading key set failed; requests naming this issuer fail with 503 until it loads"
	if haveKeys {
		msg = "jwks: refreshing key set failed; keeping the last good keys"
	}
	attrs := []slog.Attr{slog.String("issuer", ik.issuer), slog.String("reason", reason)}
	var pe *permanentError
	if errors.As(err, &pe) {
		attrs = append(attrs, slog.Any("error", pe.err), slog.Bool("permanent", true), slog.String("fix", pe.fix))
	} else {
		attrs = append(attrs, slog.Any("error", err))
	}
	var mm *mismatchError
	if errors.As(err, &mm) {
		attrs = append(attrs, slog.String("metadata_issuer", mm.metadata))
		if pe == nil {
			attrs = append(attrs, slog.String("fix", mm.fix()))
		}
	}
	k.log.LogAttrs(ctx, slog.LevelWarn, msg, attrs...)
}
