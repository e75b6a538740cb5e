package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/oauthtest"
)

// errMisbehaved is returned when a step of the demo did not go as it must.
var errMisbehaved = errors.New("a step misbehaved")

// demo runs the server, the issuer and the agents in one process.
func demo(ctx context.Context, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	resource := base + "/mcp"

	// The issuer grants tokens for the MCP server's canonical URI (RFC
	// 8707): "agent" may read messages, "intern" may not.
	iss, err := oauthtest.NewIssuer(oauthtest.WithAudience(resource))
	if err != nil {
		return err
	}
	defer iss.Close()
	for _, c := range []oauthtest.Client{
		{ID: "agent", Secret: "agent-secret", Token: oauthtest.Token{Scope: "read:messages"}},
		{ID: "intern", Secret: "intern-secret"},
	} {
		if err := iss.RegisterClient(c); err != nil {
			return err
		}
	}
	keys, err := jwks.New(ctx, jwks.WithIssuer(iss.Issuer()))
	if err != nil {
		return err
	}
	defer keys.Close()
	o := &options{audience: resource, mechanism: "dpop", required: true, dpopNonce: true, publicURL: base}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := newSite(keys, o, base, iss.Issuer(), quiet)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown below
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Fprintf(out, "MCP server at %s: DPoP-bound tokens required, server nonces; read_messages needs read:messages\n", resource)

	bad := 0
	step := func(n int, what string, problem string) {
		if problem == "" {
			fmt.Fprintf(out, "%d. %s -> as expected\n", n, what)
			return
		}
		bad++
		fmt.Fprintf(out, "%d. %s -> UNEXPECTED: %s\n", n, what, problem)
	}

	// 1-3. The agent: a go-sdk client whose http.Client sends DPoP proofs
	// and obtains its DPoP-bound token with client credentials. No other
	// glue.
	agent, agentSource, err := newAgent(iss, resource, "agent", "agent-secret")
	if err != nil {
		return err
	}
	cs, err := connect(ctx, agent, resource)
	if err != nil {
		return err
	}
	defer cs.Close()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		step(1, "agent lists the tools", err.Error())
	} else {
		var names []string
		for _, t := range tools.Tools {
			names = append(names, t.Name)
		}
		fmt.Fprintf(out, "   tools: %s\n", strings.Join(names, ", "))
		step(1, "agent lists the tools", expect(len(names) == 2, "want 2 tools, got %d", len(names)))
	}
	got, err := callText(ctx, cs, "whoami")
	fmt.Fprintf(out, "   whoami: %s\n", got)
	step(2, "agent calls whoami with its DPoP-bound token", errOr(err, got == "agent@clients", "whoami answered %q", got))
	got, err = callText(ctx, cs, "read_messages")
	fmt.Fprintf(out, "   read_messages: %s\n", got)
	step(3, "agent calls read_messages", errOr(err, got == messages, "read_messages answered %q", got))

	// 4. The agent's token, stolen (from a log, say) and sent as a bearer
	// token: refused, it is bound to the agent's key.
	stolen, err := agentSource.Token(ctx)
	if err != nil {
		return err
	}
	plain := &http.Client{Timeout: 10 * time.Second}
	resp, err := post(ctx, plain, resource, http.Header{"Authorization": {"Bearer " + stolen}})
	step(4, "thief sends the stolen token as a bearer token", refused(resp, err, http.StatusUnauthorized, "invalid_token"))

	// 5-6. A proof captured with the token and replayed: the first use
	// (after the nonce round trip) passes, the replay is refused.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	signer, err := dpop.NewSigner(key)
	if err != nil {
		return err
	}
	victim, err := iss.Mint(oauthtest.Token{Subject: "auth0|victim", JKT: signer.Thumbprint()})
	if err != nil {
		return err
	}
	proof, err := signer.Proof(http.MethodPost, resource, victim, "")
	if err != nil {
		return err
	}
	resp, err = post(ctx, plain, resource, http.Header{"Authorization": {"DPoP " + victim}, "DPoP": {proof}})
	nonce := ""
	if err == nil {
		nonce = resp.Header.Get("DPoP-Nonce")
	}
	step(5, "a proof without the server's nonce", refused(resp, err, http.StatusUnauthorized, "use_dpop_nonce"))
	proof, err = signer.Proof(http.MethodPost, resource, victim, nonce)
	if err != nil {
		return err
	}
	h := http.Header{"Authorization": {"DPoP " + victim}, "DPoP": {proof}}
	resp, err = post(ctx, plain, resource, h)
	step(6, "the same request with the nonce", accepted(resp, err))
	resp, err = post(ctx, plain, resource, h)
	step(7, "the captured proof replayed", refused(resp, err, http.StatusUnauthorized, "invalid_dpop_proof"))

	// 8-9. An agent whose token lacks read:messages: whoami works,
	// read_messages is refused with 403 insufficient_scope (a JSON-RPC
	// error for the call; the session goes on).
	intern, _, err := newAgent(iss, resource, "intern", "intern-secret")
	if err != nil {
		return err
	}
	ics, err := connect(ctx, intern, resource)
	if err != nil {
		return err
	}
	defer ics.Close()
	got, err = callText(ctx, ics, "whoami")
	step(8, "intern calls whoami", errOr(err, got == "intern@clients", "whoami answered %q", got))
	_, err = callText(ctx, ics, "read_messages")
	if err != nil {
		fmt.Fprintf(out, "   refused: %v\n", err)
	}
	step(9, "intern calls read_messages without the scope",
		expect(err != nil && strings.Contains(err.Error(), "insufficient_scope (scope: read:messages)"),
			"want insufficient_scope, got %v", err))

	if bad > 0 {
		fmt.Fprintf(out, "%d steps misbehaved\n", bad)
		return errMisbehaved
	}
	fmt.Fprintln(out, "all 9 steps behaved as expected")
	return nil
}

