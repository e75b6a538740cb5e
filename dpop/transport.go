package dpop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"unicode/utf8"
)

// TokenSource supplies the DPoP-bound access token for a request.
// Implementations must be safe for concurrent use.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// StaticToken is a [TokenSource] that always returns the same token.
type StaticToken string

// Token implements [TokenSource].
func (t StaticToken) Token(context.Context) (string, error) { return string(t), nil }

// maxRememberedOrigins bounds the nonces a Transport keeps.
const maxRememberedOrigins = 256

// Transport is an [http.RoundTripper] that makes DPoP requests. On every
// request it sets "Authorization: DPoP <token>" (when Source is set) and a
// fresh proof in the DPoP header, with ath for the token and the last nonce
// that the request's origin (scheme, host and port) sent in a DPoP-Nonce
// header. When a response is 401 with a DPoP challenge carrying
// error="use_dpop_nonce" and a new nonce, it retries the request once with
// that nonce. When a response is 401 with a DPoP challenge carrying
// error="invalid_token" and Source has an Invalidate(token string) method
// (as [ClientCredentials] has), it drops the refused token from Source and
// retries the request once with Source's next token, if that is another
// one. A request is thus sent at most three times (one nonce retry, one
// token retry). Retries re-send the body through Request.GetBody (a request
// with a body but no GetBody is not retried; its refused token is still
// dropped).
//
// # Redirects
//
// An [http.Client] calls RoundTrip once per hop of a redirect chain, and
// drops the Authorization header of the first request on a hop to another
// domain; since this Transport adds the credentials itself, it applies the
// same rule: a hop's request gets the token and a proof only when its host
// is the first request's host (any port), or a subdomain of it, and so was
// every hop before it ("api.example.com" after "example.com", but not
// "example.com" after "api.example.com", nor "notexample.com"), as
// net/http decides for Authorization and Cookie. Names are compared as
// written, so a hop to an internationalized name is treated as another
// domain unless its host is the same. Beyond net/http's rule, a hop from
// https down to http carries neither. A hop without credentials is sent
// through Base unchanged, and its DPoP-Nonce is not retried.
//
// It never modifies the caller's request. A Transport is safe for concurrent
// use; it must not be copied after first use.
type Transport struct {
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Signer makes the proofs. It is required.
	Signer *Signer
	// Source supplies the access token. When nil, requests carry a proof
	// but no Authorization header (as token requests to an authorization
	// server do).
	Source TokenSource

	mu     sync.Mutex
	nonces map[string]string // origin → last nonce
}

// RoundTrip implements [http.RoundTripper].
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	closeBody := func() {
		if req.Body != nil {
			req.Body.Close()
		}
	}
	if t.Signer == nil {
		closeBody()
		return nil, fmt.Errorf("transport without a signer: %w", ErrSigner)
	}
	if !mayCarryCredentials(req) {
		return t.base().RoundTrip(req)
	}
	var token string
	if t.Source != nil {
		var err error
		if token, err = t.Source.Token(req.Context()); err != nil {
			closeBody()
			return nil, fmt.Errorf("dpop: access token: %w", err)
		}
	}
	origin := originOf(req)
	nonce := t.nonce(origin)
	resp, err := t.send(req, req.Body, token, nonce)
	if err != nil {
		return nil, err
	}
	// At most one retry for a nonce and one for a fresh token: three sends.
	var nonceRetried, tokenRetried bool
	for {
		fresh := t.remember(origin, resp.Header)
		if resp.StatusCode != http.StatusUnauthorized {
			return resp, nil
		}
		switch challenge := dpopError(resp.Header); {
		case !nonceRetried && challenge == "use_dpop_nonce" && fresh != "" && fresh != nonce:
			nonceRetried, nonce = true, fresh
		case !tokenRetried && challenge == "invalid_token" && token != "":
			tokenRetried = true
			if token = t.replaceToken(req.Context(), token); token == "" {
				return resp, nil
			}
			nonce = t.nonce(origin)
		default:
			return resp, nil
		}
		body, ok := replayBody(req)
		if !ok {
			return resp, nil
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		if resp, err = t.send(req, body, token, nonce); err != nil {
			return nil, err
		}
	}
}

// invalidator is a [TokenSource] that can drop a token the API refused, as
// [ClientCredentials] can.
type invalidator interface {
	Invalidate(token string)
}

// replaceToken drops token, which the API refused, from a Source that can
// drop it, and returns the Source's next token; "" when the Source cannot
// drop it, gives no token, or gives the same one again.
func (t *Transport) replaceToken(ctx context.Context, token string) string {
	inv, ok := t.Source.(invalidator)
	if !ok {
		return ""
	}
	inv.Invalidate(token)
	next, err := t.Source.Token(ctx)
	if err != nil || next == token {
		return ""
	}
	return next
}

// replayBody returns the body of req for a second send: none for a request
// without one, a new one from GetBody, and false when it cannot be had.
func replayBody(req *http.Request) (io.ReadCloser, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	return body, err == nil
}

// send clones req with body, adds the credentials and sends it.
func (t *Transport) send(req *http.Request, body io.ReadCloser, token, nonce string) (*http.Response, error) {
	proof, err := t.Signer.Proof(req.Method, req.URL.String(), token, nonce)
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Body = body
	if token != "" {
		r.Header.Set("Authorization", "DPoP "+token)
	}
	r.Header.Set("DPoP", proof)
	return t.base().RoundTrip(r)
}

