package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	clientOnce sync.Once
	clientBin  string
	clientErr  error
)

// clientBinary builds examples/client beside the resource server's binary
// (TestMain removes that directory).
func clientBinary(t *testing.T) string {
	t.Helper()
	clientOnce.Do(func() {
		clientBin = filepath.Join(filepath.Dir(binary), "client")
		out, err := exec.Command("go", "build", "-o", clientBin, "../client").CombinedOutput()
		if err != nil {
			clientErr = &exec.Error{Name: "go build ../client: " + string(out), Err: err}
		}
	})
	require.NoError(t, clientErr)
	return clientBin
}

// tokenCommands returns the examples/client arguments of each printed
// command, by its label ("bearer token", …).
func tokenCommands(t *testing.T, lines []string) map[string][]string {
	t.Helper()
	const run = "go run ./examples/client "
	cmds := map[string][]string{}
	for _, l := range lines {
		label, cmd, ok := strings.Cut(l, ": ")
		if !ok || !strings.HasPrefix(cmd, run) {
			continue
		}
		cmds[label] = strings.Fields(strings.TrimPrefix(cmd, run))
	}
	return cmds
}

// runClient runs examples/client with args and returns its output and
// whether it succeeded.
func runClient(t *testing.T, args []string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, clientBinary(t), args...).CombinedOutput()
	return string(out), err == nil
}

// binding reads the binding that /api/scoped reported in the client's
// output line "GET URL -> 200 {json}".
func binding(t *testing.T, out string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if _, body, ok := strings.Cut(l, " -> 200 "); ok {
			var p privateReply
			require.NoError(t, json.Unmarshal([]byte(body), &p))
			assert.Equal(t, "read:messages", p.Claims["scope"])
			return p.Binding
		}
	}
	t.Fatalf("no 200 answer in %q", out)
	return ""
}

func TestPrintedTokenCommandsOverTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, _ := serverCert(t)
	s := start(t, "-tls-cert", certFile, "-tls-key", keyFile)
	cmds := tokenCommands(t, s.before)
	require.Len(t, cmds, 3, "printed lines: %q", s.before)
	for label, want := range map[string]string{
		"bearer token":            "none",
		"DPoP-bound token":        "dpop",
		"certificate-bound token": "mtls",
	} {
		out, ok := runClient(t, cmds[label])
		require.True(t, ok, "%s: %s", label, out)
		assert.Equal(t, want, binding(t, out), label)
	}
	assert.Contains(t, strings.Join(cmds["certificate-bound token"], " "), "-token-url https://")

	// The client's files live as long as the server.
	var files []string
	for i, a := range cmds["certificate-bound token"] {
		if a == "-cert" || a == "-key" || a == "-ca" {
			files = append(files, cmds["certificate-bound token"][i+1])
		}
	}
	require.Len(t, files, 3)
	s.stop(t, syscall.SIGTERM)
	for _, f := range files {
		_, err := os.Stat(f)
		assert.ErrorIs(t, err, os.ErrNotExist, f)
	}
}

func TestPrintedTokenCommandsDPoPRequired(t *testing.T) {
	t.Parallel()
	s := start(t, "-mechanism", "dpop", "-required", "-dpop-nonce")
	cmds := tokenCommands(t, s.before)
	require.Len(t, cmds, 2, "printed lines: %q", s.before)
	assert.Contains(t, strings.Join(s.before, "\n"), "certificate-bound token: serve HTTPS (-tls-cert and -tls-key) to try it")

	out, ok := runClient(t, cmds["DPoP-bound token"])
	require.True(t, ok, out)
	assert.Equal(t, "dpop", binding(t, out))

	out, ok = runClient(t, cmds["bearer token"])
	assert.False(t, ok, "a bearer token is refused where DPoP is required: %s", out)
	assert.Contains(t, out, "-> 401")
	s.stop(t, syscall.SIGTERM)
}
