package grpcguard

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
)

// Interceptor verifies the access token (and its DPoP or certificate
// binding) of every gRPC call with a [middleware.Guard], checks the scopes
// the called method requires, and puts the verified token in the handler's
// context, where [middleware.TokenFromContext] and
// [middleware.ClaimsFromContext] find it. Build one with [New] and install
// [Interceptor.Unary] and [Interceptor.Stream] on the server. An Interceptor
// is safe for concurrent use.
type Interceptor struct {
	guard     *middleware.Guard
	publicURL *url.URL
	certs     *mtls.Source
	scopes    map[string]scopeNeed
	skip      map[string]bool
	maxToken  int
}

// scopeNeed is a method's required scopes, and the same joined for the
// challenge's scope attribute.
type scopeNeed struct {
	scopes []string
	joined string
}

// Option configures an [Interceptor]. Options are checked together by [New].
type Option func(*config)

type config struct {
	publicURL *url.URL
	certs     *mtls.Source
	scopes    map[string]scopeNeed
	skip      map[string]bool
	maxToken  int
	errs      []error
}

func (c *config) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("grpcguard: "+format, args...))
}

// DefaultMaxTokenSize is the default limit on an access token's size, the
// same as the [middleware.Guard]'s default.
const DefaultMaxTokenSize = 16 << 10

// WithPublicURL sets the external base URL of the server (scheme, host and
// port, no path): the htu of a call's DPoP proof is this URL followed by the
// call's full method name. Set it whenever a proxy or load balancer sits in
// front of the server, or whenever clients dial a name other than the one
// they send as :authority. Without it, the base URL is derived from the
// call's :authority and the connection (https over TLS, else http).
func WithPublicURL(raw string) Option {
	return func(c *config) {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			c.fail("public URL %q is not an absolute http(s) URL without path, query or fragment", raw)
			return
		}
		c.publicURL = &url.URL{Scheme: u.Scheme, Host: u.Host}
	}
}

// WithCertificateSource sets where client certificates come from for
// certificate-bound tokens (RFC 8705). By default only the TLS connection's
// client certificate is used. A source configured with a forwarded header
// and trusted proxies takes the certificate from that call metadata (same
// name and format as the HTTP header) when the connection comes from a
// trusted proxy's address, and never from the connection in that case. An
// XFCC value that carries only a Hash (Envoy's default) binds as well: the
// thumbprint is all a certificate-bound token is compared with.
func WithCertificateSource(s *mtls.Source) Option {
	return func(c *config) {
		if s == nil {
			c.fail("nil certificate source")
		}
		c.certs = s
	}
}

// WithScopes requires scopes per method: the key is a full method name
// ("/package.Service/Method"), the value the scopes a token must grant
// (each in its scope claim or Auth0's permissions claim). A call without
// them fails with codes.PermissionDenied and an insufficient_scope
// challenge. Methods not listed need a valid token only.
func WithScopes(scopes map[string][]string) Option {
	return func(c *config) {
		if c.scopes == nil {
			c.scopes = map[string]scopeNeed{}
		}
		for m, s := range scopes {
			if !fullMethod(m) {
				c.fail("scopes for %q: not a full method name /package.Service/Method", m)
			}
			for _, sc := range s {
				if sc == "" || strings.ContainsAny(sc, " \"\\") {
					c.fail("scopes for %q: %q is not a scope token", m, sc)
				}
			}
			c.scopes[m] = scopeNeed{scopes: append([]string(nil), s...), joined: strings.Join(s, " ")}
		}
	}
}

// WithoutAuthentication names full methods that skip authentication
// entirely, such as "/grpc.health.v1.Health/Check" and
// "/grpc.health.v1.Health/Watch". Their credentials are not read at all.
// Every other method requires a valid token: nothing is public by default.
func WithoutAuthentication(methods ...string) Option {
	return func(c *config) {
		if c.skip == nil {
			c.skip = map[string]bool{}
		}
		for _, m := range methods {
			if !fullMethod(m) {
				c.fail("method %q to skip is not a full method name /package.Service/Method", m)
			}
			c.skip[m] = true
		}
	}
}

