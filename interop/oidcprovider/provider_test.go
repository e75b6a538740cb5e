package oidcprovider_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/interop/oidcprovider"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// answer is the part of an introspection answer the tests read.
type answer struct {
	Active    bool              `json:"active"`
	Sub       string            `json:"sub"`
	ClientID  string            `json:"client_id"`
	Iss       string            `json:"iss"`
	Aud       any               `json:"aud"`
	Scope     string            `json:"scope"`
	TokenType string            `json:"token_type"`
	Exp       int64             `json:"exp"`
	Cnf       map[string]string `json:"cnf"`
}

func introspect(t *testing.T, as *oidcprovider.Server, token string) answer {
	t.Helper()
	status, contentType, body := as.Introspect(t, as.ResourceServer, token, false)
	require.Equal(t, http.StatusOK, status, "%s", body)
	require.True(t, strings.HasPrefix(contentType, "application/json"), contentType)
	var a answer
	require.NoError(t, json.Unmarshal(body, &a))
	return a
}

// One server for the raw-HTTP tests of the harness itself.
func TestIntrospectionEndpoint(t *testing.T) {
	as := oidcprovider.Start(t, oidcprovider.Config{})

	t.Run("opaque bearer token", func(t *testing.T) {
		tok := as.Token(t, oidcprovider.TokenRequest{Scopes: []string{"read:messages", "not:granted"}})
		assert.Equal(t, "Bearer", tok.TokenType)
		a := introspect(t, as, tok.AccessToken)
		assert.True(t, a.Active)
		assert.Equal(t, as.App.ID, a.Sub)
		assert.Equal(t, as.App.ID, a.ClientID)
		assert.Equal(t, as.Issuer(), a.Iss)
		assert.Equal(t, oidcprovider.Audience, a.Aud)
		assert.Equal(t, "read:messages", a.Scope, "scopes the resource does not list are dropped")
		assert.Equal(t, "Bearer", a.TokenType)
		assert.InDelta(t, time.Now().Add(10*time.Minute).Unix(), a.Exp, 60)
		assert.Nil(t, a.Cnf)
	})
	t.Run("revoked token is inactive", func(t *testing.T) {
		tok := as.Token(t, oidcprovider.TokenRequest{Scopes: []string{"read:messages"}})
		require.True(t, introspect(t, as, tok.AccessToken).Active)
		as.Revoke(t, tok.AccessToken)
		assert.Equal(t, answer{}, introspect(t, as, tok.AccessToken))
	})
	t.Run("unknown token is inactive", func(t *testing.T) {
		assert.Equal(t, answer{}, introspect(t, as, rand.Text()))
	})
	t.Run("another audience", func(t *testing.T) {
		tok := as.Token(t, oidcprovider.TokenRequest{Resource: oidcprovider.OtherAudience, Scopes: []string{"read:messages"}})
		a := introspect(t, as, tok.AccessToken)
		assert.True(t, a.Active)
		assert.Equal(t, oidcprovider.OtherAudience, a.Aud)
	})
	t.Run("DPoP-bound opaque token", func(t *testing.T) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		signer, err := dpop.NewSigner(key)
		require.NoError(t, err)
		tok := as.Token(t, oidcprovider.TokenRequest{Scopes: []string{"read:messages"}, DPoP: signer})
		assert.Equal(t, "DPoP", tok.TokenType)
		a := introspect(t, as, tok.AccessToken)
		assert.True(t, a.Active)
		assert.Equal(t, "DPoP", a.TokenType)
		assert.Equal(t, map[string]string{"jkt": signer.Thumbprint()}, a.Cnf)
	})
	t.Run("certificate-bound opaque token", func(t *testing.T) {
		certPEM, der := clientCertificate(t)
		tok := as.Token(t, oidcprovider.TokenRequest{Scopes: []string{"read:messages"}, CertificatePEM: certPEM})
		a := introspect(t, as, tok.AccessToken)
		assert.True(t, a.Active)
		sum := sha256.Sum256(der)
		assert.Equal(t, map[string]string{"x5t#S256": base64.RawURLEncoding.EncodeToString(sum[:])}, a.Cnf)
	})
	t.Run("JWT answer (RFC 9701)", func(t *testing.T) {
		tok := as.Token(t, oidcprovider.TokenRequest{Scopes: []string{"read:messages"}})
		status, contentType, body := as.Introspect(t, as.ResourceServer, tok.AccessToken, true)
		require.Equal(t, http.StatusOK, status, "%s", body)
		assert.True(t, strings.HasPrefix(contentType, "application/token-introspection+jwt"), contentType)
		parts := strings.Split(string(body), ".")
		require.Len(t, parts, 3)
		var header struct{ Typ, Alg string }
		var payload struct {
			Iss                string `json:"iss"`
			Aud                string `json:"aud"`
			TokenIntrospection answer `json:"token_introspection"`
		}
		decodeSegment(t, parts[0], &header)
		decodeSegment(t, parts[1], &payload)
		assert.Equal(t, "token-introspection+jwt", header.Typ)
		assert.Equal(t, "ES256", header.Alg)
		assert.Equal(t, as.Issuer(), payload.Iss)
		assert.Equal(t, as.ResourceServer.ID, payload.Aud)
		assert.True(t, payload.TokenIntrospection.Active)
		assert.Equal(t, "read:messages", payload.TokenIntrospection.Scope)
	})
	t.Run("client authentication is required", func(t *testing.T) {
		tok := as.Token(t, oidcprovider.TokenRequest{Scopes: []string{"read:messages"}})
		wrong := oidcprovider.Client{ID: as.ResourceServer.ID, Secret: "wrong"}
		status, _, body := as.Introspect(t, wrong, tok.AccessToken, false)
		assert.Equal(t, http.StatusUnauthorized, status, "%s", body)
		assert.NotContains(t, string(body), `"active"`)
	})
}

func decodeSegment(t *testing.T, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}

// clientCertificate is a self-signed client certificate, as PEM and DER.
func clientCertificate(t *testing.T) (string, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "app"},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), der
}
