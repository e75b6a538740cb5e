package dpop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/senderbound/senderbound/clientauth"
	"github.com/senderbound/senderbound/internal/jsonobj"
)

// Errors of a [ClientCredentials] token source. Test for them with
// [errors.Is]; an OAuth error answer is a [*TokenError], which matches
// [ErrTokenResponse] too.
var (
	// ErrTokenResponse: the token endpoint did not answer with a usable
	// access token: an error answer, an unexpected status, a body that is
	// too large, not a JSON object, or without a string access_token.
	ErrTokenResponse = errors.New("dpop: no usable token response")
	// ErrNotDPoPBound: the token endpoint issued a token whose token_type is
	// not DPoP (RFC 9449 §5), so it is not bound to the Signer's key. Such a
	// token is never used.
	ErrNotDPoPBound = errors.New("dpop: token endpoint did not issue a DPoP-bound token")
)

// TokenError is an OAuth 2.0 error answer of a token endpoint (RFC 6749
// §5.2). It holds only the status and the error fields the server sent,
// never the request's credentials or the response body. It matches
// [ErrTokenResponse] with [errors.Is].
type TokenError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Code is the error member, for example "invalid_client",
	// "unauthorized_client", "access_denied" or "use_dpop_nonce".
	Code string
	// Description is the error_description member, if the server sent one
	// made of the characters RFC 6749 §5.2 allows (at most 256 of them).
	Description string
	// URI is the error_uri member, if any.
	URI string
}

