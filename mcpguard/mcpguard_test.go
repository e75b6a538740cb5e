package mcpguard_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/mcpguard"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
)

func callText(t testing.TB, cs *mcp.ClientSession, tool string) string {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool})
	require.NoError(t, err)
	require.False(t, res.IsError)
	require.Len(t, res.Content, 1)
	return res.Content[0].(*mcp.TextContent).Text
}

// Every token kind works end to end through the go-sdk's streamable HTTP
// transport, with the protocol version that has sessions and the one
// without, and the tools see the token as the SDK's TokenInfo.
func TestTokenKinds(t *testing.T) {
	e := newEnv(t, envConfig{})
	cert := selfSigned(t, "agent-cert", false)
	kinds := []struct {
		name, subject string
		client        func(t *testing.T) *http.Client
	}{
		{"bearer", "auth0|bearer", func(t *testing.T) *http.Client {
			return e.bearerClient(nil, e.mint(t, oauthtest.Token{Subject: "auth0|bearer", Scope: "read:messages"}))
		}},
		{"dpop", "agent@clients", func(t *testing.T) *http.Client {
			hc, _ := e.dpopClient(t, "agent", "agent-secret")
			return hc
		}},
		{"mtls", "auth0|mtls", func(t *testing.T) *http.Client {
			tok := e.mint(t, oauthtest.Token{Subject: "auth0|mtls", Permissions: []string{"read:messages"},
				X5TS256: mtls.Thumbprint(cert.Leaf)})
			return e.bearerClient(&cert, tok)
		}},
	}
	for _, k := range kinds {
		for _, version := range []string{sessionless, withSession} {
			t.Run(k.name+"/"+version, func(t *testing.T) {
				cs := e.connect(t, k.client(t), version)
				tools, err := cs.ListTools(context.Background(), nil)
				require.NoError(t, err)
				require.Len(t, tools.Tools, 2)
				assert.Equal(t, k.subject, callText(t, cs, "whoami"))
				assert.Equal(t, messages, callText(t, cs, "read_messages"))
			})
		}
	}
	// The SDK saw the verified token, never a credential it checked itself.
	seen := e.seenRequests()
	require.NotEmpty(t, seen)
	for _, s := range seen {
		require.NotNil(t, s.info)
		assert.NotEmpty(t, s.info.UserID)
		assert.Contains(t, s.info.Scopes, "read:messages")
		assert.Equal(t, s.info.UserID, s.info.Extra["sub"])
		assert.False(t, s.info.Expiration.IsZero())
		assert.NotContains(t, s.authorization, "senderbound-verified") // the real header is back
	}
}

// A session opened with the 2025-11-25 protocol keeps a standalone SSE
// stream (GET) open while its POSTs come and go; each request carries a
// fresh proof, and when the server's nonce goes stale mid-session (its
// clock steps forward an hour), the client's transport answers the
// use_dpop_nonce demand and the session goes on.
func TestLongLivedDPoPSession(t *testing.T) {
	var skew atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	nonces, err := dpop.NewHMACNonces([][]byte{[]byte("0123456789abcdef0123456789abcdef")}, dpop.WithNonceClock(clock))
	require.NoError(t, err)
	e := newEnv(t, envConfig{
		guard: []middleware.Option{middleware.WithProofOfPossession(middleware.MechanismDPoP, true)},
		dpop:  []dpop.Option{dpop.WithNonces(nonces)},
	})
	hc, _ := e.dpopClient(t, "agent", "agent-secret")
	cs := e.connect(t, hc, withSession)
	require.NotEmpty(t, cs.ID())
	for i := range 20 {
		if i == 10 {
			skew.Store(int64(time.Hour))
		}
		assert.Equal(t, "agent@clients", callText(t, cs, "whoami"))
	}
	require.NoError(t, cs.Close())

	jtis, nonceSeen := map[string]bool{}, map[string]bool{}
	var gets, posts int
	for _, s := range e.seenRequests() {
		require.True(t, strings.HasPrefix(s.authorization, "DPoP "), s.method)
		require.NotEmpty(t, s.proof)
		jti := proofClaim(t, s.proof, "jti")
		require.False(t, jtis[jti], "a proof was accepted twice")
		jtis[jti] = true
		nonce := proofClaim(t, s.proof, "nonce")
		require.NotEmpty(t, nonce)
		nonceSeen[nonce] = true
		switch s.method {
		case http.MethodGet:
			gets++
			assert.Equal(t, cs.ID(), s.session)
		case http.MethodPost:
			posts++
		}
	}
	assert.GreaterOrEqual(t, posts, 21)
	assert.GreaterOrEqual(t, gets, 1, "the standalone SSE stream")
	assert.GreaterOrEqual(t, len(nonceSeen), 2, "the nonce never changed")
}

