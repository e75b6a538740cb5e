package introspect_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDocsSnippets keeps every Go snippet of docs/opaque-tokens.md word for
// word the same as code in this package's examples, which run and check
// their output: the snippets users copy are the code that runs.
func TestDocsSnippets(t *testing.T) {
	doc, err := os.ReadFile("../docs/opaque-tokens.md")
	require.NoError(t, err)
	src, err := os.ReadFile("example_test.go")
	require.NoError(t, err)
	var unindented strings.Builder
	for line := range strings.Lines(string(src)) {
		unindented.WriteString(strings.TrimPrefix(line, "\t"))
	}
	rest := string(doc)
	snippets := 0
	for {
		var snippet string
		var ok bool
		if _, rest, ok = strings.Cut(rest, "```go\n"); !ok {
			break
		}
		snippet, rest, ok = strings.Cut(rest, "```\n")
		require.True(t, ok, "unterminated snippet")
		assert.Contains(t, unindented.String(), snippet, "snippet %d is not in example_test.go", snippets+1)
		snippets++
	}
	assert.Equal(t, 3, snippets)
}
