package dpop

import (
	"bytes"
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

var errURI = errors.New("dpop: not an absolute http(s) URI")

// NormalizeURI returns raw in the normal form that RFC 9449 §4.3 (9) compares
// htu values in: syntax-based and scheme-based normalisation (RFC 3986
// §6.2.2, §6.2.3) with the query and fragment dropped. It lowercases the
// scheme and host, drops the default port (80 for http, 443 for https) and an
// empty port, writes other ports without leading zeros, uppercases the hex
// digits of percent-encodings, decodes percent-encoded unreserved characters,
// percent-encodes bytes that may not appear in a path, removes dot segments
// and turns an empty path into "/".
//
// It rejects, with an error wrapping [ErrURL], URIs that are not absolute
// http or https URIs with a host, that carry userinfo, or whose port or
// percent-encoding is invalid. Hosts are limited to DNS-style names (letters,
// digits, "-", ".", "_", "~") and IP literals; IPv6 zones are rejected.
//
// NormalizeURI is idempotent: NormalizeURI(NormalizeURI(x)) equals
// NormalizeURI(x).
func NormalizeURI(raw string) (string, error) {
	n, err := normalizeURI(raw)
	if err != nil {
		return "", errors.Join(ErrURL, err)
	}
	return n, nil
}

func normalizeURI(raw string) (string, error) {
	colon := strings.IndexByte(raw, ':')
	if colon <= 0 {
		return "", errURI
	}
	var scheme string
	switch {
	case strings.EqualFold(raw[:colon], "http"):
		scheme = "http"
	case strings.EqualFold(raw[:colon], "https"):
		scheme = "https"
	default:
		return "", errURI
	}
	rest, ok := strings.CutPrefix(raw[colon+1:], "//")
	if !ok {
		return "", errURI
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, path := rest[:end], rest[end:]
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	host, port, err := normalizeAuthority(authority)
	if err != nil {
		return "", err
	}
	if port == "" || (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	p, err := normalizePath(path)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(len(scheme) + 3 + len(host) + 1 + len(port) + len(p))
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(host)
	if port != "" {
		b.WriteByte(':')
		b.WriteString(port)
	}
	b.WriteString(p)
	return b.String(), nil
}

// normalizeAuthority returns the lowercased host and the port without
// leading zeros (empty when absent).
func normalizeAuthority(a string) (host, port string, err error) {
	if strings.IndexByte(a, '@') >= 0 {
		return "", "", errors.New("dpop: URI has userinfo")
	}
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return "", "", errURI
		}
		ip, err := netip.ParseAddr(a[1:end])
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return "", "", errURI
		}
		host = strings.ToLower(a[:end+1])
		rest := a[end+1:]
		if rest != "" {
			p, ok := strings.CutPrefix(rest, ":")
			if !ok {
				return "", "", errURI
			}
			port = p
		}
	} else {
		host = a
		if i := strings.LastIndexByte(a, ':'); i >= 0 {
			host, port = a[:i], a[i+1:]
		}
		if host == "" {
			return "", "", errURI
		}
		for i := 0; i < len(host); i++ {
			c := host[i]
			if !unreserved(c) {
				return "", "", errURI
			}
		}
		host = strings.ToLower(host)
	}
	if port != "" {
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return "", "", errURI
			}
		}
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return "", "", errURI
		}
		port = strconv.FormatUint(n, 10)
	}
	return host, port, nil
}

// normalizePath normalises percent-encodings and removes dot segments.
func normalizePath(p string) (string, error) {
	if p == "" {
		return "/", nil
	}
	const hexUpper = "0123456789ABCDEF"
	b := make([]byte, 0, len(p)+8)
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '%':
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return "", errors.New("dpop: invalid percent-encoding in URI")
			}
			d := unhex(p[i+1])<<4 | unhex(p[i+2])
			if unreserved(d) {
				b = append(b, d)
			} else {
				b = append(b, '%', hexUpper[d>>4], hexUpper[d&15])
			}
			i += 2
		case unreserved(c) || subDelim(c) || c == ':' || c == '@' || c == '/':
			b = append(b, c)
		default:
			b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
		}
	}
	out := removeDotSegments(b)
	if len(out) == 0 {
		return "/", nil
	}
	return string(out), nil
}

var (
	dotSlash         = []byte("./")
	dotDotSlash      = []byte("../")
	slashDot         = []byte("/.")
	slashDotSlash    = []byte("/./")
	slashDotDot      = []byte("/..")
	slashDotDotSlash = []byte("/../")
)

// removeDotSegments is RFC 3986 §5.2.4 on a path that starts with "/".
func removeDotSegments(in []byte) []byte {
	out := make([]byte, 0, len(in))
	dropLast := func() {
		i := len(out) - 1
		for i >= 0 && out[i] != '/' {
			i--
		}
		if i < 0 {
			i = 0
		}
		out = out[:i]
	}
	for len(in) > 0 {
		switch {
		case bytes.HasPrefix(in, dotDotSlash):
			in = in[3:]
		case bytes.HasPrefix(in, dotSlash):
			in = in[2:]
		case bytes.HasPrefix(in, slashDotSlash):
			in = in[2:]
		case bytes.Equal(in, slashDot):
			in = in[:1]
		case bytes.HasPrefix(in, slashDotDotSlash):
			in = in[3:]
			dropLast()
		case bytes.Equal(in, slashDotDot):
			in = in[2:]
			in[0] = '/'
			dropLast()
		case bytes.Equal(in, dotSlash[:1]) || bytes.Equal(in, dotDotSlash[:2]):
			in = in[:0]
		default:
			j := 0
			if in[0] == '/' {
				j = 1
			}
			for j < len(in) && in[j] != '/' {
				j++
			}
			out = append(out, in[:j]...)
			in = in[j:]
		}
	}
	return out
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func subDelim(c byte) bool {
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=':
		return true
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
