package grpcguard_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// lockedBuffer is a log destination safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// take returns the JSON lines logged since the last call.
func (l *lockedBuffer) take(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m))
		out = append(out, m)
	}
	l.b.Reset()
	return out
}

// TestRejectedCallsAreLogged: a rejected call is written to the Guard's
// logger as an HTTP rejection is, one line naming the cause, the call (its
// full method as the path) and the peer, for unary and streaming calls and
// for the interceptor's own scope check; never the token.
func TestRejectedCallsAreLogged(t *testing.T) {
	logs := &lockedBuffer{}
	e := newEnv(t, envConfig{guard: []middleware.Option{middleware.WithLogger(slog.New(slog.NewJSONHandler(logs, nil)))}})
	noScope := e.mint(t, oauthtest.Token{Subject: "dave", ClientID: "app-9"})
	conn := e.dial(t, nil)
	logs.take(t) // New's warning about the Guard's public URL, which gRPC does not use

	for _, tt := range []struct {
		name   string
		stream bool
		auth   string
		code   codes.Code
		want   map[string]any
	}{
		{"garbage, unary", false, "Bearer garbage", codes.Unauthenticated,
			map[string]any{"cause": "malformed_token", "status": float64(401), "path": unaryMethod}},
		{"garbage, stream", true, "Bearer garbage", codes.Unauthenticated,
			map[string]any{"cause": "malformed_token", "path": streamMethod}},
		{"missing scope", false, "Bearer " + noScope, codes.PermissionDenied,
			map[string]any{"cause": "insufficient_scope", "status": float64(403), "issuer": e.iss.Issuer(), "client_id": "app-9"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := call(t, conn, tt.stream, "authorization", tt.auth)
			require.Equal(t, tt.code, a.code, a.msg)
			lines := logs.take(t)
			require.Len(t, lines, 1)
			l := lines[0]
			assert.Equal(t, "request rejected", l["msg"])
			assert.Equal(t, "INFO", l["level"])
			assert.Equal(t, "POST", l["method"])
			assert.Contains(t, l["remote_addr"], "127.0.0.1:")
			for k, v := range tt.want {
				assert.Equal(t, v, l[k], k)
			}
			for _, part := range strings.Split(noScope, ".") {
				for k, v := range l {
					assert.NotContains(t, fmt.Sprint(v), part, k)
				}
			}
		})
	}
}
