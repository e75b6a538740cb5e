package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(context.Background(), &out), out.String())
	assert.NotContains(t, out.String(), "UNEXPECTED")
	assert.Contains(t, out.String(), `error="insufficient_scope"`)
}
