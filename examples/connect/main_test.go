package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExample runs the example: a good call, a stolen token refused, a
// missing scope refused, each with its challenge.
func TestExample(t *testing.T) {
	logs := quietDefaultLogger(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	err := run(ctx, &out)
	transcript := out.String()
	require.NoError(t, err, "transcript:\n%s", transcript)
	assert.Contains(t, transcript, "all 3 steps behaved as expected")
	assert.Contains(t, transcript, `hello world, from alice`)
	assert.Contains(t, transcript, `error=\"invalid_token\"`)
	assert.Contains(t, transcript, `error=\"insufficient_scope\"`)
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
