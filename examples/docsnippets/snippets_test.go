package docsnippets

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repo is the repository root, seen from this package's directory.
const repo = "../.."

// marker names the tested source of the Go block that follows it:
//
//	<!-- snippet: PATH -->        the block is a run of lines of PATH
//	<!-- snippet: PATH#Func -->   ... of the function (or method) Func in PATH
//
// PATH is relative to the repository root. A block that starts with
// "package " must be the whole file.
var marker = regexp.MustCompile(`^<!-- snippet: ([^#\s]+)(?:#(\w+))? -->$`)

// block is one fenced code block of a Markdown file.
type block struct {
	file, lang, marker string
	line               int // of the opening fence
	text               string
}

// TestDocSnippets checks every ```go block of README.md and docs/*.md: it
// must follow a snippet marker, and be, line for line, the named source
// region with one indentation removed. Every fence must name its language,
// so that no Go hides in an unlabelled block.
func TestDocSnippets(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repo, "docs", "*.md"))
	require.NoError(t, err)
	files = append([]string{filepath.Join(repo, "README.md")}, files...)
	checked := 0
	for _, file := range files {
		blocks, err := parseBlocks(file)
		require.NoError(t, err)
		for _, b := range blocks {
			name := fmt.Sprintf("%s:%d", rel(b.file), b.line)
			if !assert.NotEmpty(t, b.lang, "%s: a code fence without a language (```go, ```sh, ```http, ...)", name) || b.lang != "go" {
				continue
			}
			checked++
			m := marker.FindStringSubmatch(b.marker)
			if !assert.NotNil(t, m, "%s: a Go block needs a marker line before it, <!-- snippet: PATH[#Func] -->, naming the tested code it copies; found %q", name, b.marker) {
				continue
			}
			assert.NoError(t, matchSource(b.text, m[1], m[2]), "%s", name)
		}
	}
	assert.Positive(t, checked, "no Go snippets found: is the path to the README right?")
	t.Logf("%d Go snippets checked against their tested sources", checked)
}

// TestMatchSource makes sure that the comparison cannot pass vacuously.
func TestMatchSource(t *testing.T) {
	dir := t.TempDir()
	src := "package p\n\nfunc F() {\n\ta := 1\n\n\tif a > 0 {\n\t\ta++\n\t}\n}\n\nfunc G() {\n\tb := 2\n}\n"
	path := filepath.Join(dir, "p.go")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	tests := []struct {
		name, snippet, fn string
		ok                bool
	}{
		{"a run of the function, unindented", "a := 1\n\nif a > 0 {\n\ta++\n}\n", "F", true},
		{"an inner run", "a++\n", "F", true},
		{"anywhere in the file", "b := 2\n", "", true},
		{"the whole file", src, "", true},
		{"not in that function", "b := 2\n", "F", false},
		{"changed", "a := 2\n", "F", false},
		{"re-indented inside", "if a > 0 {\na++\n}\n", "F", false},
		{"lines skipped", "a := 1\nif a > 0 {\n", "F", false},
		{"a package clause but not the whole file", "package p\n\nfunc F() {\n", "", false},
		{"empty", "", "", false},
		{"no such function", "a := 1\n", "H", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := matchSourceAt(tt.snippet, path, tt.fn)
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
}

// parseBlocks returns the fenced code blocks of a Markdown file, each with
// the last non-blank line before its fence.
func parseBlocks(file string) ([]block, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var (
		blocks []block
		cur    *block
		prev   string
		body   strings.Builder
	)
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &block{file: file, lang: strings.TrimPrefix(trimmed, "```"), marker: prev, line: i + 1}
			body.Reset()
		case cur != nil && trimmed == "```":
			cur.text = body.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line + "\n")
		case trimmed != "":
			prev = trimmed
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: unterminated code fence", file, cur.line)
	}
	return blocks, nil
}

func matchSource(snippet, path, fn string) error {
	return matchSourceAt(snippet, filepath.Join(repo, filepath.FromSlash(path)), fn)
}

// matchSourceAt reports whether snippet is the source file at path (when
// it starts with a package clause), or a run of consecutive lines of it
// (of function fn when fn is set) with the same number of leading tabs
// removed from each non-blank line.
func matchSourceAt(snippet, path, fn string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	src := string(data)
	if strings.TrimSpace(snippet) == "" {
		return fmt.Errorf("empty snippet")
	}
	if strings.HasPrefix(snippet, "package ") {
		if snippet != src {
			return fmt.Errorf("the snippet is not the whole of %s; make them identical:\n%s", path, diffHint(snippet, src))
		}
		return nil
	}
	if fn != "" {
		body, err := funcSource(path, src, fn)
		if err != nil {
			return err
		}
		src = body
	}
	want := strings.Split(strings.TrimSuffix(snippet, "\n"), "\n")
	have := strings.Split(src, "\n")
	for start := range have {
		for indent := 0; indent <= 4; indent++ {
			if runMatches(have[start:], want, strings.Repeat("\t", indent)) {
				return nil
			}
		}
	}
	where := path
	if fn != "" {
		where += " in " + fn
	}
	return fmt.Errorf("the snippet is not a run of lines of %s; it starts with %q (copy the tested code, or change both)", where, want[0])
}

// runMatches reports whether have starts with want, each non-blank line
// of want prefixed with indent.
func runMatches(have, want []string, indent string) bool {
	if len(have) < len(want) {
		return false
	}
	for i, w := range want {
		if w == "" {
			if strings.TrimSpace(have[i]) != "" {
				return false
			}
			continue
		}
		if have[i] != indent+w {
			return false
		}
	}
	return true
}

// funcSource returns the source text of the function or method named fn.
func funcSource(path, src, fn string) (string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return "", err
	}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == fn {
			return src[fset.Position(fd.Pos()).Offset:fset.Position(fd.End()).Offset], nil
		}
	}
	return "", fmt.Errorf("%s has no function %s", path, fn)
}

// diffHint names the first line where a and b differ.
func diffHint(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d: snippet %q, source %q", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("lengths differ: snippet %d lines, source %d", len(al), len(bl))
}

func rel(path string) string {
	r, err := filepath.Rel(repo, path)
	if err != nil {
		return path
	}
	return r
}
