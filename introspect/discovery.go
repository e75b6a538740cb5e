package introspect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/senderbound/senderbound/internal/jsonobj"
	"github.com/senderbound/senderbound/internal/oauthmeta"
)

// maxMetadata caps a metadata document, checked before parsing.
const maxMetadata = 1 << 20

// discover returns the introspection_endpoint of issuer's metadata (RFC
// 8414 §2, OpenID Connect Discovery), trying each discovery URL in turn.
// The metadata's issuer must equal issuer exactly (RFC 8414 §3.3).
func discover(ctx context.Context, client *http.Client, issuer string, plaintext bool) (string, error) {
	urls, err := oauthmeta.URLs(issuer)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrDiscovery, err)
	}
	var errs []error
	for _, u := range urls {
		endpoint, err := fetchMetadata(ctx, client, u, issuer, plaintext)
		if err == nil {
			return endpoint, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
		if ctx.Err() != nil {
			break
		}
	}
	return "", fmt.Errorf("%w: %w", ErrDiscovery, errors.Join(errs...))
}

func fetchMetadata(ctx context.Context, client *http.Client, metadataURL, issuer string, plaintext bool) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metadataURL, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadata+1))
	if err != nil {
		return "", err
	}
	if len(body) > maxMetadata {
		return "", fmt.Errorf("metadata over %d bytes", maxMetadata)
	}
	return parseMetadata(body, issuer, plaintext)
}

// metadata is what discovery reads of authorization server metadata.
type metadata struct {
	issuer, endpoint string
}

// metadataTable reads issuer (required) and introspection_endpoint with
// exact names, strings, once each.
var metadataTable = jsonobj.NewTable(jsonobj.IgnoreUnknown,
	jsonobj.Member[metadata]{Name: "issuer", Required: true, Read: func(m *metadata, v []byte) (ok bool) {
		m.issuer, ok = jsonobj.String(v)
		return
	}},
	jsonobj.Member[metadata]{Name: "introspection_endpoint", Read: func(m *metadata, v []byte) (ok bool) {
		m.endpoint, ok = jsonobj.String(v)
		return
	}},
)

// parseMetadata checks the metadata's issuer (RFC 8414 §3.3: equal to the
// configured one) and returns its introspection_endpoint, which must be
// https when the issuer is, and pass the plaintext rule.
func parseMetadata(body []byte, issuer string, plaintext bool) (string, error) {
	var m metadata
	if _, err := metadataTable.Read(body, &m); err != nil {
		return "", fmt.Errorf("metadata: %w", err)
	}
	switch {
	case m.issuer != issuer:
		return "", fmt.Errorf("metadata issuer %q does not equal the configured issuer %q", clip(m.issuer), issuer)
	case m.endpoint == "":
		return "", errors.New("metadata has no introspection_endpoint")
	}
	if err := checkEndpoint(m.endpoint, plaintext); err != nil {
		return "", fmt.Errorf("introspection_endpoint: %w", err)
	}
	iu, _ := url.Parse(issuer) // New checked it
	if eu, _ := url.Parse(m.endpoint); iu.Scheme == "https" && eu.Scheme != "https" {
		return "", errors.New("introspection_endpoint is not https")
	}
	return m.endpoint, nil
}

// clip bounds a value the server chose before it goes into errors and logs.
func clip(s string) string {
	const maxLen = 256
	if len(s) > maxLen {
		return s[:maxLen] + "…"
	}
	return s
}
