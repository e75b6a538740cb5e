package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/examples/internal/exampletest"
)

func TestRun(t *testing.T) {
	logs := exampletest.DefaultLogs(t)
	var out strings.Builder
	require.NoError(t, run(context.Background(), &out), out.String())
	assert.NotContains(t, out.String(), "UNEXPECTED")
	assert.Contains(t, out.String(), `error="insufficient_scope"`)
	assert.Empty(t, logs.String(), "no warning on the normal path")
}