// WithMaxTokenSize sets the largest authorization metadata value accepted
// (beyond the scheme), checked before anything is parsed. Default
// [DefaultMaxTokenSize]; set it like the Guard's WithMaxTokenSize.
func WithMaxTokenSize(n int) Option {
	return func(c *config) {
		if n < 256 || n > 1<<20 {
			c.fail("max token size %d outside [256, 1 MiB]", n)
		}
		c.maxToken = n
	}
}

// fullMethod reports whether m looks like "/package.Service/Method".
func fullMethod(m string) bool {
	svc, method, ok := strings.Cut(strings.TrimPrefix(m, "/"), "/")
	return strings.HasPrefix(m, "/") && ok && svc != "" && method != "" && !strings.Contains(method, "/")
}

// New returns an Interceptor that verifies calls with g. It reports every
// configuration problem at once.
func New(g *middleware.Guard, opts ...Option) (*Interceptor, error) {
	c := config{maxToken: DefaultMaxTokenSize}
	for _, o := range opts {
		o(&c)
	}
	if g == nil {
		c.fail("nil guard")
	}
	for m := range c.skip {
		if _, ok := c.scopes[m]; ok {
			c.fail("method %q both skips authentication and requires scopes", m)
		}
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	return &Interceptor{
		guard:     g,
		publicURL: c.publicURL,
		certs:     c.certs,
		scopes:    c.scopes,
		skip:      c.skip,
		maxToken:  c.maxToken,
	}, nil
}

// Unary is a [grpc.UnaryServerInterceptor]: install it with
// grpc.ChainUnaryInterceptor(i.Unary) (or grpc.UnaryInterceptor).
func (i *Interceptor) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if i.skip[info.FullMethod] {
		return handler(ctx, req)
	}
	tokCtx, err := i.authenticate(ctx, info.FullMethod, func(md metadata.MD) error { return grpc.SetHeader(ctx, md) })
	if err != nil {
		return nil, err
	}
	return handler(tokCtx, req)
}

// Stream is a [grpc.StreamServerInterceptor]: install it with
// grpc.ChainStreamInterceptor(i.Stream) (or grpc.StreamInterceptor). The
// call is authenticated once, when the stream opens.
func (i *Interceptor) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if i.skip[info.FullMethod] {
		return handler(srv, ss)
	}
	ctx := ss.Context()
	tokCtx, err := i.authenticate(ctx, info.FullMethod, ss.SetHeader)
	if err != nil {
		return err
	}
	return handler(srv, &serverStream{ServerStream: ss, ctx: tokCtx})
}

// serverStream is a ServerStream whose context carries the verified token.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context { return s.ctx }

// authenticate verifies the call's credentials for method and checks its
// scopes. On success it sends a fresh DPoP nonce, if the Guard has one,
// through setHeader, and returns ctx carrying the token
// (middleware.TokenFromContext finds it); on failure it sends the challenge
// metadata through setHeader and returns the status error.
func (i *Interceptor) authenticate(ctx context.Context, method string, setHeader func(metadata.MD) error) (context.Context, error) {
	tokCtx, tok, e := i.verify(ctx, method)
	// only names the scheme whose challenge carries the error, for the
	// rejections this package makes itself; the Guard places its own.
	var only string
	if e != nil && errors.Is(e, middleware.ErrMultipleProofs) {
		only = middleware.SchemeDPoP
	}
	if e == nil {
		if need, ok := i.scopes[method]; ok {
			if e = insufficientScope(tok, need); e != nil {
				only = middleware.SchemeBearer
				if tok.Binding.Mechanism == middleware.MechanismDPoP {
					only = middleware.SchemeDPoP
				}
			}
		}
	}
	if e != nil {
		i.log(ctx, method, tok, e)
		st, md := i.answer(e, only)
		if len(md) > 0 {
			// The status is the answer; metadata that cannot be sent (the
			// stream already sent its headers) only loses the hint.
			_ = setHeader(md)
		}
		return nil, st.Err()
	}
	if tok.DPoPNonce != "" {
		_ = setHeader(metadata.Pairs(headerDPoPNonce, tok.DPoPNonce))
	}
	return tokCtx, nil
}

