package middleware

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/mtls"
)

// TestReasonNames: each sentinel has its own stable name, found through
// any wrapping; a rejection that joins a category with a more specific
// cause is named by the cause.
func TestReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range reasons {
		assert.False(t, seen[r.name], "name %q used twice", r.name)
		seen[r.name] = true
		assert.Equal(t, r.name, reasonName(fmt.Errorf("context: %w", r.err)), "%v", r.err)
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("something else"), "other"},
		{errors.Join(ErrInvalidProof, dpop.ErrReplayed), "proof_replayed"},
		{errors.Join(ErrInvalidProof, fmt.Errorf("htu: %w", dpop.ErrURL)), "proof_htu"},
		{errors.Join(ErrUnavailable, fmt.Errorf("%w: %w", dpop.ErrReplayCacheUnavailable, dpop.ErrReplayCacheFull)), "replay_store_full"},
		{errors.Join(ErrUnavailable, fmt.Errorf("%w: %w", jwks.ErrUnavailable, errors.New("503"))), "keys_unavailable"},
		{errors.Join(ErrNonceRequired, dpop.ErrNonce), "nonce_required"},
		{errors.Join(ErrBindingMismatch, dpop.ErrKeyMismatch), "proof_key_mismatch"},
		{errors.Join(ErrBindingMismatch, fmt.Errorf("%w: %w", mtls.ErrNoCertificate, mtls.ErrUntrustedForwarder)), "certificate_untrusted_forwarder"},
		{errors.Join(ErrExpired, errors.New("token is expired")), "expired"},
	} {
		assert.Equal(t, c.want, reasonName(c.err), "%v", c.err)
	}
}

// TestEverySentinelHasAReasonName: a sentinel added to the package without a
// name would show as "other" in every metric.
func TestEverySentinelHasAReasonName(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	found := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		require.NoError(t, err)
		found += checkSentinelNames(t, f)
	}
	assert.Greater(t, found, 30, "the sentinels of errors.go and the others")
}

// checkSentinelNames checks the Err… = errors.New("…") of f and returns how
// many it found.
func checkSentinelNames(t *testing.T, f *ast.File) int {
	named := map[string]bool{}
	for _, r := range reasons {
		named[r.err.Error()] = true
	}
	found := 0
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, id := range spec.Names {
			if !strings.HasPrefix(id.Name, "Err") || i >= len(spec.Values) {
				continue
			}
			call, ok := spec.Values[i].(*ast.CallExpr)
			if !ok || len(call.Args) != 1 {
				continue
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok {
				continue
			}
			found++
			assert.True(t, named[strings.Trim(lit.Value, `"`)], "%s has no name in the reasons table (observe.go)", id.Name)
		}
		return true
	})
	return found
}
