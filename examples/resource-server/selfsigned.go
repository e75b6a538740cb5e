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
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// tlsFiles are the PEM files that -tls-self-signed writes: the server's
// certificate and key, and a client certificate and key for mutual TLS.
type tlsFiles struct {
	dir                   string
	serverCert, serverKey string
	clientCert, clientKey string
	removeDir             bool // a temporary directory, removed at exit
	serverHosts           []string
}

// writeSelfSigned writes a self-signed server certificate for the loopback
// names and the hosts of -addr and -public-url, and a self-signed client
// certificate, into dir (a new temporary directory when dir is empty), so
// that mutual TLS can be tried without openssl. Both are valid for 30
// days; every run writes new ones.
func writeSelfSigned(dir string, o *options) (*tlsFiles, error) {
	f := &tlsFiles{dir: dir}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "resource-server-tls")
		if err != nil {
			return nil, err
		}
		f.dir, f.removeDir = tmp, true
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f.serverCert, f.serverKey = filepath.Join(f.dir, "server.pem"), filepath.Join(f.dir, "server-key.pem")
	f.clientCert, f.clientKey = filepath.Join(f.dir, "client.pem"), filepath.Join(f.dir, "client-key.pem")
	f.serverHosts = serverHosts(o)

	err := writeCertificate(f.serverCert, f.serverKey, serverTemplate(f.serverHosts))
	if err == nil {
		err = writeCertificate(f.clientCert, f.clientKey, clientTemplate())
	}
	if err != nil {
		f.remove()
		return nil, err
	}
	return f, nil
}

// remove deletes the directory if it is a temporary one.
func (f *tlsFiles) remove() {
	if f.removeDir {
		os.RemoveAll(f.dir)
	}
}

// print says where the files are and how to use them.
func (f *tlsFiles) print(w io.Writer) {
	fmt.Fprintf(w, "self-signed server certificate (for %v): %s (key %s); trust it with curl --cacert or examples/client -ca\n",
		f.serverHosts, f.serverCert, f.serverKey)
	fmt.Fprintf(w, "client certificate for mutual TLS: %s (key %s)\n", f.clientCert, f.clientKey)
	if f.removeDir {
		fmt.Fprintf(w, "(these files are removed when the server stops; -tls-dir keeps them)\n")
	}
}

// serverTemplate is a server certificate for hosts (names or addresses).
func serverTemplate(hosts []string) *x509.Certificate {
	c := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "resource-server example (self-signed)"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			c.IPAddresses = append(c.IPAddresses, ip)
		} else {
			c.DNSNames = append(c.DNSNames, h)
		}
	}
	return c
}

// clientTemplate is the client certificate of the example client, which the
// embedded issuer's mutual-TLS token endpoint binds tokens to.
func clientTemplate() *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: exampleClientID},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
}

// serverHosts are the names the self-signed server certificate is for:
// the loopback names, and the hosts of -addr and -public-url.
func serverHosts(o *options) []string {
	hosts := []string{"127.0.0.1", "::1", "localhost"}
	add := func(h string) {
		if ip := net.ParseIP(h); h == "" || (ip != nil && ip.IsUnspecified()) {
			return
		}
		for _, have := range hosts {
			if have == h {
				return
			}
		}
		hosts = append(hosts, h)
	}
	if h, _, err := net.SplitHostPort(o.addr); err == nil {
		add(h)
	}
	if u, err := url.Parse(o.publicURL); err == nil && o.publicURL != "" {
		add(u.Hostname())
	}
	return hosts
}

// writeCertificate completes tmpl into a self-signed certificate with a new
// P-256 key and writes both as PEM.
func writeCertificate(certFile, keyFile string, tmpl *x509.Certificate) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Minute)
	tmpl.NotAfter = time.Now().Add(30 * 24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}
