package bench

import (
	"io"
	"log/slog"
	"os"
	"testing"
)

// TestMain sends what Guards log to slog.Default to nowhere: the
// benchmarks build Guards without a public URL, and each would print the
// warning that middleware.New gives for that, in the middle of the
// benchmark output that benchstat reads.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}
