package mtls

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fuzzSources returns, for format f, a Source that trusts 10.0.0.0/8 and
// reads the forwarded certificate from X-Client-Cert.
func fuzzSource(t testing.TB, f HeaderFormat) *Source {
	t.Helper()
	s, err := NewSource(WithForwardedHeader("X-Client-Cert", f),
		WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8")))
	require.NoError(t, err)
	return s
}

// fuzzForwarded runs one fuzzed header value through a Source, from a
// trusted proxy and from an untrusted address, and checks the properties
// that hold for every format:
//   - from an untrusted address the header is never read;
//   - every error wraps one of the package's sentinels and never quotes the
//     header;
//   - an accepted value names a certificate (or, XFCC only, a hash) whose
//     thumbprint is what Thumbprint returns, and Certificate agrees.
//
// It returns the accepted thumbprint ("" when refused).
func fuzzForwarded(t *testing.T, s *Source, value string) string {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "https://api.example.com/", nil)
	r.Header["X-Client-Cert"] = []string{value}

	r.RemoteAddr = "192.0.2.1:1234"
	_, err := s.Thumbprint(r)
	require.ErrorIs(t, err, ErrNoCertificate, "header read from an untrusted address")

	r.RemoteAddr = "10.1.2.3:1234"
	got, err := s.Thumbprint(r)
	if err != nil {
		require.True(t, errors.Is(err, ErrMalformedHeader) || errors.Is(err, ErrNoCertificate) ||
			errors.Is(err, ErrHeaderTooLarge), "unexpected error %v", err)
		if len(value) >= 16 {
			require.NotContains(t, err.Error(), value)
		}
		return ""
	}
	require.Len(t, got, 43)
	_, err = base64.RawURLEncoding.Strict().DecodeString(got)
	require.NoError(t, err)
	if cert, err := s.Certificate(r); err == nil {
		sum := sha256.Sum256(cert.Raw)
		require.Equal(t, base64.RawURLEncoding.EncodeToString(sum[:]), got)
		require.True(t, MatchThumbprint(cert, got))
	} else {
		require.ErrorIs(t, err, ErrNoCertificate) // XFCC Hash only
	}
	return got
}

func thumbOf(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// firstPEMThumb decodes the first PEM certificate block of s, independently
// of the package's parser.
func firstPEMThumb(s string) (string, bool) {
	b, _ := pem.Decode([]byte(strings.TrimLeft(s, " \t\r\n")))
	if b == nil || b.Type != "CERTIFICATE" {
		return "", false
	}
	return thumbOf(b.Bytes), true
}

func FuzzEscapedPEM(f *testing.F) {
	fx := fixtures(f)
	f.Add(fullEscape(fx.ecSelf.pem()))
	f.Add(albEscape(fx.rsaSelf.pem()))
	f.Add(albEscape(fx.ecCA.pem() + fx.ca.pem()))
	f.Add(url.QueryEscape(fx.ecSelf.pem()))
	f.Add("-----BEGIN CERTIFICATE-----%0AAAAA%0A-----END CERTIFICATE-----%0A")
	f.Add("%ZZ")
	s := fuzzSource(f, EscapedPEM)
	f.Fuzz(func(t *testing.T, value string) {
		got := fuzzForwarded(t, s, value)
		if got == "" {
			return
		}
		// Independently: the value unescapes to PEM whose first block is
		// the certificate accepted.
		plain, err := url.PathUnescape(value)
		require.NoError(t, err)
		want, ok := firstPEMThumb(plain)
		require.True(t, ok, "accepted %q without a PEM certificate", value)
		require.Equal(t, want, got)
	})
}

func FuzzBase64DER(f *testing.F) {
	fx := fixtures(f)
	der := fx.ecSelf.cert.Raw
	f.Add(base64.StdEncoding.EncodeToString(der))
	f.Add(base64.RawStdEncoding.EncodeToString(der))
	f.Add(base64.URLEncoding.EncodeToString(fx.rsaSelf.cert.Raw))
	f.Add(base64.RawURLEncoding.EncodeToString(der))
	f.Add(base64.StdEncoding.EncodeToString(der)[:40] + "\n" + base64.StdEncoding.EncodeToString(der)[40:])
	f.Add("-_+/")
	s := fuzzSource(f, Base64DER)
	f.Fuzz(func(t *testing.T, value string) {
		got := fuzzForwarded(t, s, value)
		if got == "" {
			return
		}
		// Independently: exactly one strict base64 alphabet decodes it to
		// the DER that was accepted.
		var want string
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.Strict().DecodeString(value); err == nil {
				want = thumbOf(b)
				break
			}
		}
		require.Equal(t, want, got, "accepted %q", value)
	})
}