// verify returns the verified token and ctx carrying it (one allocation
// for both, Guard.VerifyContext).
func (i *Interceptor) verify(ctx context.Context, method string) (context.Context, *middleware.Token, *middleware.Error) {
	// One key at a time: metadata.FromIncomingContext copies every key.
	cred, e := extract(
		metadata.ValueFromIncomingContext(ctx, "authorization"),
		metadata.ValueFromIncomingContext(ctx, "dpop"),
		i.maxToken)
	if e != nil {
		return nil, nil, e
	}
	p, _ := peer.FromContext(ctx)
	var secure bool
	var peerCerts []*x509.Certificate
	if p != nil {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			secure, peerCerts = true, info.State.PeerCertificates
		}
	}
	req := middleware.Request{
		Scheme: cred.scheme,
		Token:  cred.token,
		Proof:  cred.proof,
		Method: http.MethodPost, // every gRPC call is an HTTP/2 POST
	}
	if cred.scheme == middleware.SchemeDPoP {
		// Only a DPoP proof is checked against the URL (htu).
		req.URL = i.url(ctx, secure, method)
	}
	var certErr error
	req.Certificate, req.CertificateThumbprint, certErr = i.certificate(ctx, p, peerCerts)
	tokCtx, tok, err := i.guard.VerifyContext(ctx, req)
	if err != nil {
		var me *middleware.Error
		if !errors.As(err, &me) {
			me = &middleware.Error{Status: http.StatusUnauthorized, Code: middleware.CodeInvalidToken, Description: "invalid token", Err: err}
		}
		if certErr != nil && errors.Is(me, middleware.ErrBindingMismatch) {
			// Say why no certificate was found (a malformed or unverified
			// forwarded header), as the HTTP adapter does.
			me.Err = errors.Join(me.Err, certErr)
		}
		return nil, nil, me
	}
	return tokCtx, tok, nil
}

// log writes the rejection e of a call of method to the Guard's logger, as
// the Guard's HTTP handler logs its own: the call's method is POST, its
// path the full method name, its remote address the peer's. tok, when the
// call's token verified (a scope rejection), names its issuer and client.
func (i *Interceptor) log(ctx context.Context, method string, tok *middleware.Token, e *middleware.Error) {
	r := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: method}}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		r.RemoteAddr = p.Addr.String()
	}
	if tok != nil {
		ctx = middleware.NewContext(ctx, tok)
	}
	i.guard.LogRejection(r.WithContext(ctx), e)
}

// url is the call's external URL, for the DPoP proof's htu: the public URL
// (or the :authority and the connection's security) and the full method.
func (i *Interceptor) url(ctx context.Context, secure bool, method string) *url.URL {
	if i.publicURL != nil {
		return &url.URL{Scheme: i.publicURL.Scheme, Host: i.publicURL.Host, Path: method}
	}
	scheme := "http"
	if secure {
		scheme = "https"
	}
	var authority string
	// grpc-go refuses a request with several :authority values.
	if a := metadata.ValueFromIncomingContext(ctx, ":authority"); len(a) == 1 {
		authority = a[0]
	}
	return &url.URL{Scheme: scheme, Host: authority, Path: method}
}

// certificate returns the client certificate of the call: the connection's,
// or with a certificate source, the one it finds (forwarded metadata from a
// trusted proxy); or, when that proxy forwarded only the certificate's hash
// (an XFCC Hash), its thumbprint.
func (i *Interceptor) certificate(ctx context.Context, p *peer.Peer, peerCerts []*x509.Certificate) (*x509.Certificate, string, error) {
	if i.certs == nil {
		if len(peerCerts) == 0 || peerCerts[0] == nil {
			return nil, "", mtls.ErrNoCertificate
		}
		return peerCerts[0], "", nil
	}
	// mtls.Source reads an *http.Request: give it the parts it looks at,
	// the peer's address, the TLS state and the metadata as headers.
	md, _ := metadata.FromIncomingContext(ctx)
	r := &http.Request{Header: make(http.Header, len(md))}
	if p != nil {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			r.TLS = &info.State
		}
		if p.Addr != nil {
			r.RemoteAddr = p.Addr.String()
		}
	}
	for k, v := range md {
		if !strings.HasPrefix(k, ":") {
			r.Header[http.CanonicalHeaderKey(k)] = v
		}
	}
	cert, err := i.certs.Certificate(r)
	if errors.Is(err, mtls.ErrNoCertificate) {
		// Perhaps only a hash was forwarded: its thumbprint binds as well.
		if thumb, terr := i.certs.Thumbprint(r); terr == nil {
			return nil, thumb, nil
		}
	}
	return cert, "", err
}