func proofClaim(t testing.TB, proof, name string) string {
	t.Helper()
	parts := strings.Split(proof, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, json.Unmarshal(payload, &claims))
	s, _ := claims[name].(string)
	return s
}

// rawCall posts one JSON-RPC message to the MCP endpoint with the given
// headers and returns the answer.
func (e *env) rawCall(t testing.TB, hc *http.Client, body string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.resource, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

const whoamiCall = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`

// The go-sdk binds a session to the UserID of the token that opened it:
// another subject's valid token cannot continue it.
func TestSessionBoundToSubject(t *testing.T) {
	e := newEnv(t, envConfig{})
	alice := e.mint(t, oauthtest.Token{Subject: "auth0|alice"})
	bob := e.mint(t, oauthtest.Token{Subject: "auth0|bob"})
	cs := e.connect(t, e.bearerClient(nil, alice), withSession)
	require.Equal(t, "auth0|alice", callText(t, cs, "whoami"))

	hc := e.httpClient(nil, nil)
	hdr := func(tok string) http.Header {
		return http.Header{"Authorization": {"Bearer " + tok}, "Mcp-Session-Id": {cs.ID()},
			"Mcp-Protocol-Version": {withSession}}
	}
	resp, _ := e.rawCall(t, hc, whoamiCall, hdr(bob))
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "bob continues alice's session")
	resp, body := e.rawCall(t, hc, whoamiCall, hdr(alice))
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "auth0|alice")
	// A renewed token of the same subject continues the session.
	renewed := e.mint(t, oauthtest.Token{Subject: "auth0|alice", Scope: "other"})
	resp, body = e.rawCall(t, hc, whoamiCall, hdr(renewed))
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "auth0|alice")
}

// WithUserID binds sessions to what it makes of the claims: here the
// issuer and the subject, and a token it makes nothing of is refused.
func TestWithUserID(t *testing.T) {
	e := newEnv(t, envConfig{mcp: []mcpguard.Option{mcpguard.WithUserID(func(c *middleware.Claims) string {
		if c.Subject() == "auth0|nobody" {
			return ""
		}
		return c.Issuer() + " " + c.Subject()
	})}})
	cs := e.connect(t, e.bearerClient(nil, e.mint(t, oauthtest.Token{Subject: "auth0|alice"})), withSession)
	assert.Equal(t, e.iss.Issuer()+" auth0|alice", callText(t, cs, "whoami"))
	tok := e.mint(t, oauthtest.Token{Subject: "auth0|nobody"})
	resp, _ := e.rawCall(t, e.httpClient(nil, nil), whoamiCall, http.Header{"Authorization": {"Bearer " + tok}})
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	_, err := mcpguard.New(e.guard, mcpguard.WithUserID(nil))
	assert.ErrorContains(t, err, "nil WithUserID")
}

// A token without sub would open a session bound to nobody; it is refused.
func TestNoSubjectRefused(t *testing.T) {
	e := newEnv(t, envConfig{})
	tok := e.mint(t, oauthtest.Token{Claims: map[string]any{"sub": nil}})
	resp, _ := e.rawCall(t, e.httpClient(nil, nil), whoamiCall, http.Header{"Authorization": {"Bearer " + tok}})
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`)
	assert.Zero(t, e.arrivals.Load())
}

