package middleware_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/senderbound/senderbound/middleware"
)

// TestNewContext: a token put in a context by another transport's adapter
// is found by the same accessors as Guard.Handler's.
func TestNewContext(t *testing.T) {
	_, ok := middleware.TokenFromContext(context.Background())
	assert.False(t, ok)
	_, ok = middleware.ClaimsFromContext(context.Background())
	assert.False(t, ok)

	tok := &middleware.Token{Claims: &middleware.Claims{}}
	ctx := middleware.NewContext(context.Background(), tok)
	got, ok := middleware.TokenFromContext(ctx)
	assert.True(t, ok)
	assert.Same(t, tok, got)
	claims, ok := middleware.ClaimsFromContext(ctx)
	assert.True(t, ok)
	assert.Same(t, tok.Claims, claims)
}
