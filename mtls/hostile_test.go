package mtls

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHostileForwardedCertificates walks the attacks on finding the client
// certificate, one row per attack: forged forwarded headers, smuggled
// values, disagreeing XFCC members and thumbprint look-alikes.
func TestHostileForwardedCertificates(t *testing.T) {
	fx := fixtures(t)
	client, attacker, proxyCert := fx.ecSelf, fx.another, fx.rsaSelf
	hexHash := func(c testCert) string {
		s := sha256.Sum256(c.cert.Raw)
		return hex.EncodeToString(s[:])
	}
	trusted := []Option{WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8"))}
	src := func(t *testing.T, f HeaderFormat, opts ...Option) *Source {
		s, err := NewSource(append(append([]Option{WithForwardedHeader("X-Client-Cert", f)}, trusted...), opts...)...)
		require.NoError(t, err)
		return s
	}
	req := func(remote string, tlsCert *testCert, headers ...string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "https://api.example.com/", nil)
		r.RemoteAddr = remote
		r.TLS = &tls.ConnectionState{}
		if tlsCert != nil {
			r.TLS.PeerCertificates = []*x509.Certificate{tlsCert.cert}
		}
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Add(headers[i], headers[i+1])
		}
		return r
	}
	const untrusted, proxyAddr = "192.0.2.7:4444", "10.1.2.3:4444"

	rows := []struct {
		class, attacks string
		format         HeaderFormat
		opts           []Option
		r              *http.Request
		want           error  // nil: accepted
		thumb          string // the thumbprint that must be found when accepted
	}{
		{"forwarded spoofing", "client sends a certificate header directly (no TLS cert)", EscapedPEM, nil,
			req(untrusted, nil, "X-Client-Cert", fullEscape(attacker.pem())), ErrNoCertificate, ""},
		{"forwarded spoofing", "client with its own TLS cert also sends another in the header", EscapedPEM, nil,
			req(untrusted, &client, "X-Client-Cert", fullEscape(attacker.pem())), nil, Thumbprint(client.cert)},
		{"forwarded spoofing", "client sends an XFCC Hash directly", XFCC, nil,
			req(untrusted, nil, "X-Client-Cert", "Hash="+hexHash(attacker)), ErrNoCertificate, ""},
		{"forwarded spoofing", "trusted proxy's own TLS cert is not the client's", EscapedPEM, nil,
			req(proxyAddr, &proxyCert), ErrNoCertificate, ""},
		{"forwarded spoofing", "control: trusted proxy forwards the client cert", EscapedPEM, nil,
			req(proxyAddr, &proxyCert, "X-Client-Cert", fullEscape(client.pem())), nil, Thumbprint(client.cert)},
		{"forwarded spoofing", "proxy's verification header missing", EscapedPEM, []Option{WithVerifiedHeader("X-Verified", "SUCCESS")},
			req(proxyAddr, nil, "X-Client-Cert", fullEscape(client.pem())), ErrNotVerified, ""},
		{"forwarded spoofing", "proxy's verification header says FAILED", EscapedPEM, []Option{WithVerifiedHeader("X-Verified", "SUCCESS")},
			req(proxyAddr, nil, "X-Client-Cert", fullEscape(client.pem()), "X-Verified", "FAILED"), ErrNotVerified, ""},
		{"forwarded spoofing", "verification header sent twice", EscapedPEM, []Option{WithVerifiedHeader("X-Verified", "SUCCESS")},
			req(proxyAddr, nil, "X-Client-Cert", fullEscape(client.pem()), "X-Verified", "SUCCESS", "X-Verified", "SUCCESS"), ErrNotVerified, ""},

		{"header smuggling", "certificate header sent twice", EscapedPEM, nil,
			req(proxyAddr, nil, "X-Client-Cert", fullEscape(client.pem()), "X-Client-Cert", fullEscape(attacker.pem())), ErrMalformedHeader, ""},
		{"header smuggling", "XFCC: client-supplied first element is not used", XFCC, nil,
			req(proxyAddr, nil, "X-Client-Cert", "Hash="+hexHash(attacker)+",Hash="+hexHash(client)), nil, Thumbprint(client.cert)},
		{"header smuggling", "XFCC: client-supplied header line before the proxy's", XFCC, nil,
			req(proxyAddr, nil, "X-Client-Cert", "Hash="+hexHash(attacker), "X-Client-Cert", "Hash="+hexHash(client)), nil, Thumbprint(client.cert)},
		{"header smuggling", "XFCC: unbalanced quote tries to swallow the separator", XFCC, nil,
			req(proxyAddr, nil, "X-Client-Cert", `Subject="x,Hash=`+hexHash(attacker)), ErrMalformedHeader, ""},
		{"header smuggling", "XFCC: Hash repeated in one element", XFCC, nil,
			req(proxyAddr, nil, "X-Client-Cert", "Hash="+hexHash(client)+";Hash="+hexHash(attacker)), ErrMalformedHeader, ""},
		{"header smuggling", "XFCC: Cert and Hash disagree", XFCC, nil,
			req(proxyAddr, nil, "X-Client-Cert", `Hash=`+hexHash(attacker)+`;Cert="`+fullEscape(client.pem())+`"`), ErrMalformedHeader, ""},
		{"header smuggling", "PEM with a private key block after the certificate", EscapedPEM, nil,
			req(proxyAddr, nil, "X-Client-Cert", fullEscape(client.pem()+"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")), ErrMalformedHeader, ""},
		{"header smuggling", "text before the PEM block", EscapedPEM, nil,
			req(proxyAddr, nil, "X-Client-Cert", fullEscape("junk\n"+client.pem())), ErrMalformedHeader, ""},
		{"header smuggling", "base64 DER with mixed alphabets", Base64DER, nil,
			req(proxyAddr, nil, "X-Client-Cert", "-"+base64.StdEncoding.EncodeToString(client.cert.Raw)[1:]+"+/"), ErrMalformedHeader, ""},
		{"header smuggling", "RFC 9440 without the colons", RFC9440, nil,
			req(proxyAddr, nil, "X-Client-Cert", base64.StdEncoding.EncodeToString(client.cert.Raw)), ErrMalformedHeader, ""},
		{"header smuggling", "DER with trailing bytes", Base64DER, nil,
			req(proxyAddr, nil, "X-Client-Cert", base64.StdEncoding.EncodeToString(append(append([]byte{}, client.cert.Raw...), 0))), ErrMalformedHeader, ""},
	}
	for _, tc := range rows {
		t.Run(tc.class+"/"+tc.attacks, func(t *testing.T) {
			s := src(t, tc.format, tc.opts...)
			got, err := s.Thumbprint(tc.r)
			if tc.want == nil {
				require.NoError(t, err)
				require.Equal(t, tc.thumb, got)
				return
			}
			require.ErrorIs(t, err, tc.want)
			assert.Empty(t, got)
		})
	}

	t.Run("binding bypass/thumbprint look-alikes never match", func(t *testing.T) {
		good := Thumbprint(client.cert)
		sum := sha256.Sum256(client.cert.Raw)
		for name, cnf := range map[string]string{
			"padded":          good + "=",
			"standard base64": base64.StdEncoding.EncodeToString(sum[:]),
			"hex":             hex.EncodeToString(sum[:]),
			"upper case":      strings.ToUpper(good),
			"empty":           "",
			"prefix":          good[:42],
		} {
			assert.False(t, MatchThumbprint(client.cert, cnf), name)
			assert.False(t, EqualThumbprints(good, cnf), name)
		}
		assert.True(t, MatchThumbprint(client.cert, good))
	})
}

