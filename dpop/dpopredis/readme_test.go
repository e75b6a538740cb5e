package dpopredis_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestREADMEFleetSnippet keeps the README's "Running a fleet" snippet and
// newVerifier, which Example_fleet runs, word for word the same, so that
// the snippet users copy is the code that runs.
func TestREADMEFleetSnippet(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "\n## Running a fleet\n")
	require.True(t, ok, "README has no Running a fleet section")
	_, snippet, ok := strings.Cut(section, "```go\n")
	require.True(t, ok)
	snippet, _, ok = strings.Cut(snippet, "```\n")
	require.True(t, ok)

	src, err := os.ReadFile("example_test.go")
	require.NoError(t, err)
	_, body, ok := strings.Cut(string(src), "func newVerifier() *dpop.Verifier {\n")
	require.True(t, ok)
	body, _, ok = strings.Cut(body, "\treturn verifier\n}\n")
	require.True(t, ok)
	var unindented strings.Builder
	for line := range strings.Lines(body) {
		unindented.WriteString(strings.TrimPrefix(line, "\t"))
	}
	assert.Equal(t, unindented.String(), snippet)
}
