package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	logs := quietDefaultLogger(t)
	var out strings.Builder
	require.NoError(t, run(context.Background(), &out), out.String())
	assert.NotContains(t, out.String(), "UNEXPECTED")
	assert.Contains(t, out.String(), `error="insufficient_scope"`)
	assert.Empty(t, logs.String(), "no warning on the normal path")
}

// quietDefaultLogger sends slog.Default (where the middleware's warning
// about a missing public URL and the key set's warnings go) to a buffer
// for the test, and restores it after.
func quietDefaultLogger(t *testing.T) *bytes.Buffer {
	t.Helper()
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return &logs
}
