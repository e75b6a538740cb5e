package mtls

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/senderbound/senderbound/internal/proxy"
)

// Errors returned by this package; check them with errors.Is.
var (
	// ErrNoCertificate: the request carries no client certificate that this
	// Source may use.
	ErrNoCertificate = errors.New("mtls: no client certificate")
	// ErrMalformedHeader: a trusted proxy's certificate header does not
	// parse in the configured format.
	ErrMalformedHeader = errors.New("mtls: malformed client certificate header")
	// ErrHeaderTooLarge: a trusted proxy's certificate header exceeds the
	// configured size limit; it was not parsed.
	ErrHeaderTooLarge = errors.New("mtls: client certificate header too large")
	// ErrNotVerified: a certificate was forwarded but the proxy's
	// verification header (see WithVerifiedHeader) does not report success.
	ErrNotVerified = errors.New("mtls: forwarded client certificate not verified by the proxy")
	// ErrInvalidOption: NewSource was given an invalid configuration.
	ErrInvalidOption = errors.New("mtls: invalid option")
	// ErrUntrustedForwarder joins ErrNoCertificate when the request carried
	// the forwarded certificate header but came from an address that is not
	// a trusted proxy, so the header was ignored: the sign of a proxy
	// missing from WithTrustedProxies (or of a client forging the header).
	ErrUntrustedForwarder = errors.New("mtls: forwarded certificate header ignored: sender is not a trusted proxy")
)

// HeaderFormat is how a proxy encodes the client certificate in a header.
type HeaderFormat int

const (
	// XFCC is Envoy's x-forwarded-client-cert: ','-separated elements, one
	// per proxy, each a ';'-separated list of key=value pairs (values
	// double-quoted with backslash escapes when they contain ',', ';' or
	// '='). Only the last element, appended by the nearest proxy, is used.
	// Its Cert (URL-encoded PEM) is the client certificate; without Cert, the
	// first certificate of Chain; without either, Hash (hex SHA-256 of the
	// DER), which [Source.Thumbprint] accepts but [Source.Certificate] cannot
	// turn into a certificate. Keys present together must agree.
	XFCC HeaderFormat = iota + 1
	// EscapedPEM is a URL-encoded PEM certificate: nginx's
	// $ssl_client_escaped_cert, AWS ALB's X-Amzn-Mtls-Clientcert-Leaf
	// (verify mode) and X-Amzn-Mtls-Clientcert (passthrough mode, the whole
	// chain: the first certificate is used), CloudFront's
	// CloudFront-Viewer-Cert-Pem, and the client-certificate header of an
	// Auth0 customer edge. '+' is a literal '+', not a space.
	EscapedPEM
	// Base64DER is base64 of the certificate's DER bytes, standard or
	// URL-safe alphabet, padded or not, but canonical and without
	// whitespace.
	Base64DER
	// RFC9440 is the Client-Cert field of RFC 9440 (HAProxy, Cloudflare):
	// the DER bytes as a structured-field Byte Sequence, ":base64:".
	RFC9440
)

// String returns the format's name.
func (f HeaderFormat) String() string {
	switch f {
	case XFCC:
		return "XFCC"
	case EscapedPEM:
		return "EscapedPEM"
	case Base64DER:
		return "Base64DER"
	case RFC9440:
		return "RFC9440"
	}
	return fmt.Sprintf("HeaderFormat(%d)", int(f))
}

// DefaultMaxHeaderSize is the default limit on the size of a forwarded
// certificate header: enough for a PEM chain of a few RSA-4096 certificates.
const DefaultMaxHeaderSize = 16 << 10

type config struct {
	header     string
	format     HeaderFormat
	trusted    []netip.Prefix
	proxies    bool // WithTrustedProxies named at least one prefix
	verified   string
	verifiedOK string
	maxSize    int
	errs       []error
}

// Option configures a Source.
type Option func(*config)

// WithForwardedHeader names the header in which a trusted proxy forwards the
// client certificate, and its format. The header is honoured only from the
// addresses given to WithTrustedProxies, which is therefore required with it.
func WithForwardedHeader(name string, format HeaderFormat) Option {
	return func(c *config) {
		switch {
		case name == "" || !isToken(name):
			c.errs = append(c.errs, fmt.Errorf("forwarded header name %q is not a header name: %w", name, ErrInvalidOption))
		case format < XFCC || format > RFC9440:
			c.errs = append(c.errs, fmt.Errorf("unknown %v: %w", format, ErrInvalidOption))
		}
		c.header, c.format = http.CanonicalHeaderKey(name), format
	}
}

