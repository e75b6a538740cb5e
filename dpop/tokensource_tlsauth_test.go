package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/clientauth"
	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
)

// TestClientCredentialsTLSClientAuth: tls_client_auth (RFC 8705 §2), the
// clientauth method shared with the introspection client, at the token
// endpoint: client_id in the form, the certificate from the HTTP client.
func TestClientCredentialsTLSClientAuth(t *testing.T) {
	iss, err := oauthtest.NewIssuer(oauthtest.WithMTLSTokenEndpoint())
	require.NoError(t, err)
	t.Cleanup(iss.Close)
	cert, pair := clientCertificate(t)
	_, other := clientCertificate(t)
	require.NoError(t, iss.RegisterClient(oauthtest.Client{ID: "svc", CertificateThumbprint: mtls.Thumbprint(cert)}))

	src, err := dpop.NewClientCredentials(iss.MTLSTokenURL(), newDPoPSigner(t), clientauth.TLSClientAuth("svc"),
		dpop.WithTokenHTTPClient(iss.MTLSClient(&pair)))
	require.NoError(t, err)
	tok, err := src.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "svc", claimsOf(t, tok)["azp"])

	src, err = dpop.NewClientCredentials(iss.MTLSTokenURL(), newDPoPSigner(t), clientauth.TLSClientAuth("svc"),
		dpop.WithTokenHTTPClient(iss.MTLSClient(&other)))
	require.NoError(t, err)
	_, err = src.Token(context.Background())
	var te *dpop.TokenError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "invalid_client", te.Code)
}

func clientCertificate(t *testing.T) (*x509.Certificate, tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "svc"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return leaf, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}
