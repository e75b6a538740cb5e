package mtls_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/senderbound/senderbound/internal/jose"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
)

// Certificate-bound tokens (RFC 8705) need no special client code: an
// http.Client whose TLS configuration holds the client certificate posts
// the client credentials to the authorization server's mutual-TLS token
// endpoint (mtls_endpoint_aliases.token_endpoint in its metadata), and the
// token that comes back is bound to that certificate. The same client then
// calls the API with "Authorization: Bearer <token>".
func Example_certificateBoundToken() {
	iss, _ := oauthtest.NewIssuer(oauthtest.WithMTLSTokenEndpoint()) // test only
	defer iss.Close()
	_ = iss.RegisterClient(oauthtest.Client{ID: "my-service", Secret: "its-secret"})

	cert := selfSignedClientCert()
	roots := x509.NewCertPool()
	roots.AddCert(iss.ServerCertificate()) // a real tenant's certificate is in the system pool
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      roots,
		MinVersion:   tls.VersionTLS12,
	}}}

	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {"my-service"},
		"client_secret": {"its-secret"},
		"audience":      {"https://api.example.com"},
	}
	resp, err := client.Post(iss.MTLSTokenURL(), "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var answer struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&answer)

	jws, _ := jose.Split(answer.AccessToken)
	var claims struct {
		Cnf map[string]string `json:"cnf"`
	}
	_ = json.Unmarshal(jws.Payload, &claims)
	fmt.Println(resp.StatusCode, answer.TokenType)
	fmt.Println(claims.Cnf["x5t#S256"] == mtls.Thumbprint(cert.Leaf))
	// Output:
	// 200 Bearer
	// true
}

// selfSignedClientCert makes a client certificate, as a service would hold
// one issued by its organisation's CA.
func selfSignedClientCert() tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "my-service"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}
