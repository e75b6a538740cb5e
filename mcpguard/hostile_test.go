package mcpguard_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/mcpguard"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
)

// The go-sdk's verifier answers only for requests the Guard handed over,
// and only for the placeholder: a request that reached RequireBearerToken
// any other way, with any token, is refused.
func TestHandoffVerifierRefusesOthers(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	for _, tok := range []string{"senderbound-verified", "eyJhbGciOi.x.y", ""} {
		info, err := mcpguard.HandoffVerifier(context.Background(), tok, r)
		assert.Nil(t, info)
		assert.ErrorIs(t, err, auth.ErrInvalidToken)
	}
}

// Refusals of bound tokens whose binding is not proven never reach the MCP
// server.
func TestUnprovenBindingsRefused(t *testing.T) {
	e := newEnv(t, envConfig{})
	cert := selfSigned(t, "agent-cert", false)
	other := selfSigned(t, "thief-cert", false)
	certBound := e.mint(t, oauthtest.Token{Subject: "auth0|mtls", X5TS256: mtls.Thumbprint(cert.Leaf)})
	signer := newSigner(t)
	keyBound := e.mint(t, oauthtest.Token{Subject: "auth0|dpop", JKT: signer.Thumbprint()})
	for name, tc := range map[string]struct {
		cert   *tls.Certificate
		header http.Header
		error  string
	}{
		"cert-bound without certificate": {nil, http.Header{"Authorization": {"Bearer " + certBound}}, "invalid_token"},
		"cert-bound with another cert":   {&other, http.Header{"Authorization": {"Bearer " + certBound}}, "invalid_token"},
		"DPoP scheme without proof":      {nil, http.Header{"Authorization": {"DPoP " + keyBound}}, "invalid_dpop_proof"},
		"no credentials":                 {nil, nil, ""},
	} {
		t.Run(name, func(t *testing.T) {
			before := e.arrivals.Load()
			resp, _ := e.rawCall(t, e.httpClient(tc.cert, nil), whoamiCall, tc.header)
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			challenges := strings.Join(resp.Header.Values("WWW-Authenticate"), ", ")
			assert.Contains(t, challenges, `resource_metadata="`+e.metaURL+`"`)
			if tc.error != "" {
				assert.Contains(t, challenges, `error="`+tc.error+`"`)
			} else {
				assert.NotContains(t, challenges, "error=")
			}
			assert.Equal(t, before, e.arrivals.Load())
		})
	}
}

// A body above the limit is refused before it is read to the end; with no
// WithTool the body is not read at all.
func TestBodyLimit(t *testing.T) {
	e := newEnv(t, envConfig{})
	g, err := mcpguard.New(e.guard, mcpguard.WithTool("x", middleware.Scopes{"s"}), mcpguard.WithMaxBodySize(64))
	require.NoError(t, err)
	tok := e.mint(t, oauthtest.Token{})
	reached := false
	h := g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	r := httptest.NewRequest(http.MethodPost, e.resource, strings.NewReader(whoamiCall+strings.Repeat(" ", 64)))
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	assert.False(t, reached)
}

// TokenInfo is the SDK's view of the claims: permissions join the scopes
// once, every claim is in Extra.
func TestTokenInfo(t *testing.T) {
	e := newEnv(t, envConfig{})
	tok := e.mint(t, oauthtest.Token{Subject: "auth0|u", Scope: "a b", Permissions: []string{"b", "c"},
		Claims: map[string]any{"https://example.com/tenant": "t1"}})
	r := httptest.NewRequest(http.MethodPost, e.resource, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	vt, err := e.guard.Check(r)
	require.NoError(t, err)
	info, err := mcpguard.TokenInfo(vt.Claims)
	require.NoError(t, err)
	assert.Equal(t, "auth0|u", info.UserID)
	assert.Equal(t, []string{"a", "b", "c"}, info.Scopes)
	assert.Equal(t, vt.Claims.ExpiresAt(), info.Expiration)
	assert.Equal(t, "t1", info.Extra["https://example.com/tenant"])
	assert.Equal(t, e.iss.Issuer(), info.Extra["iss"])
}

func TestMetadataHandlerMethods(t *testing.T) {
	h := mcpguard.MetadataHandler(middleware.Metadata{Resource: "https://mcp.example.com/mcp"})
	for method, status := range map[string]int{http.MethodGet: 200, http.MethodHead: 200, http.MethodOptions: 204, http.MethodPost: 405} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, "/.well-known/oauth-protected-resource/mcp", nil))
		assert.Equal(t, status, w.Code, method)
		assert.Equal(t, "*", w.Header().Get("Access-Control-Allow-Origin"))
	}
}

