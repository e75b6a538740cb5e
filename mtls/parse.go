package mtls

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
)

// forwarded is what a proxy header says about the client certificate: the
// certificate itself, or (Envoy XFCC with only Hash) just its SHA-256 digest.
type forwarded struct {
	cert *x509.Certificate // nil when only the digest was forwarded
	sum  [sha256.Size]byte // SHA-256 of the certificate's DER
}

func certForwarded(cert *x509.Certificate) forwarded {
	return forwarded{cert: cert, sum: sha256.Sum256(cert.Raw)}
}

// parseHeader parses one (non-empty) header value in format f.
func parseHeader(f HeaderFormat, v string) (forwarded, error) {
	switch f {
	case XFCC:
		return parseXFCC(v)
	case EscapedPEM:
		return parseEscapedPEM(v)
	case Base64DER:
		return parseBase64DER(v)
	case RFC9440:
		return parseRFC9440(v)
	}
	return forwarded{}, fmt.Errorf("unknown header format %d: %w", f, ErrMalformedHeader)
}

// parseEscapedPEM parses a URL-encoded PEM certificate, or a URL-encoded
// PEM chain whose first certificate is the client's (AWS ALB passthrough).
//
// Percent-escapes are decoded as in a URL path: '+' stays '+', since AWS ALB
// leaves "+=/" unescaped and '+' is a base64 character. Form encoding, where
// '+' stands for a space, is not supported.
func parseEscapedPEM(v string) (forwarded, error) {
	cert, err := escapedPEMLeaf(v, true)
	if err != nil {
		return forwarded{}, err
	}
	return certForwarded(cert), nil
}

// escapedPEMLeaf decodes v and returns its first certificate. Only
// CERTIFICATE blocks without PEM headers and surrounding whitespace are
// allowed; allowChain permits further blocks after the first.
func escapedPEMLeaf(v string, allowChain bool) (*x509.Certificate, error) {
	s, err := url.PathUnescape(v)
	if err != nil {
		return nil, fmt.Errorf("percent-encoding: %w", ErrMalformedHeader)
	}
	rest := bytes.TrimLeft([]byte(s), " \t\r\n")
	var leaf []byte
	for n := 0; len(rest) > 0; n++ {
		if !bytes.HasPrefix(rest, []byte("-----BEGIN CERTIFICATE-----")) {
			return nil, fmt.Errorf("PEM: data outside a certificate block: %w", ErrMalformedHeader)
		}
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil || block.Type != "CERTIFICATE" || len(block.Headers) != 0 {
			return nil, fmt.Errorf("PEM: not a certificate block: %w", ErrMalformedHeader)
		}
		if n == 0 {
			leaf = block.Bytes
		} else if !allowChain {
			return nil, fmt.Errorf("PEM: more than one certificate: %w", ErrMalformedHeader)
		}
		rest = bytes.TrimLeft(rest, " \t\r\n")
	}
	if leaf == nil {
		return nil, fmt.Errorf("PEM: no certificate: %w", ErrMalformedHeader)
	}
	return parseDER(leaf)
}

// parseBase64DER parses base64 of the certificate's DER bytes. Both the
// standard and the URL-safe alphabet are accepted, with or without padding,
// but strictly: one alphabet, canonical encoding, no whitespace.
func parseBase64DER(v string) (forwarded, error) {
	enc := base64.StdEncoding
	if strings.ContainsAny(v, "-_") {
		if strings.ContainsAny(v, "+/") {
			return forwarded{}, fmt.Errorf("base64: mixed alphabets: %w", ErrMalformedHeader)
		}
		enc = base64.URLEncoding
	}
	if !strings.HasSuffix(v, "=") {
		enc = enc.WithPadding(base64.NoPadding)
	}
	return decodeDER(enc.Strict(), v)
}

// parseRFC9440 parses an RFC 9440 Client-Cert field: the DER bytes as an
// RFC 8941 Byte Sequence, ":" standard base64 ":".
func parseRFC9440(v string) (forwarded, error) {
	b64, ok := strings.CutPrefix(v, ":")
	if ok {
		b64, ok = strings.CutSuffix(b64, ":")
	}
	if !ok || strings.ContainsAny(b64, "-_") {
		return forwarded{}, fmt.Errorf("RFC 9440: not a byte sequence: %w", ErrMalformedHeader)
	}
	enc := base64.StdEncoding
	if !strings.HasSuffix(b64, "=") {
		enc = enc.WithPadding(base64.NoPadding)
	}
	return decodeDER(enc.Strict(), b64)
}

func decodeDER(enc *base64.Encoding, v string) (forwarded, error) {
	// encoding/base64 skips '\r' and '\n' even in strict mode.
	if strings.ContainsAny(v, "\r\n") {
		return forwarded{}, fmt.Errorf("base64: line break: %w", ErrMalformedHeader)
	}
	der, err := enc.DecodeString(v)
	if err != nil {
		return forwarded{}, fmt.Errorf("base64: %w", ErrMalformedHeader)
	}
	cert, err := parseDER(der)
	if err != nil {
		return forwarded{}, err
	}
	return certForwarded(cert), nil
}

func parseDER(der []byte) (*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		// The parser's message may quote certificate contents; keep only
		// the category.
		return nil, fmt.Errorf("certificate does not parse: %w", ErrMalformedHeader)
	}
	return cert, nil
}