// WithTrustedProxies sets the addresses of the proxies whose forwarded
// header is honoured (compared with http.Request.RemoteAddr). By default
// none is trusted. Requests from a trusted address take their certificate
// only from the header (see [Source.Certificate]), so list proxies here, not
// clients: a prefix that holds every address (0.0.0.0/0, ::/0,
// ::ffff:0:0/96) would let any client forge a certificate and is refused.
func WithTrustedProxies(prefixes ...netip.Prefix) Option {
	return func(c *config) {
		c.proxies = c.proxies || len(prefixes) > 0
		for _, p := range prefixes {
			if !p.IsValid() {
				c.errs = append(c.errs, fmt.Errorf("trusted proxy prefix %v is not valid: %w", p, ErrInvalidOption))
				continue
			}
			if everyAddress(p) {
				c.errs = append(c.errs, fmt.Errorf("trusted proxy prefix %v holds every client address, so any client could forge a certificate: %w", p, ErrInvalidOption))
				continue
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				// Remote addresses are compared unmapped.
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			c.trusted = append(c.trusted, p.Masked())
		}
	}
}

// everyAddress reports whether p holds every IPv4 or every IPv6 address:
// a prefix of length 0, or an IPv6 prefix holding all of ::ffff:0:0/96
// (the IPv4-mapped addresses).
func everyAddress(p netip.Prefix) bool {
	mapped := netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff}) // ::ffff:0.0.0.0
	return p.Bits() == 0 || (p.Addr().Is6() && p.Bits() <= 96 && p.Contains(mapped))
}

// WithVerifiedHeader makes a forwarded certificate usable only when the
// trusted proxy also sent header name with exactly the value okValue, for
// example ("client-certificate-ca-verified", "SUCCESS") behind an Auth0
// customer edge. Otherwise Certificate returns ErrNotVerified.
func WithVerifiedHeader(name, okValue string) Option {
	return func(c *config) {
		if name == "" || !isToken(name) {
			c.errs = append(c.errs, fmt.Errorf("verified header name %q is not a header name: %w", name, ErrInvalidOption))
		}
		if okValue == "" {
			c.errs = append(c.errs, fmt.Errorf("verified header needs a non-empty success value: %w", ErrInvalidOption))
		}
		c.verified, c.verifiedOK = http.CanonicalHeaderKey(name), okValue
	}
}

// WithMaxHeaderSize limits the total size in bytes of the forwarded
// certificate header's values; a larger header is rejected with
// ErrHeaderTooLarge before parsing. The default is DefaultMaxHeaderSize.
func WithMaxHeaderSize(n int) Option {
	return func(c *config) {
		if n <= 0 {
			c.errs = append(c.errs, fmt.Errorf("max header size %d is not positive: %w", n, ErrInvalidOption))
		}
		c.maxSize = n
	}
}

// Source finds the client certificate of a request: on the TLS connection,
// or in a header set by a trusted proxy. It never modifies the request.
// A Source is safe for concurrent use.
type Source struct {
	header     string
	format     HeaderFormat
	trusted    []netip.Prefix
	verified   string
	verifiedOK string
	maxSize    int
	conns      connCerts // thumbprints of the live connections' certificates
}