// Error implements the error interface.
func (e *TokenError) Error() string {
	s := fmt.Sprintf("dpop: token endpoint answered %d", e.StatusCode)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// Unwrap returns [ErrTokenResponse].
func (e *TokenError) Unwrap() error { return ErrTokenResponse }

// Limits and defaults of a [ClientCredentials] token source.
const (
	// maxTokenResponse bounds the token endpoint's answer, checked before
	// parsing. Tokens with rich authorization details can be large, but not
	// this large.
	maxTokenResponse = 1 << 20
	// defaultExpiryMargin is how long before its expiry a token is replaced.
	defaultExpiryMargin = time.Minute
)

// ClientCredentialsOption configures [NewClientCredentials].
type ClientCredentialsOption func(*tokenConfig)

type tokenConfig struct {
	audience     string
	assertionAud string
	scopes       []string
	client       *http.Client
	now          func() time.Time
	margin       time.Duration
	errs         []error
}

// WithTokenAudience sets Auth0's audience parameter: the identifier of the
// API the token is for. Auth0 requires it unless the tenant has a default
// audience.
func WithTokenAudience(audience string) ClientCredentialsOption {
	return func(c *tokenConfig) {
		if audience == "" {
			c.errs = append(c.errs, fmt.Errorf("empty audience: %w", ErrConfig))
		}
		c.audience = audience
	}
}

// WithScopes sets the scope parameter (RFC 6749 §3.3), space-separated.
func WithScopes(scopes ...string) ClientCredentialsOption {
	return func(c *tokenConfig) {
		for _, s := range scopes {
			if s == "" || strings.ContainsAny(s, " \"\\") {
				c.errs = append(c.errs, fmt.Errorf("scope %q is not a scope token: %w", s, ErrConfig))
			}
		}
		c.scopes = append(c.scopes, scopes...)
	}
}

// WithAssertionAudience sets the aud of [clientauth.PrivateKeyJWT] client assertions
// (default the token endpoint URL, as RFC 7523 §3 and OpenID Connect Core
// §9 allow). Auth0 wants its tenant URL with the trailing slash,
// "https://TENANT.auth0.com/" (or the custom domain): its issuer
// identifier, which is also what the update of RFC 7523 in progress at the
// IETF recommends.
func WithAssertionAudience(aud string) ClientCredentialsOption {
	return func(c *tokenConfig) {
		if aud == "" {
			c.errs = append(c.errs, fmt.Errorf("empty assertion audience: %w", ErrConfig))
		}
		c.assertionAud = aud
	}
}

// WithTokenHTTPClient sets the HTTP client for token requests (default
// http.DefaultClient). Give it a timeout; for mutual TLS, its transport's
// TLS configuration holds the client certificate. Token requests never
// follow redirects, whatever the client's CheckRedirect says: a redirect
// would send the client's credentials again to another place (a 307 or 308
// re-sends the body), so a 3xx answer is an [ErrTokenResponse].
func WithTokenHTTPClient(client *http.Client) ClientCredentialsOption {
	return func(c *tokenConfig) {
		if client == nil {
			c.errs = append(c.errs, fmt.Errorf("nil HTTP client: %w", ErrConfig))
		}
		c.client = client
	}
}

// WithTokenClock sets the clock that decides when a cached token is
// replaced (default time.Now).
func WithTokenClock(now func() time.Time) ClientCredentialsOption {
	return func(c *tokenConfig) {
		if now == nil {
			c.errs = append(c.errs, fmt.Errorf("nil clock: %w", ErrConfig))
		}
		c.now = now
	}
}

// WithExpiryMargin sets how long before its expiry a cached token is
// replaced (default one minute), so that a token does not expire on its way
// to the API. For short-lived tokens at most half the lifetime is used.
func WithExpiryMargin(d time.Duration) ClientCredentialsOption {
	return func(c *tokenConfig) {
		if d < 0 || d > time.Hour {
			c.errs = append(c.errs, fmt.Errorf("expiry margin %v not in [0, 1h]: %w", d, ErrConfig))
		}
		c.margin = d
	}
}

// ClientCredentials is a [TokenSource] that obtains DPoP-bound access tokens
// with the OAuth 2.0 client credentials grant (RFC 6749 §4.4). Every token
// request carries a DPoP proof made by the Signer (RFC 9449 §5: htm POST,
// htu the token endpoint, no ath); when the authorization server answers
// 400 use_dpop_nonce with a DPoP-Nonce header (§8), the request is sent
// once more with that nonce, and the last nonce the server sent is used for
// the next request. The answer's token_type must be DPoP, else the token is
// refused with [ErrNotDPoPBound]: a bearer token would work for anyone who
// steals it.
//
// A token is cached until shortly before it expires (expires_in, less the
// margin of [WithExpiryMargin]); one without expires_in is not cached. When
// the clock steps backwards past the time a token was obtained, it is
// replaced.
//
// A ClientCredentials is safe for concurrent use: while one token request
// is under way, other callers wait for its result (each as long as its own
// ctx allows) instead of sending their own. When the waited-for request
// fails because its caller's ctx ended, a waiter whose ctx is still live
// sends the next request.
type ClientCredentials struct {
	tokenURL     string
	signer       *Signer
	auth         clientauth.Method
	audience     string
	assertionAud string
	scope        string
	client       *http.Client
	now          func() time.Time
	margin       time.Duration

	mu        sync.Mutex
	token     string
	obtained  time.Time // by c.now, when the request for token was sent
	refreshAt time.Time // zero: not cacheable
	nonce     string    // the token endpoint's last DPoP-Nonce
	flight    *tokenFlight
}

// tokenFlight is one token request that callers wait for.
type tokenFlight struct {
	done  chan struct{}
	token string
	err   error
}

// NewClientCredentials returns a token source for the token endpoint at
// tokenURL (an absolute https URL; http only on loopback hosts, for tests),
// whose tokens are bound to signer's key, authenticating with auth.
// Invalid arguments and options are all reported at once, each wrapping
// [ErrConfig].
func NewClientCredentials(tokenURL string, signer *Signer, auth clientauth.Method, opts ...ClientCredentialsOption) (*ClientCredentials, error) {
	cfg := tokenConfig{client: http.DefaultClient, now: time.Now, margin: defaultExpiryMargin}
	for _, o := range opts {
		o(&cfg)
	}
	errs := cfg.errs
	if err := checkTokenURL(tokenURL); err != nil {
		errs = append(errs, err)
	}
	if signer == nil {
		errs = append(errs, fmt.Errorf("nil signer: %w", ErrConfig))
	}
	if err := auth.Check(); err != nil {
		errs = append(errs, errors.Join(ErrConfig, err))
	}
	if cfg.assertionAud != "" && auth.Name() != clientauth.NamePrivateKeyJWT {
		errs = append(errs, fmt.Errorf("an assertion audience needs PrivateKeyJWT: %w", ErrConfig))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.assertionAud == "" {
		cfg.assertionAud = tokenURL
	}
	return &ClientCredentials{
		tokenURL:     tokenURL,
		signer:       signer,
		auth:         auth,
		audience:     cfg.audience,
		assertionAud: cfg.assertionAud,
		scope:        strings.Join(cfg.scopes, " "),
		client:       noRedirects(cfg.client),
		now:          cfg.now,
		margin:       cfg.margin,
	}, nil
}

// checkTokenURL accepts absolute https URLs, and http URLs on loopback hosts.
func checkTokenURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("token URL %q: not an absolute URL without userinfo and fragment: %w", raw, ErrConfig)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if h := u.Hostname(); h == "localhost" || h == "::1" || strings.HasPrefix(h, "127.") {
			return nil
		}
	}
	return fmt.Errorf("token URL %q: want https (http only on loopback): %w", raw, ErrConfig)
}

