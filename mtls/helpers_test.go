package mtls

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testCert is a certificate with its key, and its issuer (itself when
// self-signed).
type testCert struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func (c testCert) tls() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.cert.Raw}, PrivateKey: c.key, Leaf: c.cert}
}

func (c testCert) pem() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw}))
}

var serial struct {
	sync.Mutex
	n int64
}

func nextSerial() *big.Int {
	serial.Lock()
	defer serial.Unlock()
	serial.n++
	return big.NewInt(serial.n)
}

func newKey(t testing.TB, rsaKey bool) crypto.Signer {
	t.Helper()
	if rsaKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		return k
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

// newCert issues a certificate for cn. issuer nil => self-signed. isCA
// makes a CA; server adds a 127.0.0.1 SAN for serving TLS.
func newCert(t testing.TB, cn string, rsaKey bool, issuer *testCert, isCA, server bool) testCert {
	t.Helper()
	key := newKey(t, rsaKey)
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	if isCA {
		tmpl.IsCA = true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		tmpl.ExtKeyUsage = nil
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	parent, signer := tmpl, key
	if issuer != nil {
		parent, signer = issuer.cert, issuer.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return testCert{cert: cert, key: key}
}

// Shared certificates: key generation (RSA especially) is slow.
type fixtureSet struct {
	ca, otherCA                    testCert
	ecSelf, rsaSelf, ecCA, rsaCA   testCert
	otherCAIssued, server, another testCert
}

var (
	fixturesOnce sync.Once
	fx           fixtureSet
)

func fixtures(t testing.TB) *fixtureSet {
	t.Helper()
	fixturesOnce.Do(func() {
		fx.ca = newCert(t, "test CA", false, nil, true, false)
		fx.otherCA = newCert(t, "other CA", false, nil, true, false)
		fx.ecSelf = newCert(t, "ec self-signed", false, nil, false, false)
		fx.rsaSelf = newCert(t, "rsa self-signed", true, nil, false, false)
		fx.ecCA = newCert(t, "ec CA-issued", false, &fx.ca, false, false)
		fx.rsaCA = newCert(t, "rsa CA-issued", true, &fx.ca, false, false)
		fx.otherCAIssued = newCert(t, "issued by other CA", false, &fx.otherCA, false, false)
		fx.server = newCert(t, "server", false, nil, false, true)
		fx.another = newCert(t, "another client", false, nil, false, false)
	})
	return &fx
}

// fullEscape percent-encodes every byte outside [A-Za-z0-9-._~], as nginx's
// $ssl_client_escaped_cert and Envoy's XFCC Cert do.
func fullEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%")
		b.WriteString(strings.ToUpper(hexByte(c)))
	}
	return b.String()
}

// albEscape escapes like AWS ALB: URL-encoding with "+=/" left as they are.
func albEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+=/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(hexByte(c)))
	}
	return b.String()
}

func hexByte(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}
