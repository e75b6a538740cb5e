package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// TestProofHTUPrefixRefused: a proof whose htu is a prefix of the request
// URL is refused through the Guard.
func TestProofHTUPrefixRefused(t *testing.T) {
	iss := newIssuer(t)
	client := newSigner(t)
	g := newGuard(t, iss, middleware.WithPublicURL("https://api.example.com"))
	tok := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint()})
	for _, htu := range []string{"https://api.example.com/", "https://api.example.com/r", "https://api.example.com/resourc"} {
		r := httptest.NewRequest(http.MethodGet, "https://api.example.com/resource", nil)
		r.Header.Set("Authorization", "DPoP "+tok)
		r.Header.Set("DPoP", proof(t, client, "GET", htu, tok, ""))
		_, err := g.Check(r)
		require.ErrorIs(t, err, dpop.ErrURL, htu)
		assert.Equal(t, http.StatusUnauthorized, serve(g, r).status)
	}
	r := httptest.NewRequest(http.MethodGet, "https://api.example.com/resource", nil)
	r.Header.Set("Authorization", "DPoP "+tok)
	r.Header.Set("DPoP", proof(t, client, "GET", "https://api.example.com/resource", tok, ""))
	assert.Equal(t, http.StatusOK, serve(g, r).status, "the exact URL passes")
}