// A stolen DPoP-bound token sent as a bearer token, and a replayed proof,
// are refused by the Guard; the MCP server never sees them (so the SDK's
// Bearer-only check cannot take a DPoP token for a bearer token).
func TestStolenTokenAndReplayRefused(t *testing.T) {
	e := newEnv(t, envConfig{})
	signer := newSigner(t)
	tok := e.mint(t, oauthtest.Token{Subject: "auth0|victim", JKT: signer.Thumbprint()})
	hc := e.httpClient(nil, nil)

	resp, _ := e.rawCall(t, hc, whoamiCall, http.Header{"Authorization": {"Bearer " + tok}})
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, strings.Join(resp.Header.Values("WWW-Authenticate"), "\n"), `error="invalid_token"`)

	proof, err := signer.Proof(http.MethodPost, e.resource, tok, "")
	require.NoError(t, err)
	h := http.Header{"Authorization": {"DPoP " + tok}, "Dpop": {proof}}
	before := e.arrivals.Load()
	resp, body := e.rawCall(t, hc, whoamiCall, h)
	require.Equal(t, http.StatusOK, resp.StatusCode, body) // reached the MCP server
	require.Equal(t, before+1, e.arrivals.Load())
	before++
	resp, _ = e.rawCall(t, hc, whoamiCall, h)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, strings.Join(resp.Header.Values("WWW-Authenticate"), "\n"), `error="invalid_dpop_proof"`)
	assert.Equal(t, before, e.arrivals.Load())
}

// A tool that needs a scope is refused for a token without it as over
// plain HTTP (403 insufficient_scope, the scope and resource_metadata in
// the challenge), with a JSON-RPC error for the call, and the session goes
// on.
func TestToolRequiresScope(t *testing.T) {
	e := newEnv(t, envConfig{})
	for _, version := range []string{sessionless, withSession} {
		t.Run(version, func(t *testing.T) {
			hc, _ := e.dpopClient(t, "intern", "intern-secret")
			cs := e.connect(t, hc, version)
			before := e.arrivals.Load()
			_, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "read_messages"})
			require.ErrorContains(t, err, "insufficient_scope (scope: read:messages)")
			assert.Equal(t, before, e.arrivals.Load(), "the MCP server saw the refused call")
			assert.Equal(t, "intern@clients", callText(t, cs, "whoami"))
		})
	}

	tok := e.mint(t, oauthtest.Token{Subject: "auth0|intern"})
	call := `{"jsonrpc":"2.0","id":"c-1","method":"tools/call","params":{"name":"read_messages"}}`
	resp, body := e.rawCall(t, e.httpClient(nil, nil), call, http.Header{"Authorization": {"Bearer " + tok}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, []string{
		`Bearer resource_metadata="` + e.metaURL + `", error="insufficient_scope", error_description="insufficient scope", scope="read:messages"`,
		`DPoP algs="ES256 ES384 PS256 RS256 EdDSA Ed25519", resource_metadata="` + e.metaURL + `"`,
	}, resp.Header.Values("WWW-Authenticate"))
	// What the go-sdk's own client reads from it for step-up authorization.
	challenges, err := oauthex.ParseWWWAuthenticate(resp.Header.Values("WWW-Authenticate"))
	require.NoError(t, err)
	require.Equal(t, "bearer", challenges[0].Scheme)
	assert.Equal(t, map[string]string{"resource_metadata": e.metaURL, "error": "insufficient_scope",
		"error_description": "insufficient scope", "scope": "read:messages"}, challenges[0].Params)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.JSONEq(t, `{"jsonrpc":"2.0","id":"c-1","error":{"code":-32003,"message":"insufficient_scope (scope: read:messages)"}}`, body)
}

// Messages that could be read two ways are refused before anything runs;
// a batch that calls the scoped tool is held to its requirement.
func TestToolCallParsing(t *testing.T) {
	e := newEnv(t, envConfig{})
	tok := e.mint(t, oauthtest.Token{Subject: "auth0|intern"})
	hc := e.httpClient(nil, nil)
	h := http.Header{"Authorization": {"Bearer " + tok}}
	for name, tc := range map[string]struct {
		body   string
		status int
	}{
		"duplicate name": {`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","name":"read_messages"}}`, 400},
		"case variant":   {`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","Name":"read_messages"}}`, 400},
		"dup method":     {`{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"read_messages"}}`, 400},
		"escaped name":   {`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"n\u0061me":"read_\u006dessages"}}`, 403},
		"trailing data":  {`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"}} {"x":1}`, 400},
		"batch":          {`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"}},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"read_messages"}}]`, 403},
		"not an object":  {`42, "tools/call"`, 400},
	} {
		t.Run(name, func(t *testing.T) {
			before := e.arrivals.Load()
			resp, _ := e.rawCall(t, hc, tc.body, h)
			assert.Equal(t, tc.status, resp.StatusCode)
			assert.Equal(t, before, e.arrivals.Load())
		})
	}
}