// parseXFCC parses an Envoy x-forwarded-client-cert value and returns what
// its last element (the one added by the nearest proxy) says about the
// client certificate: Cert, else the first certificate of Chain, else Hash.
// When several of them are present they must agree.
func parseXFCC(v string) (forwarded, error) {
	elem, err := lastXFCCElement(v)
	if err != nil {
		return forwarded{}, err
	}
	var certV, chainV, hashV string
	var haveCert, haveChain, haveHash bool
	for pair := range splitTop(elem, ';') {
		key, raw, ok := cutTop(pair, '=')
		key = strings.TrimSpace(key)
		if !ok || key == "" || !isToken(key) {
			return forwarded{}, fmt.Errorf("XFCC: bad key-value pair: %w", ErrMalformedHeader)
		}
		val, err := xfccValue(strings.TrimSpace(raw))
		if err != nil {
			return forwarded{}, err
		}
		var dst *string
		var seen *bool
		switch {
		case strings.EqualFold(key, "Cert"):
			dst, seen = &certV, &haveCert
		case strings.EqualFold(key, "Chain"):
			dst, seen = &chainV, &haveChain
		case strings.EqualFold(key, "Hash"):
			dst, seen = &hashV, &haveHash
		default:
			continue // By, Subject, URI, DNS and others are not needed.
		}
		if *seen {
			return forwarded{}, fmt.Errorf("XFCC: repeated Cert, Chain or Hash: %w", ErrMalformedHeader)
		}
		*dst, *seen = val, true
	}

	var fw forwarded
	if haveCert {
		cert, err := escapedPEMLeaf(certV, false)
		if err != nil {
			return forwarded{}, fmt.Errorf("XFCC Cert: %w", err)
		}
		fw = certForwarded(cert)
	}
	if haveChain {
		leaf, err := escapedPEMLeaf(chainV, true)
		if err != nil {
			return forwarded{}, fmt.Errorf("XFCC Chain: %w", err)
		}
		if fw.cert == nil {
			fw = certForwarded(leaf)
		} else if !bytes.Equal(fw.cert.Raw, leaf.Raw) {
			return forwarded{}, fmt.Errorf("XFCC: Cert is not the first certificate of Chain: %w", ErrMalformedHeader)
		}
	}
	if haveHash {
		var sum [sha256.Size]byte
		if len(hashV) != hex.EncodedLen(len(sum)) {
			return forwarded{}, fmt.Errorf("XFCC Hash: not a SHA-256 digest: %w", ErrMalformedHeader)
		}
		if _, err := hex.Decode(sum[:], []byte(hashV)); err != nil {
			return forwarded{}, fmt.Errorf("XFCC Hash: not hexadecimal: %w", ErrMalformedHeader)
		}
		if fw.cert == nil {
			fw.sum = sum
		} else if fw.sum != sum {
			return forwarded{}, fmt.Errorf("XFCC: Hash does not match Cert: %w", ErrMalformedHeader)
		}
	}
	if !haveCert && !haveChain && !haveHash {
		return forwarded{}, fmt.Errorf("XFCC: no Cert, Chain or Hash in the nearest element: %w", ErrNoCertificate)
	}
	return fw, nil
}

// lastXFCCElement returns the last top-level ','-separated element of v,
// checking that quotes are balanced over the whole value: an unbalanced
// quote in an earlier element must not be able to swallow the separator
// before the element that the nearest proxy appended.
func lastXFCCElement(v string) (string, error) {
	start := 0
	inQuote := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case inQuote && c == '\\':
			i++ // the escaped byte is data
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == ',':
			start = i + 1
		}
	}
	if inQuote {
		return "", fmt.Errorf("XFCC: unbalanced quotes: %w", ErrMalformedHeader)
	}
	elem := strings.TrimSpace(v[start:])
	if elem == "" {
		return "", fmt.Errorf("XFCC: empty element: %w", ErrMalformedHeader)
	}
	return elem, nil
}

// splitTop yields the sep-separated parts of s outside double quotes.
// s has balanced quotes (see lastXFCCElement).
func splitTop(s string, sep byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		start := 0
		inQuote := false
		for i := 0; i < len(s); i++ {
			switch c := s[i]; {
			case inQuote && c == '\\':
				i++
			case c == '"':
				inQuote = !inQuote
			case !inQuote && c == sep:
				if !yield(s[start:i]) {
					return
				}
				start = i + 1
			}
		}
		yield(s[start:])
	}
}

// cutTop is strings.Cut at the first sep outside double quotes.
func cutTop(s string, sep byte) (before, after string, found bool) {
	for part := range splitTop(s, sep) {
		if len(part) == len(s) {
			return s, "", false
		}
		return part, s[len(part)+1:], true
	}
	return s, "", false
}

// xfccValue returns the value of an XFCC pair: either bare (no quotes,
// separators or backslashes; '=' is tolerated since the pair was cut at its
// first '=') or double-quoted with backslash escapes.
func xfccValue(raw string) (string, error) {
	if !strings.HasPrefix(raw, `"`) {
		if strings.ContainsAny(raw, "\"\\,;") {
			return "", fmt.Errorf("XFCC: special character in a bare value: %w", ErrMalformedHeader)
		}
		return raw, nil
	}
	if len(raw) < 2 || raw[len(raw)-1] != '"' {
		return "", fmt.Errorf("XFCC: bad quoted value: %w", ErrMalformedHeader)
	}
	body := raw[1 : len(raw)-1]
	if !strings.ContainsAny(body, `"\`) {
		return body, nil
	}
	var b strings.Builder
	b.Grow(len(body))
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch c {
		case '\\':
			i++
			if i == len(body) {
				return "", fmt.Errorf("XFCC: dangling escape: %w", ErrMalformedHeader)
			}
			c = body[i]
		case '"':
			return "", fmt.Errorf("XFCC: quote inside a quoted value: %w", ErrMalformedHeader)
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return s != ""
}
