package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
)

// TestExample runs the whole demo, so CI fails when any step misbehaves.
func TestExample(t *testing.T) {
	var out strings.Builder
	err := run(context.Background(), nil, &out, io.Discard)
	transcript := out.String()
	require.NoError(t, err, "transcript:\n%s", transcript)
	assert.Contains(t, transcript, "all 9 steps behaved as expected")
	assert.NotContains(t, transcript, "UNEXPECTED")
}

// TestServe builds the command and runs it with -serve as a process: it
// prints "listening on <addr>", answers /healthz without a token, serves
// the protected resource metadata at both well-known paths, refuses /mcp
// without a token with a challenge that points to the metadata, serves
// go-sdk clients with the bearer token and the client credentials it
// printed, and stops on SIGTERM.
func TestServe(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "mcp")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-serve", "-addr", "127.0.0.1:0", "-mechanism", "dpop", "-dpop-nonce")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = io.Discard
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	listening := regexp.MustCompile(`^listening on (127\.0\.0\.1:\d+) `)
	tokenLine := regexp.MustCompile(`^TOKEN=(\S+)$`)
	clientLine := regexp.MustCompile(`token endpoint (\S+), client (\S+), secret (\S+)$`)
	var addr, token string
	var creds []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := tokenLine.FindStringSubmatch(sc.Text()); m != nil {
			token = m[1]
		}
		if m := clientLine.FindStringSubmatch(sc.Text()); m != nil {
			creds = m[1:]
		}
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
			break
		}
	}
	require.NotEmpty(t, addr, "no listening line")
	require.NotEmpty(t, token, "no TOKEN line")
	require.Len(t, creds, 3, "no client credentials line")
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	base := "http://" + addr

	get := func(path string) (*http.Response, string) {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get("/healthz")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "ok\n", body)
	for _, p := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		resp, body = get(p)
		require.Equal(t, http.StatusOK, resp.StatusCode, p)
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &m))
		assert.Equal(t, base+"/mcp", m["resource"])
		assert.Len(t, m["authorization_servers"], 1)
		assert.Equal(t, []any{"read:messages"}, m["scopes_supported"])
		assert.Equal(t, []any{"header"}, m["bearer_methods_supported"])
		assert.NotEmpty(t, m["dpop_signing_alg_values_supported"])
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/mcp", strings.NewReader(`{}`))
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, strings.Join(resp.Header.Values("WWW-Authenticate"), ", "),
		`resource_metadata="`+base+`/.well-known/oauth-protected-resource/mcp"`)

	// MCP clients: the printed bearer token, and an agent with DPoP-bound
	// tokens from the printed client credentials (nonces demanded).
	bearerClient := &http.Client{Transport: bearerTransport(token)}
	cs, err := connect(ctx, bearerClient, base+"/mcp")
	require.NoError(t, err)
	got, err := callText(ctx, cs, "whoami")
	require.NoError(t, err)
	assert.Equal(t, "auth0|user-123", got)
	got, err = callText(ctx, cs, "read_messages")
	require.NoError(t, err)
	assert.Equal(t, messages, got)
	require.NoError(t, cs.Close())

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	signer, err := dpop.NewSigner(key)
	require.NoError(t, err)
	source, err := dpop.NewClientCredentials(creds[0], signer, dpop.ClientSecretBasic(creds[1], creds[2]),
		dpop.WithTokenAudience("https://api.example.com"))
	require.NoError(t, err)
	cs, err = connect(ctx, &http.Client{Transport: &dpop.Transport{Signer: signer, Source: source}}, base+"/mcp")
	require.NoError(t, err)
	got, err = callText(ctx, cs, "whoami")
	require.NoError(t, err)
	assert.Equal(t, creds[1]+"@clients", got)
	require.NoError(t, cs.Close())

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait())
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-mechanism", "magic"},
		{"-mechanism", "mtls"},
		{"-jwks-url", "https://x/jwks"},
		{"-issuer", "http://example.com/"},
		{"-public-url", "nope"},
		{"extra"},
	} {
		_, err := parseFlags(args, io.Discard)
		assert.ErrorIs(t, err, errUsage, args)
	}
	o, err := parseFlags([]string{"-serve"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, options{serve: true, addr: "127.0.0.1:8080", audience: "https://api.example.com", mechanism: "none"}, *o)
}

// TestFlagsMatchResourceServer keeps the flags of -serve those of
// examples/resource-server: every flag definition there (but -metrics) is
// here, character for character (names, defaults, usage texts).
func TestFlagsMatchResourceServer(t *testing.T) {
	theirs, err := os.ReadFile("../resource-server/main.go")
	require.NoError(t, err)
	ours, err := os.ReadFile("main.go")
	require.NoError(t, err)
	def := regexp.MustCompile(`(?m)^\tfs\.\w+Var\(&o\.\w+, "([\w-]+)", .*$`)
	defs := def.FindAllStringSubmatch(string(theirs), -1)
	require.GreaterOrEqual(t, len(defs), 10)
	for _, d := range defs {
		if d[1] == "metrics" {
			continue
		}
		assert.Contains(t, string(ours), d[0]+"\n", "flag -%s differs from examples/resource-server", d[1])
	}
}

// bearerTransport sends every request with "Authorization: Bearer <token>".
type bearerTransport string

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}
