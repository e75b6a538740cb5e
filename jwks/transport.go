package jwks

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
)

// limitTransport reads every response body whole, up to max bytes, before
// handing it on: a larger body is an error, so that no parser ever sees a
// truncated document. Discovery and JWKS bodies are small. An error status
// (400 and above) is an error too, a statusError that keeps the code (jwkset
// reports it only as text), so that a permanent one can be told from a
// transient one.
type limitTransport struct {
	base http.RoundTripper
	max  int64
}

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return nil, &statusError{code: resp.StatusCode}
	}
	if resp.ContentLength > t.max {
		return nil, fmt.Errorf("%w: Content-Length %d > %d", errTooLarge, resp.ContentLength, t.max)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, t.max+1))
	if err != nil {
		return nil, fmt.Errorf("jwks: reading response body: %w", err)
	}
	if int64(len(b)) > t.max {
		return nil, fmt.Errorf("%w: more than %d bytes", errTooLarge, t.max)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	return resp, nil
}

// CloseIdleConnections closes the idle connections of the base transport,
// so that Keys.Close leaves no keep-alive goroutines behind.
func (t limitTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// privateKeyFilter is the transport of one issuer's JWKS fetches (jwkset's
// HTTP client; discovery does not go through it). It drops the keys that
// publish private members from every JWK Set before jwkset decodes it, and
// leaves their status lines for the store's next replacement: the fetch
// and the replacement run under the issuer's sem, one at a time.
type privateKeyFilter struct {
	base  http.RoundTripper
	store *indexStore
}

func (t privateKeyFilter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body) // in memory already: limitTransport read it
	if err != nil {
		return nil, fmt.Errorf("jwks: reading response body: %w", err)
	}
	b, skipped := dropPrivateKeys(b)
	t.store.fetchSkipped.Store(&skipped)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	return resp, nil
}
