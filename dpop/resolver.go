package dpop

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/senderbound/senderbound/internal/proxy"
)

// URLResolver finds the external URL of a request: the URL its client
// addressed, which a proof's htu must name (RFC 9449 §4.3 (9)). Behind a
// reverse proxy the request that reaches the server may differ in scheme,
// host and path; the resolver takes the external form from configuration or,
// only from trusted proxies, from forwarding headers.
//
// A URLResolver is a value; it is safe for concurrent use when not modified.
type URLResolver struct {
	// PublicURL, when set, is the external base URL of the server. Its
	// scheme and host (with port) replace the request's, and its path, if
	// any other than "/", is prepended to the request's path: for a proxy
	// that serves this server under a path prefix and strips the prefix
	// (PublicURL "https://api.example.com/v1" maps a request for "/users" to
	// "https://api.example.com/v1/users"). Forwarding headers are then
	// ignored.
	PublicURL *url.URL
	// TrustedProxies are the addresses of the reverse proxies whose
	// forwarding headers are believed: Forwarded (proto=, host=), else
	// X-Forwarded-Proto and X-Forwarded-Host. From every other address these
	// headers are ignored. When a header holds a list, the last element (the
	// one the trusted proxy next to this server wrote) is used.
	TrustedProxies []netip.Prefix
}

// URL returns the external URL of r, with r's path and query. Without
// PublicURL or trusted forwarding headers it is r's Host, with scheme https
// when r came over TLS and http otherwise. It never modifies r or r.URL.
func (u URLResolver) URL(r *http.Request) *url.URL {
	out := &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	if p := u.PublicURL; p != nil {
		out.Scheme, out.Host = p.Scheme, p.Host
		if prefix := strings.TrimSuffix(p.EscapedPath(), "/"); prefix != "" {
			out.Path = strings.TrimSuffix(p.Path, "/") + r.URL.Path
			out.RawPath = prefix + r.URL.EscapedPath()
		}
		return out
	}
	out.Scheme, out.Host = "http", r.Host
	if r.TLS != nil {
		out.Scheme = "https"
	}
	if !proxy.Trusted(r.RemoteAddr, u.TrustedProxies) {
		return out
	}
	proto, host := forwarded(r.Header)
	if proto == "" {
		proto = lastListElement(r.Header.Values("X-Forwarded-Proto"))
	}
	if host == "" {
		host = lastListElement(r.Header.Values("X-Forwarded-Host"))
	}
	switch strings.ToLower(proto) {
	case "http", "https":
		out.Scheme = strings.ToLower(proto)
	}
	if host != "" {
		if _, _, err := normalizeAuthority(host); err == nil {
			out.Host = host
		}
	}
	return out
}

// forwarded returns proto and host from the last element of the RFC 7239
// Forwarded header fields.
func forwarded(h http.Header) (proto, host string) {
	vals := h.Values("Forwarded")
	if len(vals) == 0 {
		return "", ""
	}
	elems := splitQuoted(vals[len(vals)-1], ',')
	last := elems[len(elems)-1]
	for _, pair := range splitQuoted(last, ';') {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			continue
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = strings.ReplaceAll(v[1:len(v)-1], `\`, "")
		}
		switch strings.ToLower(k) {
		case "proto":
			proto = v
		case "host":
			host = v
		}
	}
	return proto, host
}

// splitQuoted splits s at sep outside double-quoted strings.
func splitQuoted(s string, sep byte) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// lastListElement returns the last element of comma-separated header values.
func lastListElement(vals []string) string {
	if len(vals) == 0 {
		return ""
	}
	v := vals[len(vals)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}
