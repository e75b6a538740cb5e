package mcpguard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/internal/jsonobj"
	"github.com/senderbound/senderbound/middleware"
)

// Reasons for a refusal by this package, for [errors.Is]. Every other
// refusal is the [middleware.Guard]'s own *[middleware.Error].
var (
	// ErrNoSubject: the token has no sub (or [WithUserID] made no user ID
	// of it), so the SDK could not bind a session to its user; it is
	// refused as invalid_token.
	ErrNoSubject = errors.New("mcpguard: token has no subject")
	// ErrMalformedMessage: the body of a POST may call a tool but is not
	// JSON-RPC that this package can read unambiguously (not one JSON value,
	// several "method", "params", "name" or "id" members, or members whose
	// names differ from those only in case), so the tool it calls, and what
	// that tool requires, cannot be known. It is answered 400.
	ErrMalformedMessage = errors.New("mcpguard: malformed JSON-RPC message")
)

// DefaultMaxBodySize is the default limit on the body of a POST whose
// tools/call requests are read for [WithTool]: the go-sdk's own default,
// [mcp.DefaultMaxRequestBodyBytes].
const DefaultMaxBodySize = mcp.DefaultMaxRequestBodyBytes

// maxLeeway is the largest clock leeway a [middleware.Guard] accepts
// ([middleware.WithLeeway]). The go-sdk checks TokenInfo.Expiration again,
// by the wall clock, with this much skew, so that it never refuses a token
// that the Guard accepted within its leeway.
const maxLeeway = 5 * time.Minute

// Guard puts a [middleware.Guard] in front of an MCP server's streamable
// HTTP handler (go-sdk's [mcp.StreamableHTTPHandler]). Build it once with
// [New]; it is safe for concurrent use.
type Guard struct {
	guard   *middleware.Guard
	tools   map[string][]middleware.Requirement
	maxBody int64
	userID  func(*middleware.Claims) string
	// infos holds the TokenInfo made from each live *middleware.Claims, so
	// that a token the Guard's cache returns again costs no decoding; an
	// entry goes when its Claims is collected.
	infos sync.Map // weak.Pointer[middleware.Claims] → *auth.TokenInfo
}

// Option configures a [Guard]. Options are checked together by [New].
type Option func(*config)

type config struct {
	tools   map[string][]middleware.Requirement
	maxBody int64
	userID  func(*middleware.Claims) string
	errs    []error
}

// WithTool makes calls of the tool name require reqs (scopes, authorization
// details, step-up) on top of a valid token. A tools/call request for it
// whose token does not meet them is answered as [middleware.Guard.Require]
// answers over plain HTTP, before the MCP server sees the request: 403
// insufficient_scope with the scope needed in the challenge (401
// insufficient_user_authentication for [middleware.StepUp]), on the scheme
// the client used. The tool never runs.
func WithTool(name string, reqs ...middleware.Requirement) Option {
	return func(c *config) {
		switch {
		case name == "":
			c.errs = append(c.errs, errors.New("mcpguard: WithTool needs a tool name"))
		case len(reqs) == 0:
			c.errs = append(c.errs, fmt.Errorf("mcpguard: WithTool(%q) needs a requirement", name))
		default:
			c.tools[name] = append(c.tools[name], reqs...)
		}
	}
}

// WithMaxBodySize limits the body of a POST that is read to find the tools
// it calls (only when [WithTool] is used); a larger body is answered 413.
// The default is [DefaultMaxBodySize]. Keep it at or above the
// [mcp.StreamableHTTPOptions.MaxRequestBodyBytes] of the handler.
func WithMaxBodySize(n int64) Option {
	return func(c *config) {
		if n <= 0 {
			c.errs = append(c.errs, fmt.Errorf("mcpguard: body size limit %d is not positive", n))
			return
		}
		c.maxBody = n
	}
}

// WithUserID sets how the TokenInfo's UserID, to which the go-sdk binds a
// session, is made from the verified claims; the default is sub. A Guard
// that trusts several issuers whose subjects could collide should include
// the issuer, so that a session opened by one issuer's user cannot be
// continued with another issuer's token for the same sub:
//
//	mcpguard.WithUserID(func(c *middleware.Claims) string { return c.Issuer() + " " + c.Subject() })
//
// A token for which it returns "" is refused (401 invalid_token).
func WithUserID(f func(*middleware.Claims) string) Option {
	return func(c *config) {
		if f == nil {
			c.errs = append(c.errs, errors.New("mcpguard: nil WithUserID function"))
			return
		}
		c.userID = f
	}
}

