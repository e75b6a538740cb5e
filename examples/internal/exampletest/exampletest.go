// Package exampletest holds what the examples' tests share.
package exampletest

import (
	"bytes"
	"log/slog"
	"testing"
)

// DefaultLogs sends slog.Default (where the middleware's warning about a
// missing public URL and the key set's warnings go) to a buffer for the
// rest of the test, and restores it after. Read the buffer only once the
// code under test has stopped logging (its Keys closed). Tests that use it
// must not run in parallel.
func DefaultLogs(t *testing.T) *bytes.Buffer {
	t.Helper()
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return &logs
}
