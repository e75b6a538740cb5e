package oidcprovider

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// recorder notes how unavailable ended a test.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()           {}
func (r *recorder) Fatal(args ...any) { r.fatal = fmt.Sprint(args...) }
func (r *recorder) Skip(args ...any)  { r.skip = fmt.Sprint(args...) }

// TestUnavailable: a server that cannot start fails the test under CI and
// skips it elsewhere, saying how to install it.
func TestUnavailable(t *testing.T) {
	for _, tt := range []struct {
		ci        string
		wantFatal bool
	}{{"true", true}, {"1", true}, {"", false}} {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := &recorder{TB: t}
			unavailable(r, errors.New("node not found"))
			msg := r.skip
			if tt.wantFatal {
				msg = r.fatal
				assert.Empty(t, r.skip)
			} else {
				assert.Empty(t, r.fatal)
			}
			assert.Contains(t, msg, "node not found")
			assert.Contains(t, msg, "npm ci --prefix interop/oidcprovider")
		})
	}
}
