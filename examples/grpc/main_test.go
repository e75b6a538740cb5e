package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/examples/internal/exampletest"
	"google.golang.org/grpc/codes"
)

// TestExample runs the whole example, so CI fails when any step
// misbehaves: a stolen token that gets through, a replayed proof that is
// accepted, a nonce round trip that does not complete, a missing scope that
// is not refused.
func TestExample(t *testing.T) {
	logs := exampletest.DefaultLogs(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	err := run(ctx, &out)
	transcript := out.String()
	require.NoError(t, err, "transcript:\n%s", transcript)
	assert.Contains(t, transcript, "all 9 steps behaved as expected")
	assert.NotContains(t, transcript, "UNEXPECTED")
	for _, s := range []string{"(invalid_token)", "(invalid_dpop_proof)", "(use_dpop_nonce)", "PermissionDenied (insufficient_scope)"} {
		assert.Contains(t, transcript, s)
	}
	assert.Equal(t, 4, strings.Count(transcript, "-> OK"), "only steps 1, 5, 6 and 9 succeed")
	assert.Empty(t, logs.String(), "no warning on the normal path")
}

// TestWantCheck makes sure the example's own verdicts cannot pass vacuously.
func TestWantCheck(t *testing.T) {
	unauth := func(e string) attempt { return attempt{code: codes.Unauthenticated, error: e} }
	tests := []struct {
		name string
		want want
		code codes.Code
		as   []attempt
		ok   bool
	}{
		{"OK as wanted", want{code: codes.OK}, codes.OK, []attempt{{code: codes.OK}}, true},
		{"refused when OK wanted", want{code: codes.OK}, codes.Unauthenticated, []attempt{unauth("invalid_token")}, false},
		{"no attempt", want{code: codes.OK}, codes.OK, nil, false},
		{"error present", want{code: codes.Unauthenticated, error: "invalid_token"}, codes.Unauthenticated, []attempt{unauth("invalid_token")}, true},
		{"other error", want{code: codes.Unauthenticated, error: "invalid_token"}, codes.Unauthenticated, []attempt{unauth("invalid_dpop_proof")}, false},
		{"nonce retry", want{code: codes.OK, first: "use_dpop_nonce"}, codes.OK, []attempt{unauth("use_dpop_nonce"), {code: codes.OK}}, true},
		{"no retry happened", want{code: codes.OK, first: "use_dpop_nonce"}, codes.OK, []attempt{{code: codes.OK}}, false},
		{"unexpected retry", want{code: codes.OK}, codes.OK, []attempt{unauth("use_dpop_nonce"), {code: codes.OK}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.ok, tt.want.check(tt.code, tt.as) == "")
		})
	}
}
