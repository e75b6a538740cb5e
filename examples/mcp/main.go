// Command mcp is an MCP server (the official Go SDK,
// github.com/modelcontextprotocol/go-sdk) protected by senderbound's
// mcpguard, and an MCP agent that calls it with DPoP-bound tokens.
//
//	go run ./examples/mcp            # the demo: server, issuer and agent in one process
//	go run ./examples/mcp -serve [flags]
//
// The demo starts an embedded test issuer and the server, then an agent
// (a go-sdk client whose http.Client sends DPoP proofs) obtains a
// DPoP-bound token, lists the tools and calls both; it shows that the
// stolen token sent as a bearer token is refused, that a replayed proof is
// refused, and that a token without read:messages cannot call
// read_messages (403 insufficient_scope). It exits non-zero when any step
// misbehaves.
//
// With -serve it serves until SIGINT or SIGTERM, for MCP clients written by
// others (the TypeScript and Python SDKs, MCP Inspector), and prints
// "listening on <addr>" once it accepts connections. Its flags are those
// of examples/resource-server, with the same meanings and defaults:
//
//	-addr HOST:PORT         listen address (default 127.0.0.1:8080; port 0 picks one)
//	-issuer URL             the trusted issuer (exact iss); JWKS via its discovery document.
//	                        Without it, an embedded test issuer runs and a token is printed.
//	-jwks-url URL           JWKS URL, skipping discovery
//	-audience AUD           required audience (default https://api.example.com); MCP clients
//	                        ask for tokens for the server's canonical URI (RFC 8707), so
//	                        with a real issuer this is usually -public-url + "/mcp"
//	-mechanism MECHANISM    none, dpop or mtls (default none)
//	-required               sender constraining required (always, with mtls)
//	-tls-cert, -tls-key     serve HTTPS and request (not require) client certificates
//	-dpop-nonce             require server-issued DPoP nonces
//	-public-url URL         external base URL, for htu matching behind a proxy
//
// Endpoints: /mcp (MCP, streamable HTTP; tools whoami, any valid token,
// answering the token's sub, and read_messages, needing scope or permission
// read:messages), /.well-known/oauth-protected-resource/mcp and
// /.well-known/oauth-protected-resource (RFC 9728 protected resource
// metadata, resource = <base>/mcp), and GET /healthz (no auth).
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/mcpguard"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "mcp:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "mcp:", err)
		os.Exit(1)
	}
}

// errUsage marks invalid flags.
var errUsage = errors.New("usage")

// options are the command-line flags.
type options struct {
	serve                                      bool
	addr, issuer, jwksURL, audience, mechanism string
	required, dpopNonce                        bool
	tlsCert, tlsKey, publicURL                 string
}

// newFlagSet defines the flags into o: -serve, and those of
// examples/resource-server with the same names, defaults and usage texts
// (TestFlagsMatchResourceServer compares them), except -metrics.
func newFlagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("mcp", flag.ContinueOnError)
	fs.BoolVar(&o.serve, "serve", false, "serve until SIGINT or SIGTERM instead of running the demo")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen `HOST:PORT`")
	fs.StringVar(&o.issuer, "issuer", "", "the trusted issuer `URL` (exact iss); empty runs an embedded test issuer")
	fs.StringVar(&o.jwksURL, "jwks-url", "", "JWKS `URL`, skipping discovery")
	fs.StringVar(&o.audience, "audience", oauthtest.DefaultAudience, "required `audience`")
	fs.StringVar(&o.mechanism, "mechanism", "none", "sender-constraining `method`: none, dpop or mtls")
	fs.BoolVar(&o.required, "required", false, "sender constraining required (always, with mtls)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this certificate `file` (PEM)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "private key `file` (PEM) for -tls-cert")
	fs.BoolVar(&o.dpopNonce, "dpop-nonce", false, "require server-issued DPoP nonces")
	fs.StringVar(&o.publicURL, "public-url", "", "external base `URL` for htu matching (default: from the request)")
	return fs
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.serve {
		return serve(ctx, o, stdout, stderr)
	}
	return demo(ctx, stdout)
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	var o options
	fs := newFlagSet(&o)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	var errs []error
	if o.issuer != "" {
		errs = append(errs, checkURL("-issuer", o.issuer))
	}
	if o.jwksURL != "" {
		if o.issuer == "" {
			errs = append(errs, errors.New("-jwks-url needs -issuer"))
		}
		errs = append(errs, checkURL("-jwks-url", o.jwksURL))
	}
	if o.publicURL != "" {
		if u, err := url.Parse(o.publicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("-public-url %q: not an absolute http(s) URL", o.publicURL))
		}
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		errs = append(errs, errors.New("-tls-cert and -tls-key go together"))
	}
	switch o.mechanism {
	case "none", "dpop":
	case "mtls":
		if o.tlsCert == "" {
			errs = append(errs, errors.New("-mechanism mtls needs -tls-cert and -tls-key"))
		}
		if o.dpopNonce {
			errs = append(errs, errors.New("-dpop-nonce does not apply to -mechanism mtls"))
		}
	default:
		errs = append(errs, fmt.Errorf("-mechanism %q: want none, dpop or mtls", o.mechanism))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	return &o, nil
}

// checkURL accepts https URLs, and http URLs on loopback addresses for
// local testing.
func checkURL(flagName, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%s %q: not an absolute URL", flagName, raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if u.Hostname() == "localhost" {
			return nil
		}
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("%s %q: http is only accepted on loopback addresses; use https", flagName, raw)
	}
	return fmt.Errorf("%s %q: want an https URL", flagName, raw)
}

// messages is what read_messages answers.
const messages = "3 messages: welcome, your token is sender-constrained, bye"