// newAgent is an MCP agent's http.Client: a dpop.Transport whose token
// source obtains DPoP-bound tokens for the MCP server with client
// credentials, answering the server's and the issuer's nonce demands.
func newAgent(iss *oauthtest.Issuer, resource, id, secret string) (*http.Client, *dpop.ClientCredentials, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	signer, err := dpop.NewSigner(key)
	if err != nil {
		return nil, nil, err
	}
	source, err := dpop.NewClientCredentials(iss.TokenURL(), signer,
		dpop.ClientSecretBasic(id, secret), dpop.WithTokenAudience(resource))
	if err != nil {
		return nil, nil, err
	}
	return &http.Client{Transport: &dpop.Transport{Signer: signer, Source: source}}, source, nil
}

func connect(ctx context.Context, hc *http.Client, resource string) (*mcp.ClientSession, error) {
	client := mcp.NewClient(&mcp.Implementation{Name: "example-agent", Version: "v1"}, nil)
	return client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: resource, HTTPClient: hc}, nil)
}

func callText(ctx context.Context, cs *mcp.ClientSession, tool string) (string, error) {
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool})
	if err != nil {
		return "", err
	}
	if res.IsError || len(res.Content) != 1 {
		return "", fmt.Errorf("tool %s failed", tool)
	}
	t, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		return "", fmt.Errorf("tool %s answered no text", tool)
	}
	return t.Text, nil
}

// post sends a tools/call of whoami as a raw HTTP request.
func post(ctx context.Context, hc *http.Client, resource string, h http.Header) (*http.Response, error) {
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, resource, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = h.Clone()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// refused checks that a request was refused with status and the error
// code in its challenge; "" means it was.
func refused(resp *http.Response, err error, status int, code string) string {
	if err != nil {
		return err.Error()
	}
	if resp.StatusCode != status {
		return fmt.Sprintf("status %d, want %d", resp.StatusCode, status)
	}
	challenges := strings.Join(resp.Header.Values("WWW-Authenticate"), ", ")
	if !strings.Contains(challenges, `error="`+code+`"`) {
		return fmt.Sprintf("challenge %q lacks error=%q", challenges, code)
	}
	return ""
}

// accepted checks that the guard let a request through to the MCP server
// (whatever the MCP server made of it).
func accepted(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return fmt.Sprintf("status %d", resp.StatusCode)
	}
	return ""
}

func expect(ok bool, format string, args ...any) string {
	if ok {
		return ""
	}
	return fmt.Sprintf(format, args...)
}

func errOr(err error, ok bool, format string, args ...any) string {
	if err != nil {
		return err.Error()
	}
	return expect(ok, format, args...)
}