// New returns a Guard that verifies requests with g. Configure g as for any
// API: its audience is the MCP server's canonical URI (RFC 8707, as MCP
// clients ask for tokens), [middleware.WithResourceMetadata] points to the
// protected resource metadata (see [MetadataURL]), and
// [middleware.WithPublicURL] gives the external URL for DPoP proofs.
func New(g *middleware.Guard, opts ...Option) (*Guard, error) {
	c := config{tools: map[string][]middleware.Requirement{}, maxBody: DefaultMaxBodySize,
		userID: (*middleware.Claims).Subject}
	if g == nil {
		c.errs = append(c.errs, errors.New("mcpguard: nil middleware.Guard"))
	}
	for _, o := range opts {
		o(&c)
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	return &Guard{guard: g, tools: c.tools, maxBody: c.maxBody, userID: c.userID}, nil
}

// Handler returns a handler that passes a request to next, the MCP server's
// streamable HTTP handler, only when the [middleware.Guard] verified its
// token (Bearer, DPoP-bound with a valid proof, or certificate-bound on a
// connection with that certificate) and the token meets the requirements
// of every tool the request calls ([WithTool]). Every other request gets
// the Guard's answer (401, 403, 400 or 503 with its challenge) and next
// never runs.
//
// The verified token reaches the MCP server as the go-sdk's
// [auth.TokenInfo], where [auth.TokenInfoFromContext] and the tools'
// [mcp.RequestExtra] find it: UserID is sub (see [WithUserID]), Scopes the
// scope claim followed by Auth0's permissions, Expiration exp, Extra every
// claim. The
// SDK binds a session to the UserID of the request that opened it and
// refuses to continue it with another's token (403). The TokenInfo of one
// token is shared between its requests: read it, never modify it. next
// also finds the [middleware.Token] with [middleware.TokenFromContext].
func (g *Guard) Handler(next http.Handler) http.Handler {
	// The only way into the go-sdk's context key for TokenInfo is its own
	// RequireBearerToken. It is given the TokenInfo of the token the Guard
	// verified, never the credentials: it sees a fixed placeholder (so it
	// can neither accept a DPoP-bound token as a bearer token nor refuse
	// one for its scheme), and its verifier answers only for requests
	// that came through handOver.
	sdk := auth.RequireBearerToken(handoffVerifier,
		&auth.RequireBearerTokenOptions{ClockSkew: maxLeeway})(restoreHeader(next))
	handOver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { g.handOver(w, r, sdk) })
	return g.guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(g.tools) == 0 || r.Method != http.MethodPost {
			handOver(w, r)
			return
		}
		calls, err := g.readCalls(w, r)
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "malformed JSON-RPC message", http.StatusBadRequest)
			return
		}
		var reqs []middleware.Requirement
		for _, c := range calls {
			reqs = append(reqs, g.tools[c.name]...)
		}
		if len(reqs) == 0 {
			handOver(w, r)
			return
		}
		tok, _ := middleware.TokenFromContext(r.Context())
		if g.guard.Authorize(tok, reqs...) == nil {
			handOver(w, r)
			return
		}
		// Require writes the refusal (logged, through the Guard's error
		// handler) as over plain HTTP; a single call's answer carries a
		// JSON-RPC error for its id, which go-sdk clients return from the
		// call while the session goes on. (Should Require decide otherwise,
		// as a step-up's max_age may with a clock that stepped back, the
		// request goes on with the real writer.)
		var ew http.ResponseWriter = w
		if len(calls) == 1 {
			ew = &rpcErrorWriter{ResponseWriter: w, id: calls[0].id}
		}
		g.guard.Require(reqs...)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			handOver(w, r)
		})).ServeHTTP(ew, r)
	}))
}

// placeholder is the only credential the go-sdk's RequireBearerToken sees.
const placeholder = "senderbound-verified"

// handoffHeader returns the request header the go-sdk's RequireBearerToken
// sees: the placeholder alone. A new one per request, so that nothing
// downstream can change a header shared by every request.
func handoffHeader() http.Header {
	return http.Header{"Authorization": {"Bearer " + placeholder}}
}

// handoff carries the verified TokenInfo and the request's real header
// through the go-sdk's RequireBearerToken.
type handoff struct {
	info   *auth.TokenInfo
	header http.Header
}

