package jwks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/senderbound/senderbound/internal/oauthmeta"
)

// discoveryURLs returns where to look for issuer's metadata, in order
// (internal/oauthmeta: one rule for jwks and introspect).
func discoveryURLs(issuer string) ([]string, error) {
	urls, err := oauthmeta.URLs(issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: issuer is not a URL", ErrDiscovery)
	}
	return urls, nil
}

// discover returns the jwks_uri of issuer's metadata, trying each discovery
// URL in turn.
func (k *Keys) discover(ctx context.Context, issuer string) (string, error) {
	urls, err := discoveryURLs(issuer)
	if err != nil {
		return "", err
	}
	var errs []error
	for _, u := range urls {
		jwksURI, err := k.fetchMetadata(ctx, u, issuer)
		if err == nil {
			return jwksURI, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
		if ctx.Err() != nil {
			break
		}
	}
	return "", fmt.Errorf("%w: %w", ErrDiscovery, errors.Join(errs...))
}

func (k *Keys) fetchMetadata(ctx context.Context, metadataURL, issuer string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metadataURL, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, k.maxBody+1)) // the transport enforces the cap too
	if err != nil {
		return "", err
	}
	if int64(len(body)) > k.maxBody {
		return "", errTooLarge
	}
	return parseMetadata(body, issuer, k.plaintext)
}

// mismatchError: the metadata names another issuer than the configured one.
// Both values are logged, with the likely fix.
type mismatchError struct {
	configured, metadata string
}

func (e *mismatchError) Error() string {
	return fmt.Sprintf("metadata issuer %q does not equal the configured issuer %q", e.metadata, e.configured)
}

// clip bounds a value the issuer chose before it goes into errors and logs.
func clip(s string) string {
	const maxLen = 256
	if len(s) > maxLen {
		return s[:maxLen] + "…"
	}
	return s
}

// fix says what the operator most likely has to change.
func (e *mismatchError) fix() string {
	if strings.TrimSuffix(e.metadata, "/") == strings.TrimSuffix(e.configured, "/") {
		return fmt.Sprintf("the issuers differ only in the trailing slash: configure the issuer as %q, exactly as the metadata and the tokens' iss spell it", e.metadata)
	}
	return fmt.Sprintf("configure the issuer exactly as the metadata names it (%q), or check that the discovery URL belongs to this issuer", e.metadata)
}

// parseMetadata checks authorization server metadata (RFC 8414 §3.3, OIDC
// Discovery §4.3): "issuer" must equal the expected issuer exactly, and
// "jwks_uri" must be an absolute http(s) URL, https when the issuer is, and
// http only on a loopback host unless plaintext is allowed.
func parseMetadata(body []byte, issuer string, plaintext bool) (string, error) {
	var m struct {
		Issuer  *string `json:"issuer"`
		JWKSURI *string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return "", fmt.Errorf("%w: metadata is not a JSON object of the expected shape", ErrDiscovery)
	}
	if m.Issuer == nil {
		return "", fmt.Errorf("%w: metadata has no issuer", ErrDiscovery)
	}
	if *m.Issuer != issuer {
		return "", fmt.Errorf("%w: %w", ErrDiscovery, &mismatchError{configured: issuer, metadata: clip(*m.Issuer)})
	}
	if m.JWKSURI == nil || *m.JWKSURI == "" {
		return "", fmt.Errorf("%w: metadata has no jwks_uri", ErrDiscovery)
	}
	if err := checkURL(*m.JWKSURI, plaintext); err != nil {
		return "", fmt.Errorf("%w: jwks_uri: %w", ErrDiscovery, err)
	}
	iu, err := url.Parse(issuer)
	if err != nil {
		return "", fmt.Errorf("%w: issuer is not a URL", ErrDiscovery)
	}
	if ju, _ := url.Parse(*m.JWKSURI); iu.Scheme == "https" && ju.Scheme != "https" { // checkURL parsed it
		return "", fmt.Errorf("%w: jwks_uri is not https", ErrDiscovery)
	}
	return *m.JWKSURI, nil
}