// The protected resource metadata, at the path-inserted well-known URI and
// at the root, as the MCP authorization specification asks (RFC 9728 §3),
// and the 401 of a request without a token points to it.
func TestMetadataAndChallenge(t *testing.T) {
	e := newEnv(t, envConfig{guard: []middleware.Option{middleware.WithProofOfPossession(middleware.MechanismDPoP, true)}})
	require.Equal(t, e.base+"/.well-known/oauth-protected-resource/mcp", e.metaURL)
	hc := e.httpClient(nil, nil)
	for _, u := range []string{e.metaURL, e.base + "/.well-known/oauth-protected-resource"} {
		resp, err := hc.Get(u)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))
		assert.JSONEq(t, `{
			"resource": "`+e.resource+`",
			"authorization_servers": ["`+e.iss.Issuer()+`"],
			"scopes_supported": ["read:messages"],
			"bearer_methods_supported": ["header"],
			"dpop_signing_alg_values_supported": ["ES256","ES384","PS256","RS256","EdDSA","Ed25519"],
			"dpop_bound_access_tokens_required": true,
			"tls_client_certificate_bound_access_tokens": false
		}`, string(body))
	}
	req, _ := http.NewRequest(http.MethodOptions, e.metaURL, nil)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)

	// The go-sdk client's own discovery accepts it: https, the resource it
	// connects to, safe authorization server URLs.
	prm, err := oauthex.GetProtectedResourceMetadata(context.Background(), e.metaURL, e.resource, hc)
	require.NoError(t, err)
	assert.Equal(t, []string{e.iss.Issuer()}, prm.AuthorizationServers)
	assert.True(t, prm.DPOPBoundAccessTokensRequired)

	resp, _ = e.rawCall(t, hc, whoamiCall, nil)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	challenges, err := oauthex.ParseWWWAuthenticate(resp.Header.Values("WWW-Authenticate"))
	require.NoError(t, err)
	require.Len(t, challenges, 1)
	assert.Equal(t, map[string]string{"algs": "ES256 ES384 PS256 RS256 EdDSA Ed25519", "resource_metadata": e.metaURL},
		challenges[0].Params)
	assert.Equal(t, []string{
		`DPoP algs="ES256 ES384 PS256 RS256 EdDSA Ed25519", resource_metadata="` + e.metaURL + `"`,
	}, resp.Header.Values("WWW-Authenticate"))
}

func TestMetadataURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://mcp.example.com/mcp":         "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
		"https://mcp.example.com/public/mcp/": "https://mcp.example.com/.well-known/oauth-protected-resource/public/mcp",
		"https://mcp.example.com":             "https://mcp.example.com/.well-known/oauth-protected-resource",
		"http://127.0.0.1:8080/mcp":           "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp",
	} {
		got, err := mcpguard.MetadataURL(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
	for _, bad := range []string{"", "mcp", "ftp://x/mcp", "https://x/mcp?a=b", "https://x/mcp#f", "https://u@x/mcp"} {
		_, err := mcpguard.MetadataURL(bad)
		assert.Error(t, err, bad)
	}
}

func TestNewValidates(t *testing.T) {
	_, err := mcpguard.New(nil, mcpguard.WithTool(""), mcpguard.WithTool("x"), mcpguard.WithMaxBodySize(0))
	require.Error(t, err)
	for _, want := range []string{"nil middleware.Guard", "needs a tool name", `WithTool("x") needs a requirement`, "not positive"} {
		assert.ErrorContains(t, err, want)
	}
}
