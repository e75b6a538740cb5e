package mtls

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
)

// thumbprintLen is the length of an unpadded base64url SHA-256 digest.
const thumbprintLen = 43

var b64url = base64.RawURLEncoding

// Thumbprint returns the RFC 8705 §3.1 "x5t#S256" thumbprint of cert: the
// unpadded base64url encoding of the SHA-256 digest of its DER bytes
// (cert.Raw). It returns "" for a nil certificate.
func Thumbprint(cert *x509.Certificate) string {
	if cert == nil {
		return ""
	}
	sum := sha256.Sum256(cert.Raw)
	return encodeSum(&sum)
}

// encodeSum returns the unpadded base64url encoding of sum with a single
// allocation.
func encodeSum(sum *[sha256.Size]byte) string {
	var enc [thumbprintLen]byte
	b64url.Encode(enc[:], sum[:])
	return string(enc[:])
}

// MatchThumbprint reports whether cnf, the "x5t#S256" member of an access
// token's "cnf" claim, is the thumbprint of cert (RFC 8705 §3.1). The
// comparison takes constant time. It is false for a nil certificate or an
// empty cnf. It does not allocate.
func MatchThumbprint(cert *x509.Certificate, cnf string) bool {
	if cert == nil || len(cnf) != thumbprintLen {
		return false
	}
	sum := sha256.Sum256(cert.Raw)
	return matchSum(&sum, cnf)
}

// EqualThumbprints reports, in constant time, whether the thumbprints a and
// b are equal. It is false when either is empty. Use it with
// [Source.Thumbprint], which also covers proxies that forward only a hash.
func EqualThumbprints(a, b string) bool {
	if a == "" || b == "" || len(a) != len(b) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// matchSum compares the encoding of sum with cnf in constant time;
// len(cnf) must be thumbprintLen.
func matchSum(sum *[sha256.Size]byte, cnf string) bool {
	var enc [thumbprintLen]byte
	b64url.Encode(enc[:], sum[:])
	var v byte
	for i := range enc {
		v |= enc[i] ^ cnf[i]
	}
	return subtle.ConstantTimeByteEq(v, 0) == 1
}
