// Package oauthmeta holds where an issuer's authorization server metadata
// is found, one rule for every client of the module that discovers it.
package oauthmeta

import (
	"errors"
	"net/url"
	"strings"
)

// ErrIssuer means the issuer is not a URL.
var ErrIssuer = errors.New("issuer is not a URL")

// URLs returns where to look for issuer's metadata, in order: OpenID
// Connect Discovery 1.0 §4 (append to the issuer), RFC 8414 §3.1 (insert
// the well-known segment between host and path), and, for issuers with a
// path, the appended RFC 8414 form that many servers use. A trailing "/"
// of the issuer (Auth0: "https://tenant.auth0.com/") never yields "//".
func URLs(issuer string) ([]string, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil, ErrIssuer
	}
	trimmed := strings.TrimSuffix(issuer, "/")
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	urls := []string{
		trimmed + "/.well-known/openid-configuration",
		u.Scheme + "://" + u.Host + "/.well-known/oauth-authorization-server" + path,
	}
	if path != "" {
		urls = append(urls, trimmed+"/.well-known/oauth-authorization-server")
	}
	return urls, nil
}
