package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/oauthtest"
)

func TestRun(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(context.Background(), &out), out.String())
	assert.Contains(t, out.String(), "GET /api/messages -> 200")
	assert.Contains(t, out.String(), "POST /api/messages -> 200 hello auth0|user-123, you sent 16 bytes")
}

func TestInvalidFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"no flags", nil, []string{"-api is required\n-token-url is required\n-client-id is required\n-client-secret is required"}},
		{"nothing but -dpop", []string{"-dpop"}, []string{"-api is required\n-token-url is required\n-client-id is required"}},
		{"-demo with others", []string{"-demo", "-dpop"}, []string{"-demo takes no other flags"}},
		{"relative URLs", []string{"-api", "/x", "-token-url", "ftp://a/token", "-client-id", "c", "-client-secret", "s"},
			[]string{`-api "/x"`, `-token-url "ftp://a/token"`}},
		{"unknown auth", []string{"-api", "http://a/x", "-token-url", "http://a/t", "-client-id", "c", "-client-secret", "s", "-auth", "jwt"},
			[]string{`-auth "jwt"`}},
		{"cert without key", []string{"-api", "http://a/x", "-token-url", "http://a/t", "-client-id", "c", "-client-secret", "s", "-cert", "c.pem"},
			[]string{"-cert and -key go together"}},
		{"unknown flag", []string{"-verbose"}, []string{"flag provided but not defined"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CLIENT_SECRET", "")
			var out, errOut strings.Builder
			err := runArgs(context.Background(), tt.args, &out, &errOut)
			require.ErrorIs(t, err, errUsage)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestFlagsAgainstTestIssuer(t *testing.T) {
	iss, err := oauthtest.NewIssuer()
	require.NoError(t, err)
	defer iss.Close()
	require.NoError(t, iss.RegisterClient(oauthtest.Client{ID: "svc", Secret: "a:secret%"}))
	keys, err := jwks.New(context.Background(), jwks.WithIssuer(iss.Issuer()))
	require.NoError(t, err)
	defer keys.Close()
	api, err := startAPI(keys, iss.Audience()) // DPoP and server nonces required
	require.NoError(t, err)
	defer api.Close()

	for _, auth := range []string{"basic", "post"} {
		var out strings.Builder
		args := []string{"-api", api.URL + "/api/messages", "-token-url", iss.TokenURL(), "-client-id", "svc",
			"-client-secret", "a:secret%", "-auth", auth, "-audience", iss.Audience()}
		err := runArgs(context.Background(), append(args, "-dpop"), &out, io.Discard)
		require.NoError(t, err, out.String())
		assert.Contains(t, out.String(), "token: token_type DPoP, bound to the DPoP key")
		assert.Contains(t, out.String(), "-> 200 hello svc@clients")

		out.Reset()
		err = runArgs(context.Background(), args, &out, io.Discard)
		require.Error(t, err, "a bearer token where DPoP is required")
		assert.Contains(t, out.String(), "not bound: whoever holds it can use it")
		assert.Contains(t, out.String(), "-> 401")
		assert.Contains(t, out.String(), `WWW-Authenticate: DPoP `, "the challenge says why")
		assert.Contains(t, out.String(), `error="invalid_token", error_description="sender-constrained token required"`)
		assert.Contains(t, err.Error(), "401 Unauthorized (invalid_token: sender-constrained token required)")
	}
}

// TestProcess runs the command as a user does: without flags it reports
// each missing flag on a line of its own and exits 2; -demo succeeds
// without printing a warning.
func TestProcess(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "client")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)

	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "CLIENT_SECRET=")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.Error(t, cmd.Run())
	assert.Equal(t, 2, cmd.ProcessState.ExitCode())
	assert.Empty(t, stdout.String())
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	require.Len(t, lines, 5, stderr.String())
	for i, want := range []string{"-api", "-token-url", "-client-id", "-client-secret"} {
		assert.Equal(t, "client: "+want+" is required", lines[i])
	}
	assert.Contains(t, lines[4], "-h")

	cmd = exec.Command(bin, "-demo")
	stdout.Reset()
	stderr.Reset()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	assert.Contains(t, stdout.String(), "POST /api/messages -> 200")
	assert.Empty(t, stderr.String(), "no warning on the normal path")
}