func FuzzRFC9440(f *testing.F) {
	fx := fixtures(f)
	f.Add(":" + base64.StdEncoding.EncodeToString(fx.ecSelf.cert.Raw) + ":")
	f.Add(":" + base64.StdEncoding.EncodeToString(fx.rsaCA.cert.Raw) + ":")
	f.Add(":" + base64.URLEncoding.EncodeToString(fx.ecSelf.cert.Raw) + ":")
	f.Add(base64.StdEncoding.EncodeToString(fx.ecSelf.cert.Raw))
	f.Add("::")
	s := fuzzSource(f, RFC9440)
	f.Fuzz(func(t *testing.T, value string) {
		got := fuzzForwarded(t, s, value)
		if got == "" {
			return
		}
		// Independently: an RFC 8941 Byte Sequence, ":" base64 ":".
		require.True(t, len(value) >= 2 && value[0] == ':' && value[len(value)-1] == ':', "accepted %q", value)
		inner := value[1 : len(value)-1]
		b, err := base64.StdEncoding.Strict().DecodeString(inner)
		if err != nil {
			b, err = base64.RawStdEncoding.Strict().DecodeString(inner)
		}
		require.NoError(t, err, "accepted %q", value)
		require.Equal(t, thumbOf(b), got)
	})
}

func FuzzXFCC(f *testing.F) {
	fx := fixtures(f)
	ec, rsa := fx.ecSelf, fx.rsaSelf
	hash := func(c testCert) string {
		s := sha256.Sum256(c.cert.Raw)
		return hex.EncodeToString(s[:])
	}
	f.Add(`By=spiffe://proxy;Hash=` + hash(ec) + `;Cert="` + fullEscape(ec.pem()) + `";Subject="CN=x,O=y"`)
	f.Add(`Hash=` + hash(rsa) + `;Cert="` + fullEscape(rsa.pem()) + `",Hash=` + hash(ec))
	f.Add(`Cert="` + fullEscape(ec.pem()) + `",Hash=` + hash(rsa))
	f.Add(`Hash=` + strings.ToUpper(hash(ec)))
	f.Add(`Chain="` + fullEscape(fx.ecCA.pem()+fx.ca.pem()) + `"`)
	f.Add(`Subject="a\"b;c=d,e";Hash=` + hash(ec))
	f.Add(`Hash="` + hash(ec) + `,Hash=` + hash(rsa))
	f.Add(`Hash=` + hash(ec) + `;Hash=` + hash(rsa))
	f.Add(`Cert="` + fullEscape(ec.pem()) + `";Hash=` + hash(rsa))
	s := fuzzSource(f, XFCC)
	f.Fuzz(func(t *testing.T, value string) {
		got := fuzzForwarded(t, s, value)
		if got == "" {
			return
		}
		// Independently: the accepted thumbprint is either a Hash written
		// in the value, or that of a PEM certificate written in it.
		sum, err := base64.RawURLEncoding.DecodeString(got)
		require.NoError(t, err)
		if strings.Contains(strings.ToLower(value), hex.EncodeToString(sum)) {
			return
		}
		plain, err := url.PathUnescape(strings.ReplaceAll(value, `\`, ""))
		if err != nil {
			plain = value
		}
		found := false
		for rest := []byte(plain); ; {
			i := strings.Index(string(rest), "-----BEGIN CERTIFICATE-----")
			if i < 0 {
				break
			}
			var b *pem.Block
			b, rest = pem.Decode(rest[i:])
			if b == nil {
				break
			}
			if thumbOf(b.Bytes) == got {
				found = true
				break
			}
		}
		require.True(t, found, "accepted thumbprint %s names no certificate or hash in %q", got, value)
	})
}
