package middleware

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// LogRejection writes err to the logger of [WithLogger] as [Guard.Handler]
// writes its own rejections (one line, limited under a flood by
// [WithLogLimit]), for code that answers a rejection itself: a caller of
// [Guard.Check] or [Guard.Verify], or another transport's adapter (the
// gRPC interceptor of grpcguard uses it). From r only the context, Method,
// URL.Path and RemoteAddr are read; when the rejection came after the token
// verified (a missing scope), put the token in r's context with
// [NewContext] so that the line names its issuer and client. An err that is
// not an [*Error] is logged as an invalid_token rejection, as
// [Guard.WriteError] answers it.
func (g *Guard) LogRejection(r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = newError(CodeInvalidToken, "invalid token", err)
	}
	g.logRejection(r, e)
}

// logRejection writes one line per rejection: why, for which issuer, key
// and client, on which request. Never the token, the proof or the query
// (which may hold an access_token): the reason is built from sentinel
// texts, issuer, kid and client_id are the token's routing metadata.
func (g *Guard) logRejection(r *http.Request, e *Error) {
	ctx := r.Context()
	level := slog.LevelInfo
	switch {
	case e.Status >= http.StatusInternalServerError:
		level = slog.LevelError
	case e.Code == CodeUseDPoPNonce, errors.Is(e.Err, ErrNoCredentials):
		// A normal nonce round trip, or a client that had to be told which
		// schemes to use: not worth an operator's attention.
		level = slog.LevelDebug
	}
	if !g.logger.Enabled(ctx, level) {
		return
	}
	cause := reasonName(e.Err)
	ok, suppressed := g.logLimit.admit(cause, g.cfg.now())
	g.logSuppressed(ctx, suppressed)
	if !ok {
		return
	}
	issuer, kid, clientID := e.issuer, e.kid, e.clientID
	if tok, ok := TokenFromContext(ctx); ok && issuer == "" {
		// A RequireScopes rejection: the token verified earlier.
		issuer, kid, clientID = tok.Claims.issuer, tok.kid, tok.Claims.clientID
	}
	var path string
	if r.URL != nil {
		path = r.URL.Path
	}
	attrs := []slog.Attr{
		slog.Int("status", e.Status),
		slog.String("code", string(e.Code)),
		slog.String("cause", cause),
		slog.String("reason", oneLine(e.Error())),
		slog.String("issuer", oneLine(issuer)),
		slog.String("kid", oneLine(kid)),
		slog.String("client_id", oneLine(clientID)),
		slog.String("method", oneLine(r.Method)),
		slog.String("path", oneLine(path)),
		slog.String("remote_addr", oneLine(r.RemoteAddr)),
	}
	if e.htu != "" {
		attrs = append(attrs, slog.String("computed_htu", oneLine(e.htu)))
	}
	g.logger.LogAttrs(ctx, level, "request rejected", attrs...)
}

// maxLogValue bounds each logged value: several come from the client.
const maxLogValue = 512

// oneLine returns s fit for one log line: line breaks (LF, and the Unicode
// line and paragraph separators U+2028 and U+2029) become "; "; other
// control characters (C0, DEL, C1), the bidirectional controls that reorder
// how a line is displayed (U+061C, U+200E–U+200F, U+202A–U+202E,
// U+2066–U+2069) and invalid UTF-8 become "?"; and at most maxLogValue
// bytes are kept. slog's own handlers escape some of these; the handler an
// operator plugs in may not.
func oneLine(s string) string {
	clean := len(s) <= maxLogValue
	for i := 0; clean && i < len(s); i++ {
		clean = s[i] >= 0x20 && s[i] < 0x7f
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if b.Len() >= maxLogValue {
			b.WriteString("…")
			break
		}
		switch {
		case c == '\n', c == '\u2028', c == '\u2029':
			if i+utf8.RuneLen(c) < len(s) {
				b.WriteString("; ")
			}
		case c < 0x20, c == 0x7f, c >= 0x80 && c < 0xa0, c == utf8.RuneError,
			unicode.Is(unicode.Bidi_Control, c):
			b.WriteByte('?')
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// externalURL is u without user, query and fragment: the URL a DPoP proof's
// htu is compared with.
func externalURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := url.URL{Scheme: u.Scheme, Opaque: u.Opaque, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return c.String()
}
