package mcpguard

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/senderbound/senderbound/middleware"
)

// WellKnownPath is the well-known URI suffix of protected resource
// metadata (RFC 9728 §3).
const WellKnownPath = "/.well-known/oauth-protected-resource"

// MetadataURL returns where the protected resource metadata of the MCP
// server whose canonical URI is resource is served (RFC 9728 §3.1): the
// well-known path is inserted between the host and the resource's path, so
// "https://mcp.example.com/mcp" has its metadata at
// "https://mcp.example.com/.well-known/oauth-protected-resource/mcp". MCP
// clients look there when a 401 names no resource_metadata, then at the
// root ("https://mcp.example.com/.well-known/oauth-protected-resource").
// resource must be an absolute http(s) URL without query or fragment.
func MetadataURL(resource string) (string, error) {
	u, err := url.Parse(resource)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("mcpguard: resource %q is not an absolute http(s) URL without query or fragment", resource)
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	return u.Scheme + "://" + u.Host + WellKnownPath + path, nil
}

// MetadataHandler serves m, the protected resource metadata of an MCP
// server (RFC 9728 §2; build it with [middleware.Guard.Metadata], resource
// being the server's canonical URI), for GET and HEAD, with the CORS
// headers that let browser-based MCP clients read it: the document is
// public. It answers a CORS preflight (OPTIONS) with 204.
func MetadataHandler(m middleware.Metadata) http.Handler {
	serve := middleware.MetadataHandler(m)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Headers", "Content-Type, MCP-Protocol-Version")
			h.Set("Allow", "GET, HEAD, OPTIONS")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		serve.ServeHTTP(w, r)
	})
}
