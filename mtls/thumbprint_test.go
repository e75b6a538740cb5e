package mtls

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixedPEM is a self-signed P-256 certificate made with openssl; its
// thumbprint was computed independently with
//
//	openssl x509 -outform der | openssl dgst -sha256 -binary | basenc --base64url
//
// (padding removed); sha256sum gives the hex digest.
const fixedPEM = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUa7OMKgypSdkeue53i4ap7MnGdtwwCgYIKoZIzj0EAwIw
IjEgMB4GA1UEAwwXc2VuZGVyYm91bmQgdGVzdCBjbGllbnQwIBcNMjYxMTIyMjAw
MjAwWhgPMjEyNjEwMjkyMDAyMDBaMCIxIDAeBgNVBAMMF3NlbmRlcmJvdW5kIHRl
c3QgY2xpZW50MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEjucx1gRNFD4pVQxw
BnxzrNeq5TJytd1aBdMzsIpO6UCALKPt907elU6NOse2v7BtDpG0pwblY8rpm/4X
uVGf8KNTMFEwHQYDVR0OBBYEFCjBJQgM++WqFfTssrIseFj5HqFSMB8GA1UdIwQY
MBaAFCjBJQgM++WqFfTssrIseFj5HqFSMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZI
zj0EAwIDSAAwRQIhAKJGAgBD9xQ5tWEy14vo6UnYJKBTtlmtZv+8fQfwmgOaAiBV
l6/DMvSLCZxSyZLkyGhbvNiqJxZedzSWyHFMfuEWBw==
-----END CERTIFICATE-----
`

const (
	fixedThumbprint = "IXzUpfYr_CZ3o-OeL1z5Cetk9pqdwIpY7LC-uGrRoo0"
	fixedHex        = "217cd4a5f62bfc2677a3e39e2f5cf909eb64f69a9dc08a58ecb0beb86ad1a28d"
)

func fixedCert(t testing.TB) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode([]byte(fixedPEM))
	require.NotNil(t, block)
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return cert
}

func TestThumbprintKnownVector(t *testing.T) {
	cert := fixedCert(t)
	assert.Equal(t, fixedThumbprint, Thumbprint(cert))

	// The same value computed here from the DER, independently of Thumbprint.
	sum := sha256.Sum256(cert.Raw)
	assert.Equal(t, base64.RawURLEncoding.EncodeToString(sum[:]), Thumbprint(cert))
	assert.Len(t, Thumbprint(cert), thumbprintLen)
	assert.Empty(t, Thumbprint(nil))
}

func TestMatchThumbprint(t *testing.T) {
	cert := fixedCert(t)
	other := fixtures(t).another.cert
	flipped := []byte(fixedThumbprint)
	flipped[10] ^= 1
	sum := sha256.Sum256(cert.Raw)

	tests := []struct {
		name string
		cert *x509.Certificate
		cnf  string
		want bool
	}{
		{"match", cert, fixedThumbprint, true},
		{"another certificate", other, fixedThumbprint, false},
		{"nil certificate", nil, fixedThumbprint, false},
		{"empty cnf", cert, "", false},
		{"one bit differs", cert, string(flipped), false},
		{"padded", cert, fixedThumbprint + "=", false},
		{"truncated", cert, fixedThumbprint[:42], false},
		{"standard alphabet", cert, base64.StdEncoding.EncodeToString(sum[:]), false},
		{"hex digest", cert, fixedHex, false},
		{"case folded", cert, strings.ToUpper(fixedThumbprint), false},
		{"SHA-1 length", cert, fixedThumbprint[:27], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, MatchThumbprint(tt.cert, tt.cnf))
			assert.Equal(t, tt.want, EqualThumbprints(Thumbprint(tt.cert), tt.cnf))
		})
	}
}

func TestEqualThumbprints(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"equal", fixedThumbprint, fixedThumbprint, true},
		{"both empty", "", "", false},
		{"first empty", "", fixedThumbprint, false},
		{"second empty", fixedThumbprint, "", false},
		{"prefix", fixedThumbprint, fixedThumbprint[:40], false},
		{"differ", fixedThumbprint, strings.Replace(fixedThumbprint, "I", "J", 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, EqualThumbprints(tt.a, tt.b))
		})
	}
}

func TestMatchThumbprintDoesNotAllocate(t *testing.T) {
	cert := fixedCert(t)
	allocs := testing.AllocsPerRun(100, func() {
		if !MatchThumbprint(cert, fixedThumbprint) {
			t.Fatal("no match")
		}
	})
	assert.Zero(t, allocs)
}

// BenchmarkThumbprintMatch is the per-request cost of the mTLS binding check
// for a certificate already on the connection.
func BenchmarkThumbprintMatch(b *testing.B) {
	for _, tc := range []struct {
		name string
		cert *x509.Certificate
	}{
		{"ECDSA", fixtures(b).ecCA.cert},
		{"RSA", fixtures(b).rsaCA.cert},
	} {
		cnf := Thumbprint(tc.cert)
		b.Run(tc.name+"/Thumbprint", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Thumbprint(tc.cert)
			}
		})
		b.Run(tc.name+"/MatchThumbprint", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !MatchThumbprint(tc.cert, cnf) {
					b.Fatal("no match")
				}
			}
		})
		b.Run(tc.name+"/Thumbprint+EqualThumbprints", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !EqualThumbprints(Thumbprint(tc.cert), cnf) {
					b.Fatal("no match")
				}
			}
		})
	}
}