// insufficientScope returns an insufficient_scope rejection unless tok
// grants every scope of need.
func insufficientScope(tok *middleware.Token, need scopeNeed) *middleware.Error {
	for _, s := range need.scopes {
		if !tok.Claims.Grants(s) {
			return &middleware.Error{
				Status:      http.StatusForbidden,
				Code:        middleware.CodeInsufficientScope,
				Description: "insufficient scope",
				Scope:       need.joined,
				Err:         middleware.ErrInsufficientScope,
			}
		}
	}
	return nil
}

// Metadata keys of the answers.
const (
	headerWWWAuthenticate = "www-authenticate"
	headerDPoPNonce       = "dpop-nonce"
	headerRetryAfter      = "retry-after"
)

// answer is the gRPC status and the response metadata of a rejection:
//
//   - 401 (no, invalid or unproven credentials; use_dpop_nonce) and 400
//     invalid_request (malformed credentials): codes.Unauthenticated;
//   - 403 insufficient_scope: codes.PermissionDenied;
//   - 503 (keys, replay cache or nonces unavailable; fail closed):
//     codes.Unavailable, with retry-after.
//
// The metadata carries the RFC 6750 / RFC 9449 challenges as
// www-authenticate values, exactly as the HTTP answer's WWW-Authenticate
// fields, and dpop-nonce when the client must use a nonce. The status
// message is the error's generic description: never token material.
func (i *Interceptor) answer(e *middleware.Error, only string) (*status.Status, metadata.MD) {
	// The Guard renders its challenges (realm, algs, resource_metadata,
	// error attributes on the right scheme) into HTTP header fields; the
	// same fields travel as metadata.
	var w headerWriter
	i.guard.WriteError(&w, e)
	challenges := w.h.Values("WWW-Authenticate")
	if only != "" && slices.ContainsFunc(challenges, func(v string) bool { return isChallenge(v, only) }) {
		// The error concerns one scheme: the other challenges only
		// advertise theirs, as they would in an answer without an error.
		// Both renderings list the same schemes in the same order.
		var plain headerWriter
		i.guard.WriteError(&plain, &middleware.Error{Status: http.StatusUnauthorized, Err: middleware.ErrNoCredentials})
		if adv := plain.h.Values("WWW-Authenticate"); len(adv) == len(challenges) {
			for k, v := range challenges {
				if !isChallenge(v, only) {
					challenges[k] = adv[k]
				}
			}
		}
	}
	md := metadata.MD{}
	for _, v := range challenges {
		md.Append(headerWWWAuthenticate, v)
	}
	if n := w.h.Get("DPoP-Nonce"); n != "" {
		md.Set(headerDPoPNonce, n)
	}
	if ra := w.h.Get("Retry-After"); ra != "" {
		md.Set(headerRetryAfter, ra)
	}
	code, msg := codes.Unauthenticated, e.Description
	switch {
	case e.Status == http.StatusServiceUnavailable:
		code = codes.Unavailable
	case e.Status == http.StatusForbidden:
		code = codes.PermissionDenied
	case e.Code == middleware.CodeNone:
		msg = "no credentials"
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return status.New(code, msg), md
}

// isChallenge reports whether the challenge v is for scheme.
func isChallenge(v, scheme string) bool {
	return len(v) >= len(scheme) && strings.EqualFold(v[:len(scheme)], scheme) &&
		(len(v) == len(scheme) || v[len(scheme)] == ' ')
}

// headerWriter collects the header fields of an HTTP answer and drops the
// body.
type headerWriter struct{ h http.Header }

func (w *headerWriter) Header() http.Header {
	if w.h == nil {
		w.h = http.Header{}
	}
	return w.h
}
func (w *headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *headerWriter) WriteHeader(int)             {}
