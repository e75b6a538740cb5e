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
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"golang.org/x/time/rate"

	"github.com/senderbound/senderbound/internal/jose"
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
	// type or size, a different JWK "alg", a "use" other than "sig"), or alg
	// is not an asymmetric algorithm.
	ErrKeyMismatch = errors.New("jwks: key does not fit the algorithm")
	// ErrUnavailable: no key set was ever loaded for this issuer (issuer down,
	// slow or answering garbage since start); fail closed.
	ErrUnavailable = errors.New("jwks: key set unavailable")
	// ErrDiscovery: the issuer's metadata could not be fetched or was
	// invalid (issuer mismatch, no jwks_uri). Returned wrapped in
	// ErrUnavailable by Key.
	ErrDiscovery = errors.New("jwks: discovery failed")
)

var (
	errTooLarge   = errors.New("jwks: response body too large")
	errTooManyKey = errors.New("jwks: too many keys in JWK Set")
	errNoKeys     = errors.New("jwks: JWK Set has no usable signing key")
	errClosed     = errors.New("jwks: closed")

	errUseNotSig  = fmt.Errorf("%w: JWK use is not \"sig\"", ErrKeyMismatch)
	errAlgDiffers = fmt.Errorf("%w: JWK alg differs from the token's", ErrKeyMismatch)
)

// Keys holds the signing keys of trusted issuers, one JWK Set per issuer,
// refreshed in the background. It is safe for concurrent use. Call Close (or
// end the context given to New) to stop its goroutines.
type Keys struct {
	client    *http.Client
	timeout   time.Duration
	refresh   time.Duration
	rateEvery time.Duration
	rateWait  time.Duration
	maxBody   int64
	maxKeys   int
	log       *slog.Logger
	now       func() time.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	static map[string]*issuerKeys // read-only after New
	order  []string

	resolve    func(ctx context.Context, issuer string) (string, error)
	maxIssuers int
	mu         sync.Mutex // guards dynamic, lru, closed
	dynamic    map[string]*list.Element
	lru        *list.List // of *issuerKeys, most recently used first
	closed     bool
	closeOnce  sync.Once
}

// issuerKeys is one issuer's key set and its refresh state.
type issuerKeys struct {
	issuer  string
	store   *indexStore
	limiter *rate.Limiter
	ctx     context.Context // ends when Keys closes or the issuer is evicted
	cancel  context.CancelFunc

	sem     chan struct{} // one refresh at a time; guards jwksURL
	jwksURL string        // empty until discovered
	started atomic.Uint64 // refreshes started
	lastErr atomic.Pointer[error]
}

// New returns the keys of the configured issuers. It loads every static
// issuer's key set before returning (in parallel, each bounded by the HTTP
// timeout), but an issuer that is down does not make New fail: its Key calls
// fail with [ErrUnavailable] until it answers. ctx bounds the lifetime of the
// background refresh: when it ends, refreshing stops, as on Close.
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
	client := *c.client
	client.Transport = limitTransport{base: base, max: c.maxBody}
	k := &Keys{
		client:     &client,
		timeout:    c.timeout,
		refresh:    c.refresh,
		rateEvery:  c.rateEvery,
		rateWait:   c.rateWait,
		maxBody:    c.maxBody,
		maxKeys:    c.maxKeys,
		log:        c.logger,
		now:        c.now,
		static:     make(map[string]*issuerKeys, len(c.issuers)),
		resolve:    c.resolve,
		maxIssuers: c.maxIssuers,
		dynamic:    make(map[string]*list.Element),
		lru:        list.New(),
	}
	k.ctx, k.cancel = context.WithCancel(ctx)
	for _, s := range c.issuers {
		ik := k.newIssuerKeys(k.ctx, s.issuer, s.jwksURL)
		k.static[s.issuer] = ik
		k.order = append(k.order, s.issuer)
	}
	var initial sync.WaitGroup
	for _, ik := range k.static {
		initial.Go(func() { _ = k.refreshIssuer(ik.ctx, ik, "initial") })
	}
	initial.Wait()
	for _, ik := range k.static {
		k.start(ik)
	}
	return k, nil
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
			if err := checkURL(s.issuer); err != nil {
				errs = append(errs, fmt.Errorf("jwks: issuer %q: %w", s.issuer, err))
			}
		default:
			if err := checkURL(s.jwksURL); err != nil {
				errs = append(errs, fmt.Errorf("jwks: JWKS URL of issuer %q: %w", s.issuer, err))
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

// checkURL accepts absolute http and https URLs without query or fragment.
func checkURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case u.Scheme != "https" && u.Scheme != "http":
		return errors.New("scheme must be https or http")
	case u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "":
		return errors.New("must be an absolute URL with a host and no user, query or fragment")
	}
	return nil
}

