package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/examples/internal/exampletest"
)

// TestExample runs the example: a good call, a stolen token refused, a
// missing scope refused, each with its challenge.
func TestExample(t *testing.T) {
	logs := exampletest.DefaultLogs(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	err := run(ctx, &out)
	transcript := out.String()
	require.NoError(t, err, "transcript:\n%s", transcript)
	assert.Contains(t, transcript, "all 3 steps behaved as expected")
	assert.Contains(t, transcript, `hello world, from alice`)
	assert.Contains(t, transcript, `error=\"invalid_token\"`)
	assert.Contains(t, transcript, `error=\"insufficient_scope\"`)
	assert.Empty(t, logs.String(), "no warning on the normal path")
}
