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

// parseMetadata reads issuer and introspection_endpoint with exact names.
// The endpoint must be https when the issuer is, and pass the plaintext
// rule.
func parseMetadata(body []byte, issuer string, plaintext bool) (string, error) {
	var iss, endpoint *string
	err := jsonobj.Members(body, func(name string, v []byte) error {
		var dst **string
		switch name {
		case "issuer":
			dst = &iss
		case "introspection_endpoint":
			dst = &endpoint
		default:
			return nil
		}
		s, ok := jsonobj.String(v)
		if !ok || *dst != nil {
			return fmt.Errorf("metadata member %s invalid", name)
		}
		*dst = &s
		return nil
	})
	switch {
	case err == jsonobj.ErrInvalid:
		return "", errors.New("metadata is not a JSON object")
	case err != nil:
		return "", err
	case iss == nil:
		return "", errors.New("metadata has no issuer")
	case *iss != issuer:
		return "", fmt.Errorf("metadata issuer %q does not equal the configured issuer %q", clip(*iss), issuer)
	case endpoint == nil || *endpoint == "":
		return "", errors.New("metadata has no introspection_endpoint")
	}
	if err := checkEndpoint(*endpoint, plaintext); err != nil {
		return "", fmt.Errorf("introspection_endpoint: %w", err)
	}
	iu, _ := url.Parse(issuer) // New checked it
	if eu, _ := url.Parse(*endpoint); iu.Scheme == "https" && eu.Scheme != "https" {
		return "", errors.New("introspection_endpoint is not https")
	}
	return *endpoint, nil
}

// clip bounds a value the server chose before it goes into errors and logs.
func clip(s string) string {
	const maxLen = 256
	if len(s) > maxLen {
		return s[:maxLen] + "…"
	}
	return s
}
