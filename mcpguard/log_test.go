package mcpguard_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNoSubjectRefusalIsLogged: the refusal mcpguard makes itself, of a
// token without sub, is written to the Guard's logger as the Guard's own
// rejections are, and without the token.
func TestNoSubjectRefusalIsLogged(t *testing.T) {
	logs := &syncBuffer{}
	e := newEnv(t, envConfig{guard: []middleware.Option{middleware.WithLogger(slog.New(slog.NewTextHandler(logs, nil)))}})
	tok := e.mint(t, oauthtest.Token{Claims: map[string]any{"sub": nil}})
	resp, _ := e.rawCall(t, e.httpClient(nil, nil), whoamiCall, http.Header{"Authorization": {"Bearer " + tok}})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	var lines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `msg="request rejected"`) {
			lines = append(lines, l)
		}
	}
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0], "status=401")
	assert.Contains(t, lines[0], "code=invalid_token")
	assert.Contains(t, lines[0], "path=/mcp")
	assert.Contains(t, lines[0], "issuer="+e.iss.Issuer())
	for _, part := range strings.Split(tok, ".") {
		assert.NotContains(t, logs.String(), part)
	}
}
