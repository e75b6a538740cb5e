package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/senderbound/senderbound/oauthtest"
)

// exampleClientID is the client registered at the embedded issuer's token
// endpoint.
const exampleClientID = "example-client"

// printTokenCommands registers a client at the embedded issuer's token
// endpoint and prints the commands that obtain a bearer, a DPoP-bound and
// a certificate-bound token with examples/client and call the API with
// each. The certificate-bound one needs the API over HTTPS (-tls-cert and
// -tls-key); its files (a client certificate and key, and the CA
// certificates that the client must trust) are written to a temporary
// directory that cleanup removes.
func printTokenCommands(w io.Writer, iss *oauthtest.Issuer, base string, o *options) (cleanup func(), err error) {
	secret := rand.Text()
	if err := iss.RegisterClient(oauthtest.Client{
		ID:     exampleClientID,
		Secret: secret,
		Token:  oauthtest.Token{Scope: "read:messages"},
	}); err != nil {
		return nil, err
	}
	api := base + "/api/scoped"
	common := fmt.Sprintf("-client-id %s -client-secret %s -audience %s -api %s", exampleClientID, secret, o.audience, api)
	cleanup = func() {}
	var files clientFiles
	if strings.HasPrefix(base, "https:") {
		dir, err := os.MkdirTemp("", "resource-server-example")
		if err != nil {
			return nil, err
		}
		cleanup = func() { os.RemoveAll(dir) }
		if files, err = writeClientFiles(dir, iss, o.tlsCert); err != nil {
			cleanup()
			return nil, err
		}
		common += " -ca " + files.ca
	}
	fmt.Fprintf(w, "its token endpoint issues tokens to client %s; from the repository root:\n", exampleClientID)
	fmt.Fprintf(w, "bearer token: go run ./examples/client -token-url %s %s\n", iss.TokenURL(), common)
	fmt.Fprintf(w, "DPoP-bound token: go run ./examples/client -token-url %s %s -dpop\n", iss.TokenURL(), common)
	if files.cert == "" {
		fmt.Fprintf(w, "certificate-bound token: serve HTTPS (-tls-cert and -tls-key) to try it\n")
		return cleanup, nil
	}
	fmt.Fprintf(w, "certificate-bound token: go run ./examples/client -token-url %s %s -cert %s -key %s\n",
		iss.MTLSTokenURL(), common, files.cert, files.key)
	return cleanup, nil
}

// clientFiles are the PEM files of the certificate-bound path.
type clientFiles struct{ cert, key, ca string }

// writeClientFiles writes a self-signed client certificate and its key, and
// a CA file that trusts the issuer's mutual-TLS endpoint and this server
// (its -tls-cert chain).
func writeClientFiles(dir string, iss *oauthtest.Issuer, serverCertFile string) (clientFiles, error) {
	f := clientFiles{
		cert: filepath.Join(dir, "client.pem"),
		key:  filepath.Join(dir, "client-key.pem"),
		ca:   filepath.Join(dir, "ca.pem"),
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return f, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: exampleClientID},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return f, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return f, err
	}
	serverPEM, err := os.ReadFile(serverCertFile)
	if err != nil {
		return f, err
	}
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: iss.ServerCertificate().Raw})
	for name, data := range map[string][]byte{
		f.cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		f.key:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		f.ca:   append(ca, serverPEM...),
	} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			return f, err
		}
	}
	return f, nil
}
