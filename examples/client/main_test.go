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
	assert.Contains(t, out.String(), "GET /api/messages -> 200")
	assert.Contains(t, out.String(), "POST /api/messages -> 200 hello auth0|user-123, you sent 16 bytes")
}