type handoffKey struct{}

// handOver puts the TokenInfo of the verified token where the go-sdk
// looks for it, and calls sdk (RequireBearerToken around next).
func (g *Guard) handOver(w http.ResponseWriter, r *http.Request, sdk http.Handler) {
	tok, ok := middleware.TokenFromContext(r.Context())
	if !ok || tok.Claims == nil { // not behind Guard.Handler: never happens
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	info, err := g.tokenInfo(tok.Claims)
	if err != nil {
		desc := "invalid token"
		if errors.Is(err, ErrNoSubject) {
			// Without a UserID the go-sdk binds a session to nobody, and
			// any valid token could continue it.
			desc = "token has no subject"
		}
		// Logged as the Guard logs its own rejections (the token is in
		// r's context, so the line names its issuer and client).
		e := &middleware.Error{Status: http.StatusUnauthorized, Code: middleware.CodeInvalidToken, Description: desc, Err: err}
		g.guard.LogRejection(r, e)
		g.guard.WriteError(w, e)
		return
	}
	r2 := r.WithContext(context.WithValue(r.Context(), handoffKey{}, &handoff{info: info, header: r.Header}))
	r2.Header = handoffHeader()
	sdk.ServeHTTP(w, r2)
}

// handoffVerifier is the go-sdk's TokenVerifier: it accepts only the
// placeholder of a request that handOver passed on, with its TokenInfo.
func handoffVerifier(ctx context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
	h, ok := ctx.Value(handoffKey{}).(*handoff)
	if !ok || token != placeholder {
		return nil, auth.ErrInvalidToken
	}
	return h.info, nil
}

// restoreHeader gives next the request's real header back, once the
// go-sdk's RequireBearerToken has put the TokenInfo in the context.
func restoreHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := r.Context().Value(handoffKey{}).(*handoff)
		if !ok {
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		r2 := new(http.Request)
		*r2 = *r
		r2.Header = h.header
		next.ServeHTTP(w, r2)
	})
}

// tokenInfo returns the TokenInfo of c, made once per live Claims.
func (g *Guard) tokenInfo(c *middleware.Claims) (*auth.TokenInfo, error) {
	k := weak.Make(c)
	if v, ok := g.infos.Load(k); ok {
		return v.(*auth.TokenInfo), nil
	}
	info, err := TokenInfo(c)
	if err != nil {
		return nil, err
	}
	if info.UserID = g.userID(c); info.UserID == "" {
		return nil, ErrNoSubject
	}
	if v, loaded := g.infos.LoadOrStore(k, info); loaded {
		return v.(*auth.TokenInfo), nil
	}
	runtime.AddCleanup(c, func(k weak.Pointer[middleware.Claims]) { g.infos.Delete(k) }, k)
	return info, nil
}

// TokenInfo returns the go-sdk's view of verified claims: UserID is sub,
// Scopes the scope claim followed by those of Auth0's permissions that it
// lacks, Expiration exp, and Extra every claim of the token's payload.
// [Guard.Handler] does this for every request; it is exported for other
// transports and tests.
func TokenInfo(c *middleware.Claims) (*auth.TokenInfo, error) {
	var extra map[string]any
	if err := c.Decode(&extra); err != nil {
		return nil, fmt.Errorf("mcpguard: claims: %w", err)
	}
	scopes := c.Scopes()
	for _, p := range c.Permissions() {
		if !slices.Contains(scopes, p) {
			scopes = append(scopes, p)
		}
	}
	return &auth.TokenInfo{Scopes: scopes, Expiration: c.ExpiresAt(), UserID: c.Subject(), Extra: extra}, nil
}

// readCalls reads the body of r (leaving it for the next handler) and
// returns the names of the tools its tools/call requests call, reading the
// JSON-RPC message (or batch) as the go-sdk does: exact member names.
// Anything that could be read two ways is refused.
func (g *Guard) readCalls(w http.ResponseWriter, r *http.Request) ([]call, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.maxBody))
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return calledTools(body)
}

// call is one tools/call request: the tool's name and the request's raw
// JSON-RPC id.
type call struct {
	name string
	id   []byte
}

