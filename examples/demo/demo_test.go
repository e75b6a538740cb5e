package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDemo runs the whole demo, so CI fails when any step misbehaves: a
// stolen token that gets through, a replayed proof that is accepted, a nonce
// flow that does not complete, a missing scope that is not refused.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out strings.Builder
	err := run(ctx, &out)
	require.NoError(t, err, "transcript:\n%s", out.String())
	transcript := out.String()
	assert.Contains(t, transcript, "all 14 steps behaved as expected")
	assert.NotContains(t, transcript, "UNEXPECTED")
	for _, s := range []string{`error="invalid_token"`, `error="invalid_dpop_proof"`, `error="use_dpop_nonce"`, `error="insufficient_scope"`, `error="insufficient_user_authentication"`} {
		assert.Contains(t, transcript, s)
	}
	assert.Equal(t, 6, strings.Count(transcript, "-> 200 OK"), "only steps 1, 2, 6, 7, 11 and 13 succeed")
}

// TestWantCheck makes sure the demo's own verdicts cannot pass vacuously.
func TestWantCheck(t *testing.T) {
	tests := []struct {
		name string
		want want
		ex   []exchange
		ok   bool
	}{
		{"200 as wanted", want{status: 200}, []exchange{{status: 200}}, true},
		{"401 when 200 wanted", want{status: 200}, []exchange{{status: 401}}, false},
		{"no exchange", want{status: 200}, nil, false},
		{"code present", want{status: 401, code: "invalid_token"}, []exchange{{status: 401, challenges: []string{`Bearer error="invalid_token"`}}}, true},
		{"code missing", want{status: 401, code: "invalid_token"}, []exchange{{status: 401, challenges: []string{`Bearer realm="demo"`}}}, false},
		{"nonce retry", want{status: 200, first: "use_dpop_nonce"}, []exchange{{status: 401, challenges: []string{`DPoP error="use_dpop_nonce"`}}, {status: 200}}, true},
		{"no retry happened", want{status: 200, first: "use_dpop_nonce"}, []exchange{{status: 200}}, false},
		{"parameter present", want{status: 401, code: "insufficient_user_authentication", param: `acr_values="x"`},
			[]exchange{{status: 401, challenges: []string{`Bearer error="insufficient_user_authentication", acr_values="x"`}}}, true},
		{"parameter missing", want{status: 401, code: "insufficient_user_authentication", param: `acr_values="x"`},
			[]exchange{{status: 401, challenges: []string{`Bearer error="insufficient_user_authentication"`}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.ok, tt.want.check(tt.ex) == "")
		})
	}
}
