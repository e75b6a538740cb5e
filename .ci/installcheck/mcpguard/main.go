// Command mcpguard uses the mcpguard module as a user would: a go-sdk MCP
// server behind a Guard, one request without a token refused with the
// challenge that points to the protected resource metadata, and that
// metadata served.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/mcpguard"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iss, err := oauthtest.NewIssuer()
	if err != nil {
		log.Fatal(err)
	}
	defer iss.Close()
	keys, err := jwks.New(ctx, jwks.WithIssuer(iss.Issuer()))
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	const base = "https://mcp.example.com"
	resource := base + "/mcp"
	metadataURL, err := mcpguard.MetadataURL(resource)
	if err != nil {
		log.Fatal(err)
	}
	guard, err := middleware.New(keys, middleware.WithAudience(resource),
		middleware.WithPublicURL(base), middleware.WithResourceMetadata(metadataURL))
	if err != nil {
		log.Fatal(err)
	}
	mg, err := mcpguard.New(guard)
	if err != nil {
		log.Fatal(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "installcheck", Version: "v0"}, nil)
	mux := http.NewServeMux()
	mux.Handle("/mcp", mg.Handler(mcp.NewStreamableHTTPHandler(
		func(*http.Request) *mcp.Server { return server }, nil)))
	mux.Handle("/.well-known/oauth-protected-resource/mcp",
		mcpguard.MetadataHandler(guard.Metadata(resource, []string{iss.Issuer()}, nil)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/mcp", "application/json", strings.NewReader(`{}`))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	challenge := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(challenge, metadataURL) {
		log.Fatalf("no token: got %d %q, want 401 naming %s", resp.StatusCode, challenge, metadataURL)
	}
	resp, err = http.Get(srv.URL + "/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		log.Fatalf("metadata: got %d", resp.StatusCode)
	}
	fmt.Println("mcpguard: no token 401 with resource_metadata, metadata 200")
}