// newMCPServer is the MCP server: whoami answers the subject of the
// verified token, read_messages (which mcpguard holds to read:messages) a
// fixed text.
func newMCPServer() *mcp.Server {
	server := mcp.NewServer(&mcp.Implementation{Name: "senderbound-example", Version: "v1"}, nil)
	server.AddTool(&mcp.Tool{Name: "whoami", Description: "the subject of your access token",
		InputSchema: map[string]any{"type": "object"}},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return textResult(req.Extra.TokenInfo.UserID), nil
		})
	server.AddTool(&mcp.Tool{Name: "read_messages", Description: "your messages (scope read:messages)",
		InputSchema: map[string]any{"type": "object"}},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return textResult(messages), nil
		})
	return server
}

func textResult(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

// site is the HTTP side of the server.
type site struct {
	handler  http.Handler
	resource string // <base>/mcp, the canonical URI
}

// newSite wires the MCP server behind mcpguard: /mcp, the metadata at both
// well-known paths, and /healthz. base is the external base URL (-public-url,
// else the listener's); DPoP proofs' htu is checked against -public-url when
// set, else against the request, as in examples/resource-server.
func newSite(keys middleware.KeySource, o *options, base, issuer string, logger *slog.Logger) (*site, error) {
	resource := base + "/mcp"
	metaURL, err := mcpguard.MetadataURL(resource)
	if err != nil {
		return nil, err
	}
	mechanism := map[string]middleware.Mechanism{
		"none": middleware.MechanismNone,
		"dpop": middleware.MechanismDPoP,
		"mtls": middleware.MechanismMTLS,
	}[o.mechanism]
	opts := []middleware.Option{
		middleware.WithAudience(o.audience),
		middleware.WithProofOfPossession(mechanism, o.required),
		middleware.WithResourceMetadata(metaURL),
		middleware.WithLogger(logger),
	}
	if o.publicURL != "" {
		opts = append(opts, middleware.WithPublicURL(o.publicURL))
	}
	if o.dpopNonce {
		// One instance: a random secret. A fleet shares its secrets, so
		// that any instance accepts another's nonces.
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
		nonces, err := dpop.NewHMACNonces([][]byte{secret})
		if err != nil {
			return nil, err
		}
		verifier, err := dpop.NewVerifier(dpop.WithNonces(nonces))
		if err != nil {
			return nil, err
		}
		opts = append(opts, middleware.WithDPoP(verifier))
	}
	guard, err := middleware.New(keys, opts...)
	if err != nil {
		return nil, err
	}
	mg, err := mcpguard.New(guard, mcpguard.WithTool("read_messages", middleware.Scopes{"read:messages"}))
	if err != nil {
		return nil, err
	}
	server := newMCPServer()
	mux := http.NewServeMux()
	mux.Handle("/mcp", mg.Handler(mcp.NewStreamableHTTPHandler(
		func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Logger: logger})))
	meta := mcpguard.MetadataHandler(guard.Metadata(resource, []string{issuer}, []string{"read:messages"}))
	mux.Handle("/.well-known/oauth-protected-resource/mcp", meta)
	mux.Handle("/.well-known/oauth-protected-resource", meta)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	return &site{handler: mux, resource: resource}, nil
}

// serve runs the standing server until ctx ends.
func serve(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	var tlsConfig *tls.Config
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return err
		}
		tlsConfig = mtls.ServerTLSConfig(cert, nil)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	base := o.publicURL
	if base == "" {
		base = scheme + "://" + ln.Addr().String()
	}
	base = strings.TrimSuffix(base, "/")

	issuer, jwksOpt := o.issuer, jwks.WithIssuer(o.issuer)
	if o.jwksURL != "" {
		jwksOpt = jwks.WithIssuerJWKS(o.issuer, o.jwksURL)
	}
	if issuer == "" {
		iss, err := oauthtest.NewIssuer(oauthtest.WithAudience(o.audience))
		if err != nil {
			return err
		}
		defer iss.Close()
		issuer, jwksOpt = iss.Issuer(), jwks.WithIssuer(iss.Issuer())
		if err := printHints(stdout, iss, base); err != nil {
			return err
		}
	}
	startup, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	keys, err := jwks.New(startup, jwksOpt, jwks.WithLogger(logger))
	if err != nil {
		return err
	}
	defer keys.Close()
	s, err := newSite(keys, o, base, issuer, logger)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			served <- srv.ServeTLS(ln, "", "")
		} else {
			served <- srv.Serve(ln)
		}
	}()
	fmt.Fprintf(stdout, "listening on %s (%s, mechanism %s, MCP at %s)\n", ln.Addr(), scheme, o.mechanism, s.resource)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(stdout, "shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Clients registered at the embedded issuer in -serve mode.
const (
	agentID     = "mcp-agent"
	agentSecret = "mcp-agent-secret"
)

// printHints tells how to call the server with the embedded issuer.
func printHints(w io.Writer, iss *oauthtest.Issuer, base string) error {
	if err := iss.RegisterClient(oauthtest.Client{ID: agentID, Secret: agentSecret,
		Token: oauthtest.Token{Scope: "read:messages"}}); err != nil {
		return err
	}
	tok, err := iss.Mint(oauthtest.Token{Scope: "read:messages"})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "embedded test issuer: %s (never use it in production)\n", iss.Issuer())
	fmt.Fprintf(w, "a bearer token with scope read:messages, valid for an hour:\n")
	fmt.Fprintf(w, "TOKEN=%s\n", tok)
	fmt.Fprintf(w, "client credentials (DPoP-bound tokens with a DPoP proof): token endpoint %s, client %s, secret %s\n",
		iss.TokenURL(), agentID, agentSecret)
	fmt.Fprintf(w, "MCP endpoint: %s/mcp (streamable HTTP)\n", base)
	return nil
}