func (k *Keys) newIssuerKeys(parent context.Context, issuer, jwksURL string) *issuerKeys {
	ctx, cancel := context.WithCancel(parent)
	return &issuerKeys{
		issuer:  issuer,
		store:   &indexStore{MemoryJWKSet: jwkset.NewMemoryStorage(), maxKeys: k.maxKeys},
		limiter: rate.NewLimiter(rate.Every(k.rateEvery), 1),
		ctx:     ctx,
		cancel:  cancel,
		sem:     make(chan struct{}, 1),
		jwksURL: jwksURL,
	}
}

// Issuers returns the statically configured issuers, in the order given.
func (k *Keys) Issuers() []string {
	return append([]string(nil), k.order...)
}

// Close stops all background refreshes and waits for them to end. Key keeps
// answering from the keys already loaded, but never refreshes again. Close
// is idempotent and always returns nil.
func (k *Keys) Close() error {
	k.closeOnce.Do(func() {
		k.mu.Lock()
		k.closed = true
		k.mu.Unlock()
		k.cancel()
		k.wg.Wait()
	})
	return nil
}

// Key returns the public key that verifies a token from issuer whose JOSE
// header names kid and alg.
//
// A known kid is a lock-free lookup. An unknown kid (or an issuer whose keys
// never loaded) causes at most one refresh of that issuer's set per rate
// limit window; the call waits at most the rate limit wait for the limiter,
// plus the HTTP timeout when it does the refresh, then decides. The key must
// fit alg ([jose.KeyFits]) and equal the JWK's "alg" when it has one; a JWK
// whose "use" is not "sig" is never used. Nothing named by the token itself
// (jku, x5u) is fetched. An empty kid matches only a JWK without "kid".
//
// Errors: [ErrUnknownIssuer], [ErrUnavailable] (possibly wrapping
// [ErrDiscovery]), [ErrKeyNotFound], [ErrKeyMismatch].
func (k *Keys) Key(ctx context.Context, issuer, kid, alg string) (crypto.PublicKey, error) {
	bit := algBit(alg)
	if bit < 0 {
		// Never fetch anything for "none", HS256 or unknown algorithms.
		return nil, fmt.Errorf("%w: %w", ErrKeyMismatch, jose.ErrAlgorithm)
	}
	ik, err := k.issuerKeys(ctx, issuer)
	if err != nil {
		return nil, err
	}
	if idx := ik.store.idx.Load(); idx != nil {
		if e, ok := idx.keys[kid]; ok {
			return e.check(alg, bit)
		}
	}
	k.refreshLimited(ctx, ik)
	idx := ik.store.idx.Load()
	if idx == nil {
		if p := ik.lastErr.Load(); p != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, *p)
		}
		return nil, ErrUnavailable
	}
	if e, ok := idx.keys[kid]; ok {
		return e.check(alg, bit)
	}
	return nil, ErrKeyNotFound
}

// maxIssuerLen bounds the issuer strings handed to the resolver.
const maxIssuerLen = 2048

func (k *Keys) issuerKeys(ctx context.Context, issuer string) (*issuerKeys, error) {
	if ik, ok := k.static[issuer]; ok {
		return ik, nil
	}
	if k.resolve == nil || issuer == "" || len(issuer) > maxIssuerLen {
		return nil, ErrUnknownIssuer
	}
	k.mu.Lock()
	if el, ok := k.dynamic[issuer]; ok {
		k.lru.MoveToFront(el)
		ik := el.Value.(*issuerKeys)
		k.mu.Unlock()
		return ik, nil
	}
	k.mu.Unlock()

	jwksURL, err := k.resolve(ctx, issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnknownIssuer, err)
	}
	target := jwksURL
	if target == "" {
		target = issuer // discovery
	}
	if err := checkURL(target); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnknownIssuer, err)
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, errClosed)
	}
	if el, ok := k.dynamic[issuer]; ok { // resolved concurrently
		k.lru.MoveToFront(el)
		return el.Value.(*issuerKeys), nil
	}
	ik := k.newIssuerKeys(k.ctx, issuer, jwksURL)
	k.dynamic[issuer] = k.lru.PushFront(ik)
	for k.lru.Len() > k.maxIssuers {
		last := k.lru.Back()
		old := last.Value.(*issuerKeys)
		k.lru.Remove(last)
		delete(k.dynamic, old.issuer)
		old.cancel() // its goroutine ends; Close still waits for it
	}
	k.start(ik)
	return ik, nil
}