// calledTools returns the tools/call requests in body, a JSON-RPC message
// or a batch (array) of them.
func calledTools(body []byte) ([]call, error) {
	// A message can only call a tool if "tools/call" stands in it as
	// written, or escaped (with a backslash): otherwise there is nothing to
	// find, and no need to read it.
	if !bytes.Contains(body, []byte("tools/call")) && bytes.IndexByte(body, '\\') < 0 {
		return nil, nil
	}
	var calls []call
	add := func(msg []byte) error {
		c, err := calledTool(msg)
		if c.name != "" {
			calls = append(calls, c)
		}
		return err
	}
	var err error
	if b := bytes.TrimLeft(body, " \t\r\n"); len(b) > 0 && b[0] == '[' {
		err = jsonobj.Elements(body, add)
	} else {
		err = add(body)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedMessage, err)
	}
	return calls, nil
}

// calledTool returns params.name and the id of msg when msg is a
// tools/call request, else a zero call. It refuses a message with a member
// given twice, or a member whose name differs from "method", "params",
// "name" or "id" only in case.
func calledTool(msg []byte) (call, error) {
	var c call
	m, err := members(msg, "method", "params", "id")
	if err != nil || m[0] == nil {
		return c, err
	}
	method, ok := jsonobj.String(m[0])
	if !ok {
		return c, errors.New("method is not a string")
	}
	if method != "tools/call" || m[1] == nil || string(m[1]) == "null" {
		return c, nil // the SDK refuses a tools/call without params
	}
	p, err := members(m[1], "name")
	if err != nil || p[0] == nil {
		return c, err // the SDK refuses a tools/call without a name
	}
	if c.name, ok = jsonobj.String(p[0]); !ok {
		return c, errors.New("tool name is not a string")
	}
	c.id = m[2]
	return c, nil
}

// members returns the raw values of the members of the JSON object obj
// named want (at most three), nil where there is none, in one pass.
func members(obj []byte, want ...string) ([3][]byte, error) {
	var v [3][]byte
	err := jsonobj.Members(obj, func(name string, value []byte) error {
		for i, w := range want {
			if !strings.EqualFold(name, w) {
				continue
			}
			if name != w || v[i] != nil {
				return fmt.Errorf("ambiguous member %q", w)
			}
			v[i] = value
		}
		return nil
	})
	return v, err
}

// CodeForbidden is the JSON-RPC error code of a tools/call refused for its
// token's authorization (403 insufficient_scope, or 401
// insufficient_user_authentication for a step-up): an implementation-defined
// server error (JSON-RPC 2.0 §5.1), since MCP defines none. The HTTP status
// and the WWW-Authenticate challenge are the answer OAuth clients act on.
const CodeForbidden = -32003

// rpcErrorWriter turns the body of the Guard's refusal of one tools/call
// into a JSON-RPC error response for the call's id, keeping the status and
// the challenge headers.
type rpcErrorWriter struct {
	http.ResponseWriter
	id      []byte
	written bool
}

func (w *rpcErrorWriter) WriteHeader(status int) {
	if w.written {
		return
	}
	w.written = true
	if status < 400 || status == http.StatusServiceUnavailable {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json")
	w.ResponseWriter.WriteHeader(status)
	id := []byte("null")
	if len(w.id) > 0 && (w.id[0] == '"' || w.id[0] == '-' || (w.id[0] >= '0' && w.id[0] <= '9')) {
		id = w.id // a JSON string or number, as read from valid JSON
	}
	msg := strings.ToLower(http.StatusText(status))
	if e := challengeError(h); e != "" {
		msg = e
	}
	fmt.Fprintf(w.ResponseWriter, `{"jsonrpc":"2.0","id":%s,"error":{"code":%d,"message":%q}}`, id, CodeForbidden, msg)
	w.ResponseWriter = discard{w.ResponseWriter}
}

func (w *rpcErrorWriter) Write(b []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// discard swallows the plain-text body written after the JSON-RPC error.
type discard struct{ http.ResponseWriter }

func (d discard) Write(b []byte) (int, error) { return len(b), nil }

// challengeError returns the error and scope of the challenge in h, as
// "insufficient_scope (scope: read:messages)", for the JSON-RPC message.
func challengeError(h http.Header) string {
	for _, v := range h.Values("WWW-Authenticate") {
		for _, scheme := range []string{"Bearer", "DPoP"} {
			code, ok := dpop.ChallengeParam(v, scheme, "error")
			if !ok || code == "" {
				continue
			}
			if scope, ok := dpop.ChallengeParam(v, scheme, "scope"); ok && scope != "" {
				return code + " (scope: " + scope + ")"
			}
			return code
		}
	}
	return ""
}
