package middleware

import (
	"encoding/json"
	"net/http"
)

// Metadata is an OAuth 2.0 Protected Resource Metadata document (RFC 9728
// §2), as far as this package knows it.
type Metadata struct {
	Resource                              string   `json:"resource"`
	AuthorizationServers                  []string `json:"authorization_servers,omitempty"`
	ScopesSupported                       []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported                []string `json:"bearer_methods_supported,omitempty"`
	DPoPSigningAlgValuesSupported         []string `json:"dpop_signing_alg_values_supported,omitempty"`
	DPoPBoundAccessTokensRequired         bool     `json:"dpop_bound_access_tokens_required"`
	TLSClientCertificateBoundAccessTokens bool     `json:"tls_client_certificate_bound_access_tokens"`
}

// Metadata returns the protected resource metadata that follows from the
// Guard's configuration: resource is the API's identifier (its URL),
// issuers the authorization servers, scopes the scopes worth advertising
// (may be nil).
func (g *Guard) Metadata(resource string, issuers, scopes []string) Metadata {
	m := Metadata{
		Resource:                              resource,
		AuthorizationServers:                  issuers,
		ScopesSupported:                       scopes,
		BearerMethodsSupported:                []string{"header"},
		DPoPBoundAccessTokensRequired:         g.cfg.mechanism == MechanismDPoP && g.cfg.required,
		TLSClientCertificateBoundAccessTokens: g.cfg.mechanism == MechanismMTLS,
	}
	if g.cfg.formTokens {
		m.BearerMethodsSupported = append(m.BearerMethodsSupported, "body")
	}
	if g.cfg.queryTokens {
		m.BearerMethodsSupported = append(m.BearerMethodsSupported, "query")
	}
	if g.challenge.dpop {
		m.DPoPSigningAlgValuesSupported = g.dpop.Algorithms()
	}
	return m
}

// MetadataHandler serves m as /.well-known/oauth-protected-resource
// (RFC 9728 §3), for GET and HEAD.
func MetadataHandler(m Metadata) http.Handler {
	body, _ := json.Marshal(m) // a struct of strings and bools always marshals
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=300")
		_, _ = w.Write(body)
	})
}
