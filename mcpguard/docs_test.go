package mcpguard_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDocsSnippets keeps the code of docs/mcp.md identical to the tested
// Example: its first go block is the body of protect, its second the body
// of connectAgent.
func TestDocsSnippets(t *testing.T) {
	doc, err := os.ReadFile("../docs/mcp.md")
	require.NoError(t, err)
	var blocks []string
	rest := string(doc)
	for {
		var ok bool
		if _, rest, ok = strings.Cut(rest, "```go\n"); !ok {
			break
		}
		var block string
		block, rest, ok = strings.Cut(rest, "```\n")
		require.True(t, ok, "unterminated go block")
		blocks = append(blocks, block)
	}
	require.Len(t, blocks, 2)

	src, err := os.ReadFile("example_test.go")
	require.NoError(t, err)
	for i, sig := range []string{
		"func protect(server *mcp.Server, keys middleware.KeySource, base, resource, issuer string) (http.Handler, error) {\n",
		"func connectAgent(ctx context.Context, resource, tokenURL, clientID, clientSecret string, signer *dpop.Signer) (*mcp.ClientSession, error) {\n",
	} {
		_, body, ok := strings.Cut(string(src), sig)
		require.True(t, ok, sig)
		body, _, ok = strings.Cut(body, "\n}\n")
		require.True(t, ok)
		var unindented strings.Builder
		for line := range strings.Lines(body + "\n") {
			unindented.WriteString(strings.TrimPrefix(line, "\t"))
		}
		assert.Equal(t, unindented.String(), blocks[i], "docs/mcp.md go block %d", i+1)
	}
}