// Token implements [TokenSource]: it returns the cached token, or obtains a
// new one.
func (c *ClientCredentials) Token(ctx context.Context) (string, error) {
	for {
		c.mu.Lock()
		if now := c.now(); c.token != "" && !now.Before(c.obtained) && now.Before(c.refreshAt) {
			tok := c.token
			c.mu.Unlock()
			return tok, nil
		}
		if f := c.flight; f != nil {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return "", ctx.Err()
			}
			if f.err == nil {
				return f.token, nil
			}
			if ctx.Err() == nil && (errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)) {
				continue // its caller gave up; this one has not
			}
			return "", f.err
		}
		f := &tokenFlight{done: make(chan struct{})}
		c.flight = f
		c.mu.Unlock()
		return c.lead(ctx, f)
	}
}

// lead obtains a token for f and its waiters. The flight ends even if the
// HTTP client panics, so that waiters are never stranded.
func (c *ClientCredentials) lead(ctx context.Context, f *tokenFlight) (string, error) {
	f.err = errFlightAborted
	defer func() {
		c.mu.Lock()
		c.flight = nil
		c.mu.Unlock()
		close(f.done)
	}()
	f.token, f.err = c.obtain(ctx)
	return f.token, f.err
}

var errFlightAborted = errors.New("dpop: token request aborted")

