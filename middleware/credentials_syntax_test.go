package middleware_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// TestSeveralSpacesAfterScheme: RFC 9110 §11.4 and RFC 9449
// §7.1 allow 1*SP between the scheme and the token; other whitespace is
// still malformed.
func TestSeveralSpacesAfterScheme(t *testing.T) {
	iss := newIssuer(t)
	g := newGuard(t, iss, middleware.WithPublicURL("https://api.example.com"))
	tok := mint(t, iss, oauthtest.Token{})
	signer := newSigner(t)
	bound := mint(t, iss, oauthtest.Token{JKT: signer.Thumbprint()})
	withAuth := func(v string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, resource, nil)
		r.Header.Set("Authorization", v)
		return r
	}
	withDPoP := func(v string) *http.Request {
		r := withAuth(v)
		r.Header.Set("DPoP", proof(t, signer, "GET", resource, bound, ""))
		return r
	}
	tests := []struct {
		name   string
		r      func() *http.Request
		status int
		want   error
	}{
		{"Bearer, two spaces", func() *http.Request { return withAuth("Bearer  " + tok) }, 200, nil},
		{"Bearer, five spaces", func() *http.Request { return withAuth("Bearer     " + tok) }, 200, nil},
		{"bearer, lower case, two spaces", func() *http.Request { return withAuth("bearer  " + tok) }, 200, nil},
		{"DPoP, two spaces", func() *http.Request { return withDPoP("DPoP  " + bound) }, 200, nil},
		{"DPoP, three spaces", func() *http.Request { return withDPoP("DPoP   " + bound) }, 200, nil},
		{"space then tab", func() *http.Request { return withAuth("Bearer \t" + tok) }, 400, middleware.ErrMalformedRequest},
		{"space then no-break space", func() *http.Request { return withAuth("Bearer \u00a0" + tok) }, 400, middleware.ErrMalformedRequest},
		{"DPoP, space then tab", func() *http.Request { return withDPoP("DPoP \t" + bound) }, 400, middleware.ErrMalformedRequest},
		{"tab only", func() *http.Request { return withAuth("Bearer\t" + tok) }, 401, middleware.ErrNoCredentials},
		{"spaces only", func() *http.Request { return withAuth("Bearer   ") }, 400, middleware.ErrMalformedRequest},
		{"space inside the token", func() *http.Request { return withAuth("Bearer  " + tok[:10] + " " + tok[10:]) }, 400, middleware.ErrMalformedRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.status, serve(g, tc.r()).status)
			_, err := g.Check(tc.r())
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}
	t.Run("size limit counts the token, not the spaces", func(t *testing.T) {
		const limit = 1024
		gl := newGuard(t, iss, middleware.WithMaxTokenSize(limit))
		_, err := gl.Check(withAuth("Bearer    " + strings.Repeat("a", limit)))
		require.ErrorIs(t, err, middleware.ErrMalformedToken)
		_, err = gl.Check(withAuth("Bearer    " + strings.Repeat("a", limit+1)))
		require.ErrorIs(t, err, middleware.ErrTokenTooLarge)
	})
}

// TestFormNotReadWhenTheHeaderCarriesTheToken: with WithFormToken, a form
// POST that authenticates by header is not read for access_token, so its
// size does not matter and the handler gets the body intact.
func TestFormNotReadWhenTheHeaderCarriesTheToken(t *testing.T) {
	iss := newIssuer(t)
	g := newGuard(t, iss, middleware.WithFormToken())
	tok := mint(t, iss, oauthtest.Token{})
	body := url.Values{"note": {strings.Repeat("x", 20<<10)}}.Encode()
	var got string
	h := g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		got = string(b)
	}))
	post := func(body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, resource, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}

	r := post(body)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, body, got, "the handler reads the whole body")

	t.Run("without a header the form token still works", func(t *testing.T) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, post(url.Values{"access_token": {tok}}.Encode()))
		assert.Equal(t, http.StatusOK, w.Code)
	})
	t.Run("without a header a large form is still bounded", func(t *testing.T) {
		_, err := g.Check(post(body))
		require.ErrorIs(t, err, middleware.ErrMalformedRequest)
	})
}
