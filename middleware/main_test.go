package middleware_test

import (
	"io"
	"log/slog"
	"os"
	"testing"
)

// TestMain sends what Guards log to slog.Default to nowhere: most tests
// build Guards without a public URL, and each of them would print the
// warning that New rightly gives for that. Tests that read logs give a
// logger of their own, or set the default themselves.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}
