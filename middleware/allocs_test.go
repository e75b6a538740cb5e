package middleware_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// The allocation counts of the hot paths (BENCHMARKS.md, "Cost budget"),
// pinned so that a regression fails go test, not only a benchmark run.
const (
	// warmBearerAllocs: the request's context with its token (one
	// object) and the request copy of http.Request.WithContext.
	warmBearerAllocs = 2
	// coldBearerOwnAllocs: a cold RS256 Bearer request's allocations
	// beyond those of the standard library's rsa.VerifyPKCS1v15: the
	// decoded token, header and claims, aud and permissions lists, the
	// scopes, the Claims, the Validator's error list,
	// the request's context and the request copy.
	coldBearerOwnAllocs = 9
)

// TestWarmBearerAllocations: a Bearer token seen before costs
// warmBearerAllocs allocations through Guard.Handler.
func TestWarmBearerAllocations(t *testing.T) {
	iss := newIssuer(t)
	tok := mint(t, iss, oauthtest.Token{Scope: "read:messages", Permissions: []string{"read:messages"}})
	g := newGuard(t, iss, middleware.WithTokenCache(100, time.Minute))
	served := 0
	h := g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served++ }))
	r := bearer(tok)
	w := &discard{h: http.Header{}}
	h.ServeHTTP(w, r)
	require.Equal(t, 1, served)
	allocs := testing.AllocsPerRun(200, func() { h.ServeHTTP(w, r) })
	assert.Equal(t, 202, served, "every request reached the handler")
	assert.Equal(t, float64(warmBearerAllocs), allocs)
}

// TestColdBearerAllocations: a cold RS256 Bearer request allocates
// coldBearerOwnAllocs more than the signature verification itself.
func TestColdBearerAllocations(t *testing.T) {
	iss := newIssuer(t)
	tok := mint(t, iss, oauthtest.Token{Scope: "read:messages", Permissions: []string{"read:messages"}})
	pub := iss.PublicKey(iss.CurrentKeyID()).(*rsa.PublicKey)
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	require.NoError(t, err)
	input := []byte(tok[:i])
	floor := testing.AllocsPerRun(100, func() {
		d := sha256.Sum256(input)
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig) != nil {
			t.Fatal("bad signature")
		}
	})

	g := newGuard(t, iss, middleware.WithTokenCache(0, 0))
	served := 0
	h := g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served++ }))
	r := bearer(tok)
	w := &discard{h: http.Header{}}
	h.ServeHTTP(w, r)
	require.Equal(t, 1, served)
	allocs := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) })
	assert.Equal(t, float64(coldBearerOwnAllocs), allocs-floor, "%v allocations, %v of them the standard library's", allocs, floor)
}

type ctxKey struct{}

// TestVerifyContext: the context VerifyContext returns carries the token
// for TokenFromContext and ClaimsFromContext, keeps the parent's values,
// deadline and cancellation, and a warm request costs one allocation; a
// rejection returns no context.
func TestVerifyContext(t *testing.T) {
	iss := newIssuer(t)
	tok := mint(t, iss, oauthtest.Token{Scope: "read:messages"})
	g := newGuard(t, iss, middleware.WithTokenCache(100, time.Minute))
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
	req := middleware.Request{Scheme: "Bearer", Token: tok, Method: http.MethodGet}

	ctx, got, err := g.VerifyContext(parent, req)
	require.NoError(t, err)
	fromCtx, ok := middleware.TokenFromContext(ctx)
	require.True(t, ok)
	assert.Same(t, got, fromCtx)
	claims, ok := middleware.ClaimsFromContext(ctx)
	require.True(t, ok)
	assert.True(t, claims.HasScope("read:messages"))
	assert.Equal(t, "v", ctx.Value(ctxKey{}))
	cancel()
	<-ctx.Done()
	assert.ErrorIs(t, ctx.Err(), context.Canceled)

	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := g.VerifyContext(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	})
	assert.Equal(t, 1.0, allocs)

	ctx, got, err = g.VerifyContext(context.Background(), middleware.Request{Scheme: "Bearer", Token: tok + "x"})
	require.Error(t, err)
	assert.Nil(t, ctx)
	assert.Nil(t, got)
}

// TestIntrospectionCostsJWTsNothing: on a Guard that introspects opaque
// tokens as well, a JWT is split and decoded once, as on a Guard without
// introspection (routing it used to decode it a second time): a cold
// Bearer request allocates the same.
func TestIntrospectionCostsJWTsNothing(t *testing.T) {
	iss := newIssuer(t)
	tok := mint(t, iss, oauthtest.Token{Scope: "read:messages"})
	allocs := func(g *middleware.Guard) float64 {
		h := g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		r := bearer(tok)
		w := &discard{h: http.Header{}}
		return testing.AllocsPerRun(50, func() { h.ServeHTTP(w, r) })
	}
	plain := allocs(newGuard(t, iss, middleware.WithTokenCache(0, 0)))
	both := allocs(newGuard(t, iss, middleware.WithTokenCache(0, 0), middleware.WithIntrospection(fixedAnswer(t, iss.Issuer(), map[string]any{"active": false}))))
	assert.Equal(t, plain, both, "a JWT on a Guard that also introspects")
}