func (t *Transport) base() http.RoundTripper {
	if t.Base == nil {
		return http.DefaultTransport
	}
	return t.Base
}

// maxRedirectChain bounds the walk back along a redirect chain; a longer
// chain is sent without credentials. net/http's default stops at 10 hops.
const maxRedirectChain = 100

// mayCarryCredentials reports whether req may carry the token and a proof:
// a request that is not a redirect hop may; a hop may when every hop of its
// chain stays on the first request's host or its subdomains (net/http's
// rule for Authorization on redirects) and none goes from https to http.
func mayCarryCredentials(req *http.Request) bool {
	var hops []*url.URL // every request of the chain but the first
	first := req
	for first.Response != nil {
		if first.Response.Request == nil || len(hops) == maxRedirectChain {
			return false
		}
		hops = append(hops, first.URL)
		first = first.Response.Request
	}
	secure := strings.EqualFold(first.URL.Scheme, "https")
	for _, u := range hops {
		if u.Host != first.URL.Host && !isDomainOrSubdomain(u.Hostname(), first.URL.Hostname()) {
			return false
		}
		if secure && !strings.EqualFold(u.Scheme, "https") {
			return false
		}
	}
	return true
}

// isDomainOrSubdomain reports whether sub is parent or a subdomain of it,
// as net/http decides whether a redirect may keep the Authorization header
// (shouldCopyHeaderOnRedirect in net/http/client.go). net/http converts
// internationalized names to ASCII first; this compares names as written
// and refuses any non-ASCII one, which can only refuse more.
func isDomainOrSubdomain(sub, parent string) bool {
	for _, s := range [...]string{sub, parent} {
		for i := 0; i < len(s); i++ {
			if s[i] >= utf8.RuneSelf {
				return false
			}
		}
	}
	if sub == parent {
		return true
	}
	// An IPv6 address (or a zone) is not a name and has no subdomains.
	if strings.ContainsAny(sub, ":%") {
		return false
	}
	return strings.HasSuffix(sub, parent) && len(sub) > len(parent) && sub[len(sub)-len(parent)-1] == '.'
}

func (t *Transport) nonce(origin string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nonces[origin]
}

// remember stores the DPoP-Nonce of a response, if it has a valid one, and
// returns it.
func (t *Transport) remember(origin string, h http.Header) string {
	n := h.Get("DPoP-Nonce")
	if !ValidNonce(n) {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.nonces == nil || len(t.nonces) >= maxRememberedOrigins {
		t.nonces = make(map[string]string)
	}
	t.nonces[origin] = n
	return n
}

// ValidNonce reports whether n has the nonce syntax of RFC 9449 §8.1,
// 1*NQCHAR (%x21 / %x23-5B / %x5D-7E), and at most 1,024 bytes: what a
// client may store from a DPoP-Nonce header (or gRPC metadata) and send
// back in a proof.
func ValidNonce(n string) bool {
	if n == "" || len(n) > 1024 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// originOf returns scheme://host:port of req's URL, lowercased, with the
// default port filled in.
func originOf(req *http.Request) string {
	u := req.URL
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// dpopError returns the error attribute of the DPoP challenge in h, such
// as "use_dpop_nonce" (RFC 9449 §9) or "invalid_token" (RFC 6750 §3.1),
// or "" when there is none.
func dpopError(h http.Header) string {
	for _, v := range h.Values("WWW-Authenticate") {
		if e, ok := ChallengeParam(v, "DPoP", "error"); ok && e != "" {
			return e
		}
	}
	return ""
}

var errChallenge = errors.New("dpop: malformed challenge")

// ChallengeParam returns the value of the auth-param named param in the
// challenge for scheme within one WWW-Authenticate field value (or gRPC
// www-authenticate metadata value), which may hold several challenges (RFC
// 9110 §11.6.1). Scheme and parameter names compare case-insensitively;
// quoted values are unescaped. A client reads the error, scope or algs of a
// rejection with it.
func ChallengeParam(v, scheme, param string) (string, bool) {
	cur := ""
	i := 0
	for i < len(v) {
		for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == ',') {
			i++
		}
		start := i
		for i < len(v) && isTChar(v[i]) {
			i++
		}
		name := v[start:i]
		if name == "" {
			i++ // skip a stray character
			continue
		}
		j := i
		for j < len(v) && (v[j] == ' ' || v[j] == '\t') {
			j++
		}
		if j >= len(v) || v[j] != '=' {
			cur = name // a new challenge begins
			i = j
			continue
		}
		i = j + 1
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
		val, n, err := readParamValue(v[i:])
		if err != nil {
			return "", false
		}
		i += n
		if strings.EqualFold(cur, scheme) && strings.EqualFold(name, param) {
			return val, true
		}
	}
	return "", false
}

// readParamValue reads a token or quoted-string at the start of s.
func readParamValue(s string) (string, int, error) {
	if s == "" || s[0] != '"' {
		i := 0
		for i < len(s) && (isTChar(s[i]) || s[i] == '=' || s[i] == '/') {
			i++
		}
		return s[:i], i, nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), i + 1, nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", 0, errChallenge
}

func isTChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
