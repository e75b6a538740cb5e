package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// testClock is a clock the test steps forwards and backwards.
type testClock struct{ now atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.set(t)
	return c
}
func (c *testClock) set(t time.Time)      { c.now.Store(t.UnixNano()) }
func (c *testClock) Now() time.Time       { return time.Unix(0, c.now.Load()) }
func (c *testClock) step(d time.Duration) { c.set(c.Now().Add(d)) }
func authenticated(acr string, at time.Time, amr ...any) oauthtest.Token {
	claims := map[string]any{}
	if acr != "" {
		claims["acr"] = acr
	}
	if !at.IsZero() {
		claims["auth_time"] = at.Unix()
	}
	if amr != nil {
		claims["amr"] = amr
	}
	return oauthtest.Token{Claims: claims}
}

func TestStepUpClaims(t *testing.T) {
	iss := newIssuer(t)
	g := newGuard(t, iss)
	at := time.Unix(1_700_000_000, 0)
	got, err := g.Check(bearer(mint(t, iss, authenticated(middleware.ACRAuth0MFA, at, "pwd", "mfa"))))
	require.NoError(t, err)
	c := got.Claims
	assert.Equal(t, middleware.ACRAuth0MFA, c.ACR())
	assert.Equal(t, []string{"pwd", "mfa"}, c.AMR())
	assert.True(t, at.Equal(c.AuthTime()))
	c.AMR()[0] = "changed"
	assert.Equal(t, "pwd", c.AMR()[0], "AMR returns a copy")

	got, err = g.Check(bearer(mint(t, iss, oauthtest.Token{})))
	require.NoError(t, err)
	assert.Empty(t, got.Claims.ACR())
	assert.Nil(t, got.Claims.AMR())
	assert.True(t, got.Claims.AuthTime().IsZero())

	for name, v := range map[string]any{"acr": 2, "amr": "mfa", "auth_time": "1700000000"} {
		_, err := g.Check(bearer(mint(t, iss, oauthtest.Token{Claims: map[string]any{name: v}})))
		require.ErrorIs(t, err, middleware.ErrClaims, name)
	}
	_, err = g.Check(bearer(mint(t, iss, oauthtest.Token{Claims: map[string]any{"amr": []any{"pwd", 1}}})))
	require.ErrorIs(t, err, middleware.ErrClaims)
}

