package interop_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
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

	"github.com/senderbound/senderbound/interop/oidcprovider"
)

var (
	rsOnce   sync.Once
	rsBinary string
	rsErr    error
)

// resourceServer builds examples/resource-server once (it is a module of
// the workspace, not a dependency of this one).
func resourceServer(t *testing.T) string {
	t.Helper()
	rsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "interop-resource-server")
		if err != nil {
			rsErr = err
			return
		}
		rsBinary = filepath.Join(dir, "resource-server")
		out, err := exec.Command("go", "build", "-o", rsBinary, "github.com/senderbound/senderbound/examples/resource-server").CombinedOutput()
		if err != nil {
			rsErr = &exec.Error{Name: "go build examples/resource-server (needs the go.work workspace): " + string(out), Err: err}
		}
	})
	require.NoError(t, rsErr)
	return rsBinary
}

// startResourceServer runs the example with args on a free loopback port
// and returns its base URL; it is stopped (SIGTERM) when t ends.
func startResourceServer(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(resourceServer(t), append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	var stderr strings.Builder
	var mu sync.Mutex
	cmd.Stderr = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return stderr.Write(p) })
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	listening, done := make(chan string, 1), make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				listening <- strings.Fields(addr)[0]
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = cmd.Wait()
		if t.Failed() {
			mu.Lock()
			t.Logf("resource-server's stderr:\n%s", stderr.String())
			mu.Unlock()
		}
	})
	select {
	case addr := <-listening:
		return "http://" + addr
	case <-done:
		t.Fatalf("resource-server exited before listening: %s", stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("resource-server: no listening line")
	}
	return ""
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// get sends GET base+path with the Authorization header auth.
func get(t *testing.T, url, auth string) (int, string, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, strings.Join(resp.Header.Values("WWW-Authenticate"), ", "), body
}

// TestResourceServerIntrospection drives examples/resource-server's
// introspection flags against the real authorization server.
func TestResourceServerIntrospection(t *testing.T) {
	as := oidcprovider.Start(t, oidcprovider.Config{})
	creds := []string{"-issuer", as.Issuer(), "-client-id", as.ResourceServer.ID, "-client-secret", as.ResourceServer.Secret}
	tests := []struct {
		name string
		args []string
	}{
		{"discovery", []string{"-introspect"}},
		{"configured endpoint", []string{"-introspection-url", as.IntrospectionURL()}},
		{"JWT answers", []string{"-introspect", "-introspection-jwt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := startResourceServer(t, append(creds, tt.args...)...)
			read := as.Token(t, oidcprovider.TokenRequest{Scopes: []string{"read:messages"}})
			none := as.Token(t, oidcprovider.TokenRequest{})

			status, challenge, body := get(t, base+"/api/private", "Bearer "+read.AccessToken)
			require.Equal(t, http.StatusOK, status, challenge)
			var p struct {
				Sub     string         `json:"sub"`
				Binding string         `json:"binding"`
				Claims  map[string]any `json:"claims"`
			}
			require.NoError(t, json.Unmarshal(body, &p))
			assert.Equal(t, as.App.ID, p.Sub)
			assert.Equal(t, "none", p.Binding)
			assert.Equal(t, "read:messages", p.Claims["scope"])

			status, challenge, _ = get(t, base+"/api/scoped", "Bearer "+read.AccessToken)
			assert.Equal(t, http.StatusOK, status, challenge)
			status, challenge, _ = get(t, base+"/api/scoped", "Bearer "+none.AccessToken)
			assert.Equal(t, http.StatusForbidden, status)
			assert.Contains(t, challenge, `error="insufficient_scope"`)

			other := as.Token(t, oidcprovider.TokenRequest{Resource: oidcprovider.OtherAudience, Scopes: []string{"read:messages"}})
			status, challenge, _ = get(t, base+"/api/private", "Bearer "+other.AccessToken)
			assert.Equal(t, http.StatusUnauthorized, status, "a token for another audience")
			assert.Contains(t, challenge, `error="invalid_token"`)
		})
	}

	t.Run("revoked, cache off", func(t *testing.T) {
		base := startResourceServer(t, append(creds, "-introspect", "-introspection-cache", "0")...)
		tok := as.Token(t, oidcprovider.TokenRequest{Scopes: []string{"read:messages"}})
		status, challenge, _ := get(t, base+"/api/private", "Bearer "+tok.AccessToken)
		require.Equal(t, http.StatusOK, status, challenge)
		as.Revoke(t, tok.AccessToken)
		status, challenge, _ = get(t, base+"/api/private", "Bearer "+tok.AccessToken)
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Contains(t, challenge, `error="invalid_token"`)
	})
	t.Run("wrong client secret fails closed", func(t *testing.T) {
		base := startResourceServer(t, "-issuer", as.Issuer(), "-introspect",
			"-client-id", as.ResourceServer.ID, "-client-secret", "not the secret")
		tok := as.Token(t, oidcprovider.TokenRequest{Scopes: []string{"read:messages"}})
		status, _, _ := get(t, base+"/api/private", "Bearer "+tok.AccessToken)
		assert.Equal(t, http.StatusServiceUnavailable, status)
	})
	t.Run("metadata unchanged", func(t *testing.T) {
		with := startResourceServer(t, append(creds, "-introspect")...)
		without := startResourceServer(t, "-issuer", as.Issuer())
		_, _, a := get(t, with+"/.well-known/oauth-protected-resource", "")
		_, _, b := get(t, without+"/.well-known/oauth-protected-resource", "")
		assert.Equal(t, strings.ReplaceAll(string(b), without, "BASE"), strings.ReplaceAll(string(a), with, "BASE"))
	})
}
