package mtls

import (
	"crypto/x509"
	"sync"
	"sync/atomic"
	"unsafe"
)

// maxRememberedCerts bounds connCerts: beyond it the memory is dropped
// whole and filled again by the connections still in use.
const maxRememberedCerts = 4096

// connCerts remembers the thumbprint of the client certificates of live
// TLS connections. A connection presents one certificate for its life, and
// net/http hands every request on it the same *x509.Certificate (from the
// connection's tls.ConnectionState), so the SHA-256 of its DER is computed
// once per connection rather than per request.
//
// An entry is found only by the very certificate object it was computed
// from, and only while that object still holds the same DER bytes (the
// same Raw slice: same array, same length), so another connection's
// certificate, or one whose Raw was replaced, is hashed afresh: the memory
// can skip a computation but never answer for another certificate. Keys are
// strong references, so an address is never reused while remembered. Safe
// for concurrent use.
type connCerts struct {
	m sync.Map // *x509.Certificate -> certThumb
	n atomic.Int64
}

type certThumb struct {
	raw        *byte
	len        int
	thumbprint string
}

// thumbprint returns Thumbprint(cert), from memory when cert was seen.
func (c *connCerts) thumbprint(cert *x509.Certificate) string {
	raw := unsafe.SliceData(cert.Raw)
	if v, ok := c.m.Load(cert); ok {
		if e := v.(*certThumb); e.raw == raw && e.len == len(cert.Raw) {
			return e.thumbprint
		}
	}
	t := Thumbprint(cert)
	if c.n.Add(1) > maxRememberedCerts {
		c.m.Clear()
		c.n.Store(1)
	}
	c.m.Store(cert, &certThumb{raw: raw, len: len(cert.Raw), thumbprint: t})
	return t
}
