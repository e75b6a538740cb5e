package middleware_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
)

// clientCert returns a self-signed client certificate and its key pair.
func clientCert(t testing.TB, cn string) (*x509.Certificate, tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}
}

func newSigner(t testing.TB) *dpop.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	s, err := dpop.NewSigner(key)
	require.NoError(t, err)
	return s
}

const resource = "https://api.example.com/r"

// TestPolicyTable checks every cell of the sender-constraining policy table
// of DESIGN.md, through the transport-independent Verify.
func TestPolicyTable(t *testing.T) {
	iss := newIssuer(t)
	keys := newKeys(t, iss)
	signer := newSigner(t)
	cert, _ := clientCert(t, "client")
	otherCert, _ := clientCert(t, "thief")

	unbound := mint(t, iss, oauthtest.Token{})
	jktTok := mint(t, iss, oauthtest.Token{JKT: signer.Thumbprint()})
	x5tTok := mint(t, iss, oauthtest.Token{X5TS256: mtls.Thumbprint(cert)})
	u, _ := url.Parse(resource)
	proofFor := func(token string) string {
		p, err := signer.Proof(http.MethodGet, resource, token, "")
		require.NoError(t, err)
		return p
	}

	type policy struct {
		m        middleware.Mechanism
		required bool
	}
	policies := []policy{{middleware.MechanismNone, false}, {middleware.MechanismDPoP, false},
		{middleware.MechanismDPoP, true}, {middleware.MechanismMTLS, true}}
	guards := map[policy]*middleware.Guard{}
	for _, p := range policies {
		g, err := middleware.New(keys, middleware.WithAudience(audience), middleware.WithProofOfPossession(p.m, p.required))
		require.NoError(t, err)
		guards[p] = g
	}
	ok := error(nil)
	rows := []struct {
		name string
		req  func() middleware.Request
		want [4]error // none, dpop, dpop required, mtls
	}{
		{"no cnf, Bearer", func() middleware.Request {
			return middleware.Request{Scheme: "Bearer", Token: unbound}
		}, [4]error{ok, ok, middleware.ErrBindingRequired, middleware.ErrBindingRequired}},
		{"no cnf, DPoP + proof", func() middleware.Request {
			return middleware.Request{Scheme: "DPoP", Token: unbound, Proof: proofFor(unbound)}
		}, [4]error{middleware.ErrNoBinding, middleware.ErrNoBinding, middleware.ErrNoBinding, middleware.ErrNoBinding}},
		{"jkt, DPoP + valid proof", func() middleware.Request {
			return middleware.Request{Scheme: "DPoP", Token: jktTok, Proof: proofFor(jktTok)}
		}, [4]error{ok, ok, ok, middleware.ErrBindingNotAllowed}},
		{"jkt, Bearer (downgrade)", func() middleware.Request {
			return middleware.Request{Scheme: "Bearer", Token: jktTok}
		}, [4]error{middleware.ErrBoundTokenAsBearer, middleware.ErrBoundTokenAsBearer, middleware.ErrBoundTokenAsBearer, middleware.ErrBoundTokenAsBearer}},
		{"x5t#S256, matching certificate", func() middleware.Request {
			return middleware.Request{Scheme: "Bearer", Token: x5tTok, Certificate: cert}
		}, [4]error{ok, ok, middleware.ErrBindingNotAllowed, ok}},
		{"x5t#S256, no certificate", func() middleware.Request {
			return middleware.Request{Scheme: "Bearer", Token: x5tTok}
		}, [4]error{middleware.ErrBindingMismatch, middleware.ErrBindingMismatch, middleware.ErrBindingNotAllowed, middleware.ErrBindingMismatch}},
		{"x5t#S256, another certificate", func() middleware.Request {
			return middleware.Request{Scheme: "Bearer", Token: x5tTok, Certificate: otherCert}
		}, [4]error{middleware.ErrBindingMismatch, middleware.ErrBindingMismatch, middleware.ErrBindingNotAllowed, middleware.ErrBindingMismatch}},
	}
	for _, row := range rows {
		for i, p := range policies {
			t.Run(row.name+"/"+p.m.String()+map[bool]string{true: ",required", false: ""}[p.required], func(t *testing.T) {
				req := row.req()
				req.Method, req.URL = http.MethodGet, u
				tok, err := guards[p].Verify(context.Background(), req)
				if row.want[i] == nil {
					require.NoError(t, err)
					require.NotNil(t, tok)
					return
				}
				require.ErrorIs(t, err, row.want[i])
				var e *middleware.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, middleware.CodeInvalidToken, e.Code)
				assert.Equal(t, http.StatusUnauthorized, e.Status)
			})
		}
	}
}

func TestDPoPRequiredForSomeClients(t *testing.T) {
	iss := newIssuer(t)
	publicClients := map[string]bool{"spa": true}
	g := newGuard(t, iss, middleware.WithProofOfPossession(middleware.MechanismDPoP, false),
		middleware.WithDPoPRequiredFor(func(c *middleware.Claims) bool { return publicClients[c.ClientID()] }))
	_, err := g.Check(bearer(mint(t, iss, oauthtest.Token{ClientID: "backend"})))
	require.NoError(t, err)
	_, err = g.Check(bearer(mint(t, iss, oauthtest.Token{ClientID: "spa"})))
	require.ErrorIs(t, err, middleware.ErrBindingRequired)
}

func TestCnfWithBothMembersRejected(t *testing.T) {
	iss := newIssuer(t)
	signer := newSigner(t)
	cert, _ := clientCert(t, "c")
	g := newGuard(t, iss)
	tok := mint(t, iss, oauthtest.Token{JKT: signer.Thumbprint(), X5TS256: mtls.Thumbprint(cert)})
	u, _ := url.Parse(resource)
	p, err := signer.Proof(http.MethodGet, resource, tok, "")
	require.NoError(t, err)
	_, err = g.Verify(context.Background(), middleware.Request{Scheme: "DPoP", Token: tok, Proof: p, Method: "GET", URL: u, Certificate: cert})
	require.ErrorIs(t, err, middleware.ErrClaims)
}

func pemOf(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
