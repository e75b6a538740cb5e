package mcpguard_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/mcpguard"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// protect puts an MCP server behind a Guard: DPoP-bound tokens for this
// server (its canonical URI, resource, is their audience), read_messages
// only with read:messages, and the protected resource metadata at the
// well-known URI that MCP clients look up. docs/mcp.md shows this body.
func protect(server *mcp.Server, keys middleware.KeySource, base, resource, issuer string) (http.Handler, error) {
	metadataURL, err := mcpguard.MetadataURL(resource) // base + "/.well-known/oauth-protected-resource/mcp"
	if err != nil {
		return nil, err
	}
	guard, err := middleware.New(keys,
		middleware.WithAudience(resource),
		middleware.WithProofOfPossession(middleware.MechanismDPoP, true),
		middleware.WithPublicURL(base),
		middleware.WithResourceMetadata(metadataURL))
	if err != nil {
		return nil, err
	}
	mg, err := mcpguard.New(guard, mcpguard.WithTool("read_messages", middleware.Scopes{"read:messages"}))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", mg.Handler(mcp.NewStreamableHTTPHandler(
		func(*http.Request) *mcp.Server { return server }, nil)))
	mux.Handle("/.well-known/oauth-protected-resource/mcp",
		mcpguard.MetadataHandler(guard.Metadata(resource, []string{issuer}, []string{"read:messages"})))
	return mux, nil
}

// connectAgent connects a go-sdk MCP client that obtains DPoP-bound tokens
// with client credentials and sends a fresh proof with every request.
// docs/mcp.md shows this body.
func connectAgent(ctx context.Context, resource, tokenURL, clientID, clientSecret string, signer *dpop.Signer) (*mcp.ClientSession, error) {
	source, err := dpop.NewClientCredentials(tokenURL, signer,
		dpop.ClientSecretBasic(clientID, clientSecret), dpop.WithTokenAudience(resource))
	if err != nil {
		return nil, err
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "agent", Version: "v1"}, nil)
	return client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:   resource,
		HTTPClient: &http.Client{Transport: &dpop.Transport{Signer: signer, Source: source}},
	}, nil)
}

// An MCP server protected by a Guard, and an agent calling its tools with
// a DPoP-bound token: whoami answers, read_messages needs a scope the
// agent's token lacks and is refused with 403 insufficient_scope.
func Example() {
	ctx := context.Background()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	resource := base + "/mcp"

	iss, _ := oauthtest.NewIssuer(oauthtest.WithAudience(resource)) // test only: an Auth0-like issuer
	defer iss.Close()
	_ = iss.RegisterClient(oauthtest.Client{ID: "agent", Secret: "agent-secret"})
	keys, _ := jwks.New(ctx, jwks.WithIssuer(iss.Issuer()))
	defer keys.Close()

	server := mcp.NewServer(&mcp.Implementation{Name: "example", Version: "v1"}, nil)
	server.AddTool(&mcp.Tool{Name: "whoami", InputSchema: map[string]any{"type": "object"}},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: req.Extra.TokenInfo.UserID}}}, nil
		})
	server.AddTool(&mcp.Tool{Name: "read_messages", InputSchema: map[string]any{"type": "object"}},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "no messages"}}}, nil
		})
	h, err := protect(server, keys, base, resource, iss.Issuer())
	if err != nil {
		fmt.Println(err)
		return
	}
	srv.Config.Handler = h
	srv.Start()
	defer srv.Close()

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := dpop.NewSigner(key)
	cs, err := connectAgent(ctx, resource, iss.TokenURL(), "agent", "agent-secret", signer)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("whoami:", res.Content[0].(*mcp.TextContent).Text)
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "read_messages"})
	fmt.Println("read_messages refused:", err != nil)
	// Output:
	// whoami: agent@clients
	// read_messages refused: true
}