// start runs ik's background refresh. Callers hold k.mu or are in New.
func (k *Keys) start(ik *issuerKeys) {
	k.wg.Go(func() { k.loop(ik) })
}

// loop refreshes ik every refresh interval, and once per rate-limit window
// while its keys never loaded.
func (k *Keys) loop(ik *issuerKeys) {
	t := time.NewTimer(k.nextDelay(ik))
	defer t.Stop()
	for {
		select {
		case <-ik.ctx.Done():
			return
		case <-t.C:
		}
		if ik.store.idx.Load() != nil {
			_ = k.refreshIssuer(ik.ctx, ik, "periodic")
		} else if ik.limiter.AllowN(k.now(), 1) {
			_ = k.refreshIssuer(ik.ctx, ik, "retry")
		}
		t.Reset(k.nextDelay(ik))
	}
}

func (k *Keys) nextDelay(ik *issuerKeys) time.Duration {
	if ik.store.idx.Load() == nil {
		return k.rateEvery
	}
	return k.refresh
}

// refreshLimited refreshes ik if the rate limiter allows it within the wait
// bound. It never reserves a token it may not use: cancelling reservations
// made concurrently by a flood of callers can leave the limiter in debt
// (only the latest reservation is restored in full), which would delay the
// next legitimate refresh by many windows.
func (k *Keys) refreshLimited(ctx context.Context, ik *issuerKeys) {
	now := k.now()
	if !ik.limiter.AllowN(now, 1) {
		missing := 1 - ik.limiter.TokensAt(now)
		d := time.Duration(missing / float64(ik.limiter.Limit()) * float64(time.Second))
		if d > k.rateWait {
			return
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		if !ik.limiter.AllowN(k.now(), 1) {
			return // another caller took the token
		}
	}
	_ = k.refreshIssuer(ctx, ik, "unknown kid")
}

// refreshIssuer fetches ik's key set (discovering its URL first if needed)
// and, on success, replaces its keys. On failure the last good keys stay.
// If another refresh started and finished while this one waited its turn,
// that result stands and nothing is fetched.
func (k *Keys) refreshIssuer(ctx context.Context, ik *issuerKeys, reason string) error {
	seen := ik.started.Load()
	select {
	case ik.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-ik.ctx.Done():
		return ik.ctx.Err()
	}
	defer func() { <-ik.sem }()
	if ik.started.Load() != seen {
		return nil
	}
	ik.started.Add(1)

	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	stop := context.AfterFunc(ik.ctx, cancel) // Close and eviction abort fetches
	defer stop()

	err := k.fetch(ctx, ik)
	if err != nil {
		ik.lastErr.Store(&err)
		k.log.LogAttrs(ctx, slog.LevelWarn, "jwks: refreshing key set failed; keeping the last good keys",
			slog.String("issuer", ik.issuer), slog.String("reason", reason), slog.Any("error", err))
		return err
	}
	ik.lastErr.Store(nil)
	return nil
}

// fetch runs discovery if needed, then one jwkset fetch into ik's store.
// Callers hold ik.sem.
func (k *Keys) fetch(ctx context.Context, ik *issuerKeys) error {
	if ik.jwksURL == "" {
		u, err := k.discover(ctx, ik.issuer)
		if err != nil {
			return err
		}
		ik.jwksURL = u
	}
	// Without RefreshInterval, NewStorageFromHTTP is a synchronous one-shot
	// fetch, decode, validate and KeyReplaceAll into our store, started no
	// goroutine; it returns an error (and leaves the store alone) when the
	// fetch or any JWK fails.
	_, err := jwkset.NewStorageFromHTTP(ik.jwksURL, jwkset.HTTPClientStorageOptions{
		Client:      k.client,
		Ctx:         ctx,
		HTTPTimeout: k.timeout,
		Storage:     ik.store,
	})
	return err
}
