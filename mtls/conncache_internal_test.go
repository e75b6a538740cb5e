package mtls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func selfSigned(t *testing.T, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert
}

// TestConnCertsNeverAnswersForAnotherCertificate: the remembered thumbprint
// is the certificate's own; another certificate object (even with the same
// DER), or the same object whose Raw was replaced, is hashed afresh; the
// memory stays bounded.
func TestConnCertsNeverAnswersForAnotherCertificate(t *testing.T) {
	var c connCerts
	a, b := selfSigned(t, "a"), selfSigned(t, "b")
	assert.Equal(t, Thumbprint(a), c.thumbprint(a))
	assert.Equal(t, Thumbprint(a), c.thumbprint(a), "remembered")
	assert.Equal(t, Thumbprint(b), c.thumbprint(b))

	// The same object, its Raw replaced by another certificate's DER.
	a.Raw = b.Raw
	assert.Equal(t, Thumbprint(b), c.thumbprint(a))

	copyOfB := *b
	copyOfB.Raw = append([]byte(nil), b.Raw...)
	assert.Equal(t, Thumbprint(b), c.thumbprint(&copyOfB))

	for range 2 * maxRememberedCerts {
		cp := *b
		c.thumbprint(&cp)
	}
	assert.LessOrEqual(t, c.n.Load(), int64(maxRememberedCerts))
	assert.Equal(t, Thumbprint(b), c.thumbprint(b))
}

// TestConnCertsAllocatesNothingWhenRemembered pins the per-request cost of
// a certificate-bound request on a connection seen before.
func TestConnCertsAllocatesNothingWhenRemembered(t *testing.T) {
	var c connCerts
	a := selfSigned(t, "a")
	c.thumbprint(a)
	assert.Zero(t, testing.AllocsPerRun(100, func() { c.thumbprint(a) }))
}
