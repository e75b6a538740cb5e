package middleware_test

import (
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/middleware"
)

// allocated returns the bytes allocated while f runs n times.
func allocated(n int, f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range n {
		f()
	}
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestTokenSizeLimit: a token one byte over WithMaxTokenSize is refused
// before parsing, one at the limit is parsed; and refusing a huge token
// costs nothing near its size.
func TestTokenSizeLimit(t *testing.T) {
	iss := newIssuer(t)
	const limit = 1024
	g := newGuard(t, iss, middleware.WithMaxTokenSize(limit))

	for _, tc := range []struct {
		name  string
		size  int
		want  error
		other error // the error it must not be
	}{
		{"at the limit: parsed (and found malformed)", limit, middleware.ErrMalformedToken, middleware.ErrTokenTooLarge},
		{"one byte over: refused before parsing", limit + 1, middleware.ErrTokenTooLarge, middleware.ErrMalformedToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := strings.Repeat("a", tc.size-2) + ".b"
			_, err := g.Check(bearer(tok))
			require.ErrorIs(t, err, tc.want)
			require.NotErrorIs(t, err, tc.other)
			assert.Equal(t, http.StatusUnauthorized, serve(g, bearer(tok)).status)
		})
	}
	t.Run("through Verify too", func(t *testing.T) {
		_, err := g.Verify(t.Context(), middleware.Request{Scheme: "Bearer", Token: strings.Repeat("a.", limit)})
		require.ErrorIs(t, err, middleware.ErrTokenTooLarge)
	})
	t.Run("memory stays flat for 1000 oversized requests", func(t *testing.T) {
		dflt := newGuard(t, iss)
		big := strings.Repeat("eyJh", 1<<18) // 1 MiB, far over the 16 KiB default
		r := bearer(big)
		n := 1000
		got := allocated(n, func() { _, _ = dflt.Check(r) })
		t.Logf("%d oversized requests of %d bytes allocated %d bytes", n, len(big), got)
		assert.Less(t, got, uint64(n*len(big)/100), "the token must not be copied or decoded")
	})
}

// TestClaimsDepthLimit: claims nested one level deeper than
// WithMaxClaimsDepth are refused before decoding; at the limit they verify.
func TestClaimsDepthLimit(t *testing.T) {
	iss := newIssuer(t)
	kid := iss.CurrentKeyID()
	key := iss.PrivateKey(kid)
	header := `{"alg":"RS256","kid":"` + kid + `"}`
	nested := func(depth int) string {
		// The payload object is level 1; "x" holds depth-1 more levels.
		c := goodClaims(iss)
		base := `{"iss":"` + c["iss"].(string) + `","aud":"` + audience + `","exp":` + itoa(c["exp"].(int64)) + `,"x":`
		return base + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`
	}
	for _, tc := range []struct {
		name       string
		opts       []middleware.Option
		depth      int
		wantRefuse bool
	}{
		{"default 16: depth 16 verifies", nil, 16, false},
		{"default 16: depth 17 refused", nil, 17, true},
		{"configured 4: depth 4 verifies", []middleware.Option{middleware.WithMaxClaimsDepth(4)}, 4, false},
		{"configured 4: depth 5 refused", []middleware.Option{middleware.WithMaxClaimsDepth(4)}, 5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGuard(t, iss, tc.opts...)
			tok := rawSigned(t, jwt.SigningMethodRS256, key, header, nested(tc.depth))
			_, err := g.Check(bearer(tok))
			if !tc.wantRefuse {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, middleware.ErrMalformedToken)
			assert.Equal(t, http.StatusUnauthorized, serve(g, bearer(tok)).status)
		})
	}
	t.Run("header depth counts too", func(t *testing.T) {
		g := newGuard(t, iss)
		deep := `{"alg":"RS256","kid":"` + kid + `","x":` + strings.Repeat("[", 16) + strings.Repeat("]", 16) + `}`
		tok := rawSigned(t, jwt.SigningMethodRS256, key, deep, nested(2))
		_, err := g.Check(bearer(tok))
		require.ErrorIs(t, err, middleware.ErrMalformedToken)
	})
	t.Run("memory stays flat: a deeply nested token is not decoded", func(t *testing.T) {
		g := newGuard(t, iss)
		// 11 KiB of '[' fits the 16 KiB token limit; decoding it into
		// interfaces would allocate far more than the token.
		payload := `{"x":` + strings.Repeat("[", 11<<10) + `}`
		tok := rawSigned(t, jwt.SigningMethodRS256, key, header, payload)
		require.Less(t, len(tok), 16<<10)
		r := bearer(tok)
		_, err := g.Check(r)
		require.ErrorIs(t, err, middleware.ErrMalformedToken)
		n := 1000
		got := allocated(n, func() { _, _ = g.Check(r) })
		t.Logf("%d deep tokens of %d bytes allocated %d bytes (%.2f per token byte)", n, len(tok), got, float64(got)/float64(n*len(tok)))
		// One base64 decode of the token (and its bookkeeping) is the expected
		// cost; decoding the nesting would cost many times the token.
		assert.Less(t, got, uint64(3*n*len(tok)))
	})
}