// TestForwardedHeaderSizeLimit: a header one byte over WithMaxHeaderSize is
// refused before parsing (also when split across several values), one at
// the limit is parsed, and refusing a huge header costs nothing near its
// size.
func TestForwardedHeaderSizeLimit(t *testing.T) {
	fx := fixtures(t)
	value := fullEscape(fx.ecSelf.pem())
	limit := len(value)
	s, err := NewSource(WithForwardedHeader("X-Client-Cert", XFCC), WithMaxHeaderSize(limit+len("Cert=\"\"")),
		WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8")))
	require.NoError(t, err)
	at := `Cert="` + value + `"`
	r := func(vals ...string) *http.Request {
		req := httptest.NewRequest(http.MethodGet, "https://api.example.com/", nil)
		req.RemoteAddr = "10.0.0.1:1"
		req.Header["X-Client-Cert"] = vals
		return req
	}
	got, err := s.Thumbprint(r(at))
	require.NoError(t, err)
	require.Equal(t, Thumbprint(fx.ecSelf.cert), got)
	_, err = s.Thumbprint(r(at + " "))
	require.ErrorIs(t, err, ErrHeaderTooLarge)
	_, err = s.Thumbprint(r(at[:len(at)/2], at[len(at)/2:]+","))
	require.ErrorIs(t, err, ErrHeaderTooLarge, "the limit applies to all values together")

	dflt, err := NewSource(WithForwardedHeader("X-Client-Cert", EscapedPEM), WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8")))
	require.NoError(t, err)
	big := r(strings.Repeat("%41", 1<<18)) // 768 KiB
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n = 1000
	for range n {
		_, err = dflt.Thumbprint(big)
	}
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, ErrHeaderTooLarge)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d oversized headers of %d bytes: %d bytes allocated", n, 3<<18, alloc)
	assert.Less(t, alloc, uint64(n*(3<<18)/100))
}