func TestStepUp(t *testing.T) {
	clock := newTestClock(time.Now())
	iss := newIssuer(t)
	g := newGuard(t, iss, middleware.WithClock(clock.Now), middleware.WithPublicURL("https://api.example.com"))
	mfa := middleware.StepUp{ACRValues: []string{middleware.ACRAuth0MFA, "urn:example:loa:3"}}
	recent := middleware.StepUp{MaxAge: 5 * time.Minute}
	both := middleware.StepUp{ACRValues: []string{middleware.ACRAuth0MFA}, MaxAge: 5 * time.Minute}

	mux := http.NewServeMux()
	mux.Handle("/mfa", g.Handler(g.Require(mfa)(ok200)))
	mux.Handle("/recent", g.Handler(g.Require(recent)(ok200)))
	mux.Handle("/both", g.Handler(g.Require(both)(ok200)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	start := clock.Now()
	for _, tc := range []struct {
		name    string
		path    string
		tok     oauthtest.Token
		status  int
		params  map[string]string // of the Bearer challenge
		missing []string
	}{
		{"acr MFA", "/mfa", authenticated(middleware.ACRAuth0MFA, time.Time{}), 200, nil, nil},
		{"acr another accepted value", "/mfa", authenticated("urn:example:loa:3", time.Time{}), 200, nil, nil},
		{"acr too weak", "/mfa", authenticated("urn:example:loa:1", time.Time{}, "mfa"), 401,
			map[string]string{"acr_values": middleware.ACRAuth0MFA + " urn:example:loa:3"}, []string{"max_age"}},
		{"acr differs only in case: values are case-sensitive", "/mfa", authenticated("URN:EXAMPLE:LOA:3", time.Time{}), 401,
			map[string]string{"acr_values": middleware.ACRAuth0MFA + " urn:example:loa:3"}, nil},
		{"no acr", "/mfa", oauthtest.Token{}, 401,
			map[string]string{"acr_values": middleware.ACRAuth0MFA + " urn:example:loa:3"}, nil},
		{"authenticated a minute ago", "/recent", authenticated("", start.Add(-time.Minute)), 200, nil, nil},
		{"authenticated an hour ago", "/recent", authenticated("", start.Add(-time.Hour)), 401,
			map[string]string{"max_age": "300"}, []string{"acr_values"}},
		{"no auth_time", "/recent", authenticated(middleware.ACRAuth0MFA, time.Time{}), 401,
			map[string]string{"max_age": "300"}, nil},
		{"both met", "/both", authenticated(middleware.ACRAuth0MFA, start), 200, nil, nil},
		{"level met, too old: both parameters", "/both", authenticated(middleware.ACRAuth0MFA, start.Add(-time.Hour)), 401,
			map[string]string{"acr_values": middleware.ACRAuth0MFA, "max_age": "300"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := get(t, srv.URL+tc.path, "Bearer "+mint(t, iss, tc.tok), "")
			require.Equal(t, tc.status, resp.StatusCode)
			if tc.status == 200 {
				return
			}
			ch := challenges(t, resp.Header)["Bearer"]
			assert.Equal(t, "insufficient_user_authentication", ch["error"])
			assert.NotEmpty(t, ch["error_description"])
			for k, v := range tc.params {
				assert.Equal(t, v, ch[k], k)
			}
			for _, k := range tc.missing {
				assert.NotContains(t, ch, k)
			}
		})
	}

	t.Run("by the guard's clock, forwards and backwards", func(t *testing.T) {
		defer clock.set(start)
		tok := mint(t, iss, authenticated("", start.Add(-time.Minute)))
		assert.Equal(t, 200, get(t, srv.URL+"/recent", "Bearer "+tok, "").StatusCode)
		clock.step(5 * time.Minute) // now 6 minutes after auth_time
		assert.Equal(t, 401, get(t, srv.URL+"/recent", "Bearer "+tok, "").StatusCode)
		clock.step(-2 * time.Minute) // back to 4 minutes
		assert.Equal(t, 200, get(t, srv.URL+"/recent", "Bearer "+tok, "").StatusCode)
		clock.set(start)
		ahead := mint(t, iss, authenticated("", start.Add(20*time.Second)))
		assert.Equal(t, 200, get(t, srv.URL+"/recent", "Bearer "+ahead, "").StatusCode, "auth_time ahead within the leeway")
		ahead = mint(t, iss, authenticated("", start.Add(80*time.Second)))
		assert.Equal(t, 401, get(t, srv.URL+"/recent", "Bearer "+ahead, "").StatusCode, "auth_time ahead by more: a wrong time, not a fresh login")
	})

	// The leeway absorbs clock skew for exp, nbf and an auth_time in the
	// future; it does not extend max_age, a policy bound: a skewed clock
	// makes the client authenticate again a little early, never lets an
	// older login through.
	t.Run("max_age boundary: the leeway does not extend it", func(t *testing.T) {
		defer clock.set(start)
		at := start.Truncate(time.Second)
		tok := mint(t, iss, authenticated("", at))
		clock.set(at.Add(5 * time.Minute))
		assert.Equal(t, 200, get(t, srv.URL+"/recent", "Bearer "+tok, "").StatusCode, "exactly max_age ago")
		clock.set(at.Add(5*time.Minute + time.Second))
		assert.Equal(t, 401, get(t, srv.URL+"/recent", "Bearer "+tok, "").StatusCode, "one second older, well within the 30 s leeway")
	})

	t.Run("Verify and Authorize give the same error", func(t *testing.T) {
		tok := mint(t, iss, authenticated("urn:example:loa:1", start.Add(-time.Hour)))
		vt, err := g.Verify(context.Background(), middleware.Request{Scheme: "bearer", Token: tok})
		require.NoError(t, err)
		err = g.Authorize(vt, both)
		var e *middleware.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, http.StatusUnauthorized, e.Status)
		assert.Equal(t, middleware.CodeInsufficientUserAuthentication, e.Code)
		assert.Equal(t, middleware.ACRAuth0MFA, e.ACRValues)
		assert.Equal(t, 5*time.Minute, e.MaxAge)
		require.ErrorIs(t, err, middleware.ErrAuthenticationLevel)
		require.ErrorIs(t, err, middleware.ErrAuthenticationAge)

		w := httptest.NewRecorder()
		g.WriteError(w, err)
		ch := challenges(t, w.Header())["Bearer"]
		assert.Equal(t, "insufficient_user_authentication", ch["error"])
		assert.Equal(t, "300", ch["max_age"])

		require.NoError(t, g.Authorize(vt), "no requirement")
		require.NoError(t, g.Authorize(vt, middleware.StepUp{}), "the zero StepUp requires nothing")
		require.ErrorIs(t, g.Authorize(vt, mfa), middleware.ErrAuthenticationLevel)
		require.ErrorIs(t, g.Authorize(vt, recent), middleware.ErrAuthenticationAge)
	})

	t.Run("DPoP scheme: the DPoP challenge, with its algs", func(t *testing.T) {
		client := newSigner(t)
		tok := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint(), Claims: map[string]any{"acr": "urn:example:loa:1"}})
		w := httptest.NewRecorder()
		r := dpopRequest(t, tok, proof(t, client, "GET", resource, tok, ""))
		g.Handler(g.Require(both)(ok200)).ServeHTTP(w, r)
		require.Equal(t, http.StatusUnauthorized, w.Code)
		ch := challenges(t, w.Header())
		d := ch["DPoP"]
		assert.Equal(t, "insufficient_user_authentication", d["error"])
		assert.Equal(t, middleware.ACRAuth0MFA, d["acr_values"])
		assert.Equal(t, "300", d["max_age"])
		assert.NotEmpty(t, d["algs"])
		assert.NotContains(t, ch["Bearer"], "error", "the Bearer challenge only advertises the scheme")
	})
}
