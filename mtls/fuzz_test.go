package mtls

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
)

// The fuzz targets check that a parser never panics and never returns a
// certificate (or hash) that was not encoded in its input.

func fixedSeeds(f *testing.F) (pemStr, std string, cert *x509.Certificate) {
	cert = fixedCert(f)
	return fixedPEM, base64.StdEncoding.EncodeToString(cert.Raw), cert
}

// checkForwarded asserts the properties shared by every parser's result.
func checkForwarded(t *testing.T, fw forwarded) {
	t.Helper()
	if fw.cert == nil {
		return
	}
	if _, err := x509.ParseCertificate(fw.cert.Raw); err != nil {
		t.Fatalf("returned certificate does not re-parse: %v", err)
	}
	if fw.sum != sha256.Sum256(fw.cert.Raw) {
		t.Fatal("digest does not match the certificate")
	}
}

// pemBody is the base64 of der that any PEM encoding of it contains:
// encoding/pem accepts non-canonical bits in the final quantum, so only the
// complete 3-byte groups are compared.
func pemBody(der []byte) string {
	return base64.StdEncoding.EncodeToString(der[:len(der)-len(der)%3])
}

// lenientUnescape decodes valid %XX escapes and keeps anything else.
func lenientUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := hex.DecodeString(s[i+1 : i+3]); err == nil {
				b.WriteByte(v[0])
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(" \t\r\n", r) {
			return -1
		}
		return r
	}, s)
}

func FuzzXFCC(f *testing.F) {
	pemStr, _, cert := fixedSeeds(f)
	esc := fullEscape(pemStr)
	sum := sha256.Sum256(cert.Raw)
	hexSum := hex.EncodeToString(sum[:])
	f.Add(`By=spiffe://proxy;Hash=` + hexSum + `;Cert="` + esc + `";Subject="/CN=x";URI=spiffe://c`)
	f.Add(`Cert=` + esc)
	f.Add(`By=a;Chain="` + esc + esc + `"`)
	f.Add(`Hash=` + hexSum)
	f.Add(`By=x;Subject="/CN=a\"b,c;d=e";Cert=` + esc + `,By=y;Cert="` + esc + `"`)
	f.Add(`Subject="/CN=evil,By=y;Cert=` + esc)
	f.Add(`Cert=` + esc[:len(esc)/2])
	f.Add(`Cert="\` + esc + `"`)
	f.Add(`a=b,c=d;e="f\\",`)
	f.Fuzz(func(t *testing.T, v string) {
		fw, err := parseXFCC(v)
		if err != nil {
			return
		}
		checkForwarded(t, fw)
		in := strings.NewReplacer(`\`, "", `"`, "").Replace(v)
		if fw.cert == nil {
			if !strings.Contains(strings.ToLower(in), hex.EncodeToString(fw.sum[:])) {
				t.Fatalf("hash not in the input: %q", v)
			}
			return
		}
		if !strings.Contains(stripSpace(lenientUnescape(in)), pemBody(fw.cert.Raw)) {
			t.Fatalf("certificate not encoded in the input: %q", v)
		}
	})
}

func FuzzEscapedPEM(f *testing.F) {
	pemStr, _, _ := fixedSeeds(f)
	f.Add(fullEscape(pemStr))
	f.Add(albEscape(pemStr))
	f.Add(albEscape(pemStr + pemStr))
	f.Add(url.QueryEscape(pemStr))
	f.Add(fullEscape(pemStr[:200]))
	f.Add(fullEscape("junk" + pemStr))
	f.Add(fullEscape(strings.Replace(pemStr, "-----\n", "-----\nA: b\n\n", 1)))
	f.Add("%zz")
	f.Fuzz(func(t *testing.T, v string) {
		fw, err := parseEscapedPEM(v)
		if err != nil {
			return
		}
		checkForwarded(t, fw)
		if fw.cert == nil {
			t.Fatal("EscapedPEM returned no certificate without an error")
		}
		dec, err := url.PathUnescape(v)
		if err != nil {
			t.Fatalf("accepted an invalid escape: %q", v)
		}
		if !strings.Contains(stripSpace(dec), pemBody(fw.cert.Raw)) {
			t.Fatalf("certificate not encoded in the input: %q", v)
		}
	})
}

func FuzzBase64DER(f *testing.F) {
	_, std, cert := fixedSeeds(f)
	f.Add(std)
	f.Add(strings.TrimRight(std, "="))
	f.Add(base64.URLEncoding.EncodeToString(cert.Raw))
	f.Add(base64.RawURLEncoding.EncodeToString(cert.Raw))
	f.Add(std[:64] + "\n" + std[64:])
	f.Add(strings.TrimSuffix(std, "w==") + "x==")
	f.Add(std[:100])
	f.Add("")
	f.Fuzz(func(t *testing.T, v string) {
		fw, err := parseBase64DER(v)
		if err != nil {
			return
		}
		checkForwarded(t, fw)
		if fw.cert == nil {
			t.Fatal("Base64DER returned no certificate without an error")
		}
		if !oneOf(v, "", fw.cert.Raw, base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding) {
			t.Fatalf("input is not a canonical encoding of the certificate: %q", v)
		}
	})
}

func FuzzRFC9440(f *testing.F) {
	_, std, cert := fixedSeeds(f)
	f.Add(":" + std + ":")
	f.Add(":" + strings.TrimRight(std, "=") + ":")
	f.Add(":" + base64.URLEncoding.EncodeToString(cert.Raw) + ":")
	f.Add(std)
	f.Add("::")
	f.Fuzz(func(t *testing.T, v string) {
		fw, err := parseRFC9440(v)
		if err != nil {
			return
		}
		checkForwarded(t, fw)
		if fw.cert == nil {
			t.Fatal("RFC9440 returned no certificate without an error")
		}
		if !oneOf(v, ":", fw.cert.Raw, base64.StdEncoding, base64.RawStdEncoding) {
			t.Fatalf("input is not a byte sequence of the certificate: %q", v)
		}
	})
}

// oneOf reports whether v is der encoded with one of encs, wrapped in delim.
func oneOf(v, delim string, der []byte, encs ...*base64.Encoding) bool {
	for _, e := range encs {
		if v == delim+e.EncodeToString(der)+delim {
			return true
		}
	}
	return false
}
