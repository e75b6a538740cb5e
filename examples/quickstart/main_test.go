package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/oauthtest"
)

// TestQuickstart builds the README's quick start as it is written, with
// only its four settings given at link time (-X), and calls it as a
// client would: a bearer token, a DPoP-bound token with its proof, a
// missing scope. With a public URL that is not the one the client calls,
// the DPoP request must fail with invalid_dpop_proof AND the log the quick
// start configures (Info) must say why (computed_htu), so that a newcomer
// is not left with a bare 401.
func TestQuickstart(t *testing.T) {
	iss, err := oauthtest.NewIssuer()
	require.NoError(t, err)
	defer iss.Close()

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	signer, err := dpop.NewSigner(key)
	require.NoError(t, err)
	bearer, err := iss.Mint(oauthtest.Token{Subject: "alice"})
	require.NoError(t, err)
	reader, err := iss.Mint(oauthtest.Token{Subject: "alice", Scope: "read:messages"})
	require.NoError(t, err)
	bound, err := iss.Mint(oauthtest.Token{Subject: "alice", JKT: signer.Thumbprint()})
	require.NoError(t, err)
	dpopClient := &http.Client{Transport: &dpop.Transport{Signer: signer, Source: dpop.StaticToken(bound)}}

	t.Run("public URL is the one clients call", func(t *testing.T) {
		base, log := startQuickstart(t, iss.Issuer(), "")
		assertGet(t, http.DefaultClient, base+"/api/me", bearer, http.StatusOK, "hello alice")
		assertGet(t, dpopClient, base+"/api/me", "", http.StatusOK, "hello alice")
		assertGet(t, http.DefaultClient, base+"/api/messages", reader, http.StatusOK, `["hello"]`)
		resp := assertGet(t, http.DefaultClient, base+"/api/messages", bearer, http.StatusForbidden, "")
		assert.Contains(t, strings.Join(resp.Header.Values("WWW-Authenticate"), ", "), `error="insufficient_scope"`)
		require.Eventually(t, func() bool { return strings.Contains(log.String(), "status=403") },
			10*time.Second, 10*time.Millisecond, "the rejection is logged:\n%s", log.String())
		assert.Contains(t, log.String(), `level=INFO msg="request rejected" status=403`)
		assert.NotContains(t, log.String(), "level=WARN", "no warning on the normal path")
	})

	t.Run("public URL is not the one clients call", func(t *testing.T) {
		base, log := startQuickstart(t, iss.Issuer(), "https://api.example.com")
		resp := assertGet(t, dpopClient, base+"/api/me", "", http.StatusUnauthorized, "")
		assert.Contains(t, strings.Join(resp.Header.Values("WWW-Authenticate"), ", "), `error="invalid_dpop_proof"`)
		require.Eventually(t, func() bool { return strings.Contains(log.String(), "code=invalid_dpop_proof") },
			10*time.Second, 10*time.Millisecond, "the rejection is logged:\n%s", log.String())
		line := lineWith(log.String(), "code=invalid_dpop_proof")
		t.Logf("the log line: %s", line)
		assert.Contains(t, line, `level=INFO msg="request rejected" status=401`)
		assert.Contains(t, line, "computed_htu=https://api.example.com/api/me")
		assert.NotContains(t, line, bound, "never the token")
	})
}

// startQuickstart builds and starts the quick start against issuer on a
// free loopback port, with publicURL (empty: the address it listens on).
// It returns the base URL and the program's log.
func startQuickstart(t *testing.T, issuer, publicURL string) (string, *syncBuffer) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	base := "http://" + addr
	if publicURL == "" {
		publicURL = base
	}
	bin := filepath.Join(t.TempDir(), "quickstart")
	ldflags := "-X main.issuer=" + issuer + " -X main.publicURL=" + publicURL + " -X main.addr=" + addr
	out, err := exec.Command("go", "build", "-o", bin, "-ldflags", ldflags, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	cmd := exec.Command(bin)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	log := &syncBuffer{}
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteLine(sc.Text())
			if strings.Contains(sc.Text(), `msg=listening`) {
				close(listening)
			}
		}
	}()
	select {
	case <-listening:
	case <-time.After(30 * time.Second):
		t.Fatalf("the quick start did not start:\n%s", log.String())
	}
	// It logs "listening" just before it binds: dial until it accepts.
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	return base, log
}

// assertGet sends GET url (with a Bearer token when token is set) and
// checks the status and, when want is set, the trimmed body.
func assertGet(t *testing.T, c *http.Client, url, token string, status int, want string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, status, resp.StatusCode, "%s: %s", url, body)
	if want != "" {
		assert.Equal(t, want, strings.TrimSpace(string(body)))
	}
	return resp
}

func lineWith(log, s string) string {
	for line := range strings.Lines(log) {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}

// syncBuffer collects log lines from the reading goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) WriteLine(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(line + "\n")
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