// obtain requests a token, answering one nonce demand, and caches it.
func (c *ClientCredentials) obtain(ctx context.Context) (string, error) {
	c.mu.Lock()
	nonce := c.nonce
	c.mu.Unlock()
	sent := c.now()
	resp, err := c.request(ctx, nonce)
	if err != nil {
		return "", err
	}
	// RFC 9449 §8: a demand for a (new) nonce is answered once.
	if resp.status == http.StatusBadRequest && resp.err != nil && resp.err.Code == "use_dpop_nonce" &&
		resp.nonce != "" && resp.nonce != nonce {
		sent = c.now()
		if resp, err = c.request(ctx, resp.nonce); err != nil {
			return "", err
		}
	}
	if resp.err != nil {
		return "", resp.err
	}
	if resp.status != http.StatusOK {
		return "", fmt.Errorf("%w: status %d", ErrTokenResponse, resp.status)
	}
	t, err := parseTokenResponse(resp.body)
	if err != nil {
		return "", err
	}
	// RFC 9449 §5: a DPoP-bound token comes with token_type DPoP (compared
	// case-insensitively, as RFC 6749 §5.1 says token_type is).
	if !strings.EqualFold(t.tokenType, "DPoP") {
		return "", ErrNotDPoPBound
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.token, c.obtained, c.refreshAt = t.accessToken, sent, time.Time{}
	if t.expiresIn > 0 {
		life := time.Duration(t.expiresIn) * time.Second
		c.refreshAt = sent.Add(life - min(c.margin, life/2))
	}
	return t.accessToken, nil
}

// tokenReply is a token endpoint's answer, read in full.
type tokenReply struct {
	status int
	nonce  string      // a valid DPoP-Nonce header, if any
	err    *TokenError // the OAuth error, for a 4xx or 5xx with one
	body   []byte
}

// request sends one token request with a fresh proof (and assertion).
func (c *ClientCredentials) request(ctx context.Context, nonce string) (*tokenReply, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if c.scope != "" {
		form.Set("scope", c.scope)
	}
	if c.audience != "" {
		form.Set("audience", c.audience)
	}
	h := http.Header{}
	if err := c.auth.Apply(h, form, c.assertionAud); err != nil {
		return nil, errors.Join(ErrSigner, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("dpop: token request: %w", err)
	}
	req.Header = h
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 9449 §5: htm POST, htu the token endpoint, no ath.
	proof, err := c.signer.Proof(http.MethodPost, c.tokenURL, "", nonce)
	if err != nil {
		return nil, err
	}
	req.Header.Set("DPoP", proof)

	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("dpop: token request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse+1))
	if err != nil {
		return nil, fmt.Errorf("dpop: reading token response: %w", err)
	}
	if len(body) > maxTokenResponse {
		return nil, fmt.Errorf("%w: over %d bytes", ErrTokenResponse, maxTokenResponse)
	}
	r := &tokenReply{status: resp.StatusCode, body: body}
	// RFC 9449 §8.2: any answer may carry a new nonce for the next request.
	if n := resp.Header.Get("DPoP-Nonce"); ValidNonce(n) {
		r.nonce = n
		c.mu.Lock()
		c.nonce = n
		c.mu.Unlock()
	}
	if resp.StatusCode >= 400 {
		r.err = parseTokenError(resp.StatusCode, body)
	}
	return r, nil
}

// tokenResponse is the part of a successful answer (RFC 6749 §5.1) used.
type tokenResponse struct {
	accessToken string
	tokenType   string
	expiresIn   int64 // seconds; 0 when absent
}

// parseTokenResponse reads an RFC 6749 §5.1 answer with exact member
// names: access_token and token_type strings are required, expires_in is a
// number of seconds if present. Unknown members are ignored, duplicates of
// known ones refused.
func parseTokenResponse(body []byte) (tokenResponse, error) {
	var t tokenResponse
	var seen [3]bool
	err := jsonobj.Members(body, func(name string, v []byte) error {
		var ok bool
		switch name {
		case "access_token":
			if seen[0] {
				return errDuplicate
			}
			seen[0] = true
			t.accessToken, ok = jsonobj.String(v)
		case "token_type":
			if seen[1] {
				return errDuplicate
			}
			seen[1] = true
			t.tokenType, ok = jsonobj.String(v)
		case "expires_in":
			if seen[2] {
				return errDuplicate
			}
			seen[2] = true
			var f float64
			f, ok = jsonobj.Number(v)
			ok = ok && f >= 0 && f <= math.MaxInt32 && f == math.Trunc(f)
			t.expiresIn = int64(f)
		default:
			return nil
		}
		if !ok {
			return fmt.Errorf("%q has the wrong type", name)
		}
		return nil
	})
	switch {
	case err != nil:
		return tokenResponse{}, fmt.Errorf("%w: %w", ErrTokenResponse, err)
	case t.accessToken == "" || !validToken68(t.accessToken):
		return tokenResponse{}, fmt.Errorf("%w: no usable access_token", ErrTokenResponse)
	case !seen[1]:
		return tokenResponse{}, fmt.Errorf("%w: no token_type", ErrTokenResponse)
	}
	return t, nil
}

var errDuplicate = errors.New("duplicate member")

// validToken68 reports whether s can travel in an Authorization header as
// RFC 9449 §7.1 (and RFC 6750 §2.1) token68 syntax, so that a hostile
// answer cannot inject header text.
func validToken68(s string) bool {
	if len(s) > maxTokenResponse {
		return false
	}
	i := 0
	for i < len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			break
		}
		i++
	}
	for i < len(s) && s[i] == '=' {
		i++
	}
	return i == len(s) && s[0] != '='
}

// parseTokenError reads an RFC 6749 §5.2 error answer. A body that is not
// one gives an error without a Code.
func parseTokenError(status int, body []byte) *TokenError {
	e := &TokenError{StatusCode: status}
	_ = jsonobj.Members(body, func(name string, v []byte) error {
		s, ok := jsonobj.String(v)
		if !ok || !errorText(s) {
			return nil
		}
		switch name {
		case "error":
			e.Code = s
		case "error_description":
			e.Description = s
		case "error_uri":
			e.URI = s
		}
		return nil
	})
	return e
}

// errorText reports whether s has RFC 6749 §5.2 error syntax
// (%x20-21 / %x23-5B / %x5D-7E) and a sane length.
func errorText(s string) bool {
	if len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// noRedirects returns a copy of c that answers a redirect with the
// redirect response itself, never following it (the caller's client is
// not changed).
func noRedirects(c *http.Client) *http.Client {
	if c == nil {
		return nil
	}
	cp := *c
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}