func TestCalledTools(t *testing.T) {
	for body, want := range map[string][]string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`:                                                 nil,
		`{"jsonrpc":"2.0","id":1,"result":{}}`:                                                           nil,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":null}`:                                   nil,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}}`:                           {"a"},
		` [{"method":"tools/call","params":{"name":"a"}},{"method":"tools/call","params":{"name":"b"}}]`: {"a", "b"},
	} {
		calls, err := mcpguard.CalledTools([]byte(body))
		require.NoError(t, err, body)
		assert.Equal(t, want, mcpguard.CallNames(calls), body)
	}
	for _, body := range []string{
		`{"method":"tools\/call","params":{"name":"a","name":"b"}}`, `[{"method":"tools/call"`,
		`{"method":1,"x":"\\"}`, `{"method":"tools/call","params":{"name":2}}`,
		`{"method":"tools/call","params":[]}`, `{"METHOD":"tools/call"}`,
		`{"method":"tools/call","params":{"name":"a"},"ID":1,"id":2}`,
	} {
		_, err := mcpguard.CalledTools([]byte(body))
		assert.ErrorIs(t, err, mcpguard.ErrMalformedMessage, body)
	}
}

// FuzzCalledTools: the reader of untrusted JSON-RPC bodies never panics,
// and whatever tools it finds, encoding/json (case-insensitive, last
// duplicate wins) would not find another tool in a single message it
// accepts.
func FuzzCalledTools(f *testing.F) {
	f.Add([]byte(whoamiCall))
	f.Add([]byte(`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}}]`))
	f.Add([]byte(`{"method":"tools/call","params":{"n\u0061me":"x"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		calls, err := mcpguard.CalledTools(body)
		if err != nil {
			if !errors.Is(err, mcpguard.ErrMalformedMessage) {
				t.Fatalf("error %v is not ErrMalformedMessage", err)
			}
			return
		}
		var msg struct {
			Method string
			Params struct{ Name string }
		}
		if json.Unmarshal(body, &msg) != nil || msg.Method != "tools/call" {
			return
		}
		names := mcpguard.CallNames(calls)
		if len(names) == 1 && names[0] != msg.Params.Name {
			t.Fatalf("read %q, encoding/json reads %q", names[0], msg.Params.Name)
		}
	})
}

// BenchmarkCalledTools is the cost WithTool adds to a POST of a tools/call:
// reading the JSON-RPC message for the tool it calls. Other messages (no
// "tools/call" in them, no escapes) are not read.
func BenchmarkCalledTools(b *testing.B) {
	body := []byte(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"read_messages","arguments":{"folder":"inbox","limit":20}},"_meta":{"progressToken":"p-1"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mcpguard.CalledTools(body); err != nil {
			b.Fatal(err)
		}
	}
}

// A tool can require any middleware.Requirement: one that needs an MFA
// login is answered as Require answers over plain HTTP (401
// insufficient_user_authentication with acr_values), with a JSON-RPC error
// for the call, and never runs.
func TestToolRequiresStepUp(t *testing.T) {
	e := newEnv(t, envConfig{mcp: []mcpguard.Option{
		mcpguard.WithTool("whoami", middleware.StepUp{ACRValues: []string{middleware.ACRAuth0MFA}}),
	}})
	hc := e.httpClient(nil, nil)
	weak := e.mint(t, oauthtest.Token{Subject: "auth0|u"})
	before := e.arrivals.Load()
	resp, body := e.rawCall(t, hc, whoamiCall, http.Header{"Authorization": {"Bearer " + weak}})
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("WWW-Authenticate"),
		`error="insufficient_user_authentication", error_description=`)
	assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `acr_values="`+middleware.ACRAuth0MFA+`"`)
	assert.JSONEq(t, `{"jsonrpc":"2.0","id":7,"error":{"code":-32003,"message":"insufficient_user_authentication"}}`, body)
	assert.Equal(t, before, e.arrivals.Load())

	strong := e.mint(t, oauthtest.Token{Subject: "auth0|u", Claims: map[string]any{"acr": middleware.ACRAuth0MFA}})
	resp, _ = e.rawCall(t, hc, whoamiCall, http.Header{"Authorization": {"Bearer " + strong}})
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, before+1, e.arrivals.Load())
}