// NewSource returns a Source. Without options it uses only the TLS
// connection's client certificate. All option errors are reported together;
// each wraps ErrInvalidOption.
func NewSource(opts ...Option) (*Source, error) {
	c := config{maxSize: DefaultMaxHeaderSize}
	for _, o := range opts {
		o(&c)
	}
	if len(c.trusted) > 0 && c.header == "" {
		c.errs = append(c.errs, fmt.Errorf("trusted proxies without WithForwardedHeader: %w", ErrInvalidOption))
	}
	if c.header != "" && !c.proxies {
		c.errs = append(c.errs, fmt.Errorf("WithForwardedHeader without WithTrustedProxies: the header would never be honoured: %w", ErrInvalidOption))
	}
	if c.verified != "" && c.header == "" {
		c.errs = append(c.errs, fmt.Errorf("WithVerifiedHeader without WithForwardedHeader: %w", ErrInvalidOption))
	}
	if c.verified != "" && c.verified == c.header {
		c.errs = append(c.errs, fmt.Errorf("verified header and forwarded header are both %q: %w", c.header, ErrInvalidOption))
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	return &Source{
		header:     c.header,
		format:     c.format,
		trusted:    c.trusted,
		verified:   c.verified,
		verifiedOK: c.verifiedOK,
		maxSize:    c.maxSize,
	}, nil
}

// Certificate returns the client certificate of r.
//
// When r comes from a trusted proxy (its RemoteAddr lies in a prefix given to
// WithTrustedProxies), the certificate is taken only from the forwarded
// header: the proxy terminated the client's TLS, and a certificate on the
// proxy's own connection to this server identifies the proxy, not the
// client, so it is never used in its place. An absent header then means
// ErrNoCertificate.
//
// Otherwise the forwarded header is ignored, as if absent (not an error),
// and the certificate is the first one the client presented on this TLS
// connection, or ErrNoCertificate (joined with ErrUntrustedForwarder when
// the ignored header was present, so that a log can say why).
//
// Errors wrap ErrNoCertificate, ErrMalformedHeader, ErrHeaderTooLarge or
// ErrNotVerified. For an XFCC header that carries only a Hash, Certificate
// returns ErrNoCertificate; use [Source.Thumbprint].
func (s *Source) Certificate(r *http.Request) (*x509.Certificate, error) {
	fw, fromProxy, err := s.find(r)
	if err != nil {
		return nil, err
	}
	if !fromProxy {
		return r.TLS.PeerCertificates[0], nil
	}
	if fw.cert == nil {
		return nil, fmt.Errorf("the proxy forwarded only a hash (use Source.Thumbprint): %w", ErrNoCertificate)
	}
	return fw.cert, nil
}

// Thumbprint returns the "x5t#S256" thumbprint of r's client certificate,
// found as by [Source.Certificate]. Unlike Certificate it also accepts an
// XFCC header that carries only a Hash, so the middleware should prefer it
// and compare with [EqualThumbprints].
func (s *Source) Thumbprint(r *http.Request) (string, error) {
	fw, fromProxy, err := s.find(r)
	if err != nil {
		return "", err
	}
	if !fromProxy {
		return s.conns.thumbprint(r.TLS.PeerCertificates[0]), nil
	}
	return encodeSum(&fw.sum), nil
}

// find returns the forwarded certificate when r comes from a trusted proxy
// (fromProxy), else checks that the connection has a client certificate.
func (s *Source) find(r *http.Request) (fw forwarded, fromProxy bool, err error) {
	if s.header == "" || !proxy.Trusted(r.RemoteAddr, s.trusted) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0] == nil {
			if s.header != "" && len(r.Header[s.header]) > 0 {
				return forwarded{}, false, fmt.Errorf("%w: %w", ErrNoCertificate, ErrUntrustedForwarder)
			}
			return forwarded{}, false, ErrNoCertificate
		}
		return forwarded{}, false, nil
	}
	fw, err = s.fromHeader(r.Header)
	return fw, true, err
}

func (s *Source) fromHeader(h http.Header) (forwarded, error) {
	vals := h[s.header]
	size := 0
	for _, v := range vals {
		size += len(v)
	}
	if size > s.maxSize {
		return forwarded{}, fmt.Errorf("%s header of %d bytes: %w", s.header, size, ErrHeaderTooLarge)
	}
	var v string
	switch {
	case size == 0:
		// Absent, or empty as nginx sends $ssl_client_escaped_cert
		// without a client certificate.
		return forwarded{}, ErrNoCertificate
	case len(vals) == 1:
		v = vals[0]
	case s.format == XFCC:
		// Field lines of a list header combine with commas (RFC 9110
		// §5.3), so the nearest proxy's element stays the last one.
		v = strings.Join(vals, ",")
	default:
		return forwarded{}, fmt.Errorf("%s header sent %d times: %w", s.header, len(vals), ErrMalformedHeader)
	}
	if s.verified != "" {
		ok := h[s.verified]
		if len(ok) != 1 || ok[0] != s.verifiedOK {
			return forwarded{}, ErrNotVerified
		}
	}
	fw, err := parseHeader(s.format, v)
	if err != nil {
		return forwarded{}, fmt.Errorf("%s header: %w", s.header, err)
	}
	return fw, nil
}
