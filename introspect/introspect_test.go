package introspect_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/clientauth"
	"github.com/senderbound/senderbound/introspect"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/oauthtest"
	"github.com/senderbound/senderbound/observe"
)

func TestIntrospectActiveAndInactive(t *testing.T) {
	iss := newIssuer(t)
	c := newClient(t, iss) // discovery finds the endpoint
	assert.Equal(t, iss.IntrospectionURL(), c.Endpoint())
	assert.Equal(t, iss.Issuer(), c.Issuer())

	tok := opaque(t, iss, oauthtest.Token{Subject: "alice", Scope: "read", JKT: strings.Repeat("A", 43)})
	res, err := c.Introspect(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, "DPoP", res.TokenType)
	assert.False(t, res.ExpiresAt.IsZero())
	var got struct {
		Sub   string `json:"sub"`
		Scope string `json:"scope"`
	}
	require.NoError(t, res.Decode(&got))
	assert.Equal(t, "alice", got.Sub)
	assert.Equal(t, "read", got.Scope)
	assert.NotContains(t, string(res.JSON()), tok, "the answer holds no token")

	_, err = c.Introspect(context.Background(), "ot_unknown")
	assert.ErrorIs(t, err, introspect.ErrInactive)
	assert.NotErrorIs(t, err, introspect.ErrUnavailable)
}

func TestRevocationWithAndWithoutCache(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cache time.Duration
		calls int // calls after revocation, before the cache time passes
	}{
		{"cache on: revoked once the cache time passed", time.Minute, 1},
		{"cache off: revoked at once", 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iss := newIssuer(t)
			clk := newClock()
			c := newClient(t, iss, introspect.WithCache(tc.cache), introspect.WithClock(clk.Now))
			tok := opaque(t, iss, oauthtest.Token{})
			_, err := c.Introspect(context.Background(), tok)
			require.NoError(t, err)
			iss.RevokeToken(tok)
			_, err = c.Introspect(context.Background(), tok)
			if tc.cache > 0 {
				require.NoError(t, err, "the cached answer stands until the cache time passes")
			} else {
				require.ErrorIs(t, err, introspect.ErrInactive)
			}
			assert.Equal(t, tc.calls, iss.IntrospectionRequests())
			clk.Add(tc.cache + time.Second)
			_, err = c.Introspect(context.Background(), tok)
			require.ErrorIs(t, err, introspect.ErrInactive)
		})
	}
}

func TestCacheNeverPastExp(t *testing.T) {
	iss := newIssuer(t)
	clk := newClock()
	c := newClient(t, iss, introspect.WithCache(time.Hour), introspect.WithClock(clk.Now))
	// exp is 30 s after now by the test clock; the issuer's own clock is
	// real time, so it still says active afterwards: only our exp bound
	// can make the second call happen.
	tok := opaque(t, iss, oauthtest.Token{IssuedAt: clk.Now(), ExpiresIn: 30 * time.Second})
	res, err := c.Introspect(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, clk.Now().Add(30*time.Second), res.ReuseUntil)
	clk.Add(29 * time.Second)
	_, err = c.Introspect(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, 1, iss.IntrospectionRequests(), "cached before exp")
	clk.Add(time.Second)
	_, _ = c.Introspect(context.Background(), tok)
	assert.Equal(t, 2, iss.IntrospectionRequests(), "asked again at exp")
}

func TestClockSteps(t *testing.T) {
	for _, step := range []time.Duration{-time.Hour, -time.Second, 2 * time.Minute} {
		t.Run(fmt.Sprint(step), func(t *testing.T) {
			iss := newIssuer(t)
			clk := newClock()
			c := newClient(t, iss, introspect.WithCache(time.Minute), introspect.WithClock(clk.Now))
			tok := opaque(t, iss, oauthtest.Token{})
			_, err := c.Introspect(context.Background(), tok)
			require.NoError(t, err)
			clk.Add(step)
			_, err = c.Introspect(context.Background(), tok)
			require.NoError(t, err)
			// A step back must not stretch the cached answer's life (the
			// revocation latency); a step past the cache time ends it.
			assert.Equal(t, 2, iss.IntrospectionRequests())
		})
	}
}

func TestInactiveAnswersCachedBriefly(t *testing.T) {
	iss := newIssuer(t)
	clk := newClock()
	c := newClient(t, iss, introspect.WithInactiveCache(10*time.Second), introspect.WithClock(clk.Now))
	for range 3 {
		_, err := c.Introspect(context.Background(), "ot_dead")
		require.ErrorIs(t, err, introspect.ErrInactive)
	}
	assert.Equal(t, 1, iss.IntrospectionRequests())
	clk.Add(10 * time.Second)
	_, err := c.Introspect(context.Background(), "ot_dead")
	require.ErrorIs(t, err, introspect.ErrInactive)
	assert.Equal(t, 2, iss.IntrospectionRequests())
}

func TestFaultsFailClosed(t *testing.T) {
	tests := []struct {
		name  string
		fault oauthtest.Fault
		opts  []introspect.Option
		auth  clientauth.Method
		want  error
		cause string // in the Error log
	}{
		{"5xx", oauthtest.Fault{Down: true}, nil, clientauth.Method{}, introspect.ErrResponse, "status 503"},
		{"500", oauthtest.Fault{Status: 500}, nil, clientauth.Method{}, introspect.ErrResponse, "status 500"},
		{"redirect", oauthtest.Fault{Status: 302}, nil, clientauth.Method{}, introspect.ErrResponse, "status 302"},
		{"non-JSON", oauthtest.Fault{Garbage: true}, nil, clientauth.Method{}, introspect.ErrResponse, "not a JSON object"},
		{"oversized", oauthtest.Fault{Oversized: 70 << 10}, nil, clientauth.Method{}, introspect.ErrResponse, "over 65536 bytes"},
		{"active as a string", oauthtest.Fault{ActiveAsString: true}, nil, clientauth.Method{}, introspect.ErrResponse, "active has the wrong type"},
		{"timeout", oauthtest.Fault{Delay: time.Minute}, []introspect.Option{introspect.WithTimeout(50 * time.Millisecond)}, clientauth.Method{}, context.DeadlineExceeded, "deadline exceeded"},
		{"our client authentication refused", oauthtest.Fault{}, nil, clientauth.ClientSecretBasic(rsID, "wrong"), introspect.ErrClientAuth, "refused the client authentication"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iss := newIssuer(t)
			iss.SetIntrospectionFault(tc.fault)
			var logs logBuffer
			opts := append([]introspect.Option{introspect.WithLogger(logs.logger())}, tc.opts...)
			if tc.auth.Name() != "" {
				opts = append(opts, introspect.WithClientAuth(tc.auth))
			}
			c := newClient(t, iss, opts...)
			tok := opaque(t, iss, oauthtest.Token{})
			res, err := c.Introspect(context.Background(), tok)
			assert.Nil(t, res)
			require.ErrorIs(t, err, introspect.ErrUnavailable)
			require.ErrorIs(t, err, tc.want)
			assert.NotErrorIs(t, err, introspect.ErrInactive)
			assert.NotContains(t, err.Error(), tok)
			out := logs.String()
			assert.Contains(t, out, "level=ERROR")
			assert.Contains(t, out, tc.cause)
			assert.NotContains(t, out, tok)
			assert.NotContains(t, out, rsSecret)
			// A fault is not cached: the next request asks again.
			iss.SetIntrospectionFault(oauthtest.Fault{})
			if tc.auth.Name() == "" {
				_, err = c.Introspect(context.Background(), tok)
				require.NoError(t, err)
			}
		})
	}
}

func TestConnectionErrorFailsClosed(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	endpoint := srv.URL + "/introspect"
	srv.Close()
	var logs logBuffer
	c, err := introspect.New(context.Background(), "https://issuer.example/",
		introspect.WithEndpoint(endpoint),
		introspect.WithClientAuth(clientauth.ClientSecretPost(rsID, rsSecret)),
		introspect.WithLogger(logs.logger()))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Introspect(context.Background(), "ot_x")
	require.ErrorIs(t, err, introspect.ErrUnavailable)
	assert.Contains(t, logs.String(), "connection refused")
}

func TestJWTResponses(t *testing.T) {
	iss := newIssuer(t)
	keys, err := jwks.New(context.Background(), jwks.WithIssuerJWKS(iss.Issuer(), iss.JWKSURL()))
	require.NoError(t, err)
	defer keys.Close()
	tok := opaque(t, iss, oauthtest.Token{Subject: "bob"})
	for _, tc := range []struct {
		name     string
		fault    oauthtest.Fault
		clientID string
		want     error
	}{
		{"signed answer verified", oauthtest.Fault{}, rsID, nil},
		{"wrong iss", oauthtest.Fault{WrongIssuer: true}, rsID, introspect.ErrResponse},
		{"wrong aud", oauthtest.Fault{WrongAudience: true}, rsID, introspect.ErrResponse},
		{"aud of another resource server", oauthtest.Fault{}, "someone-else", introspect.ErrResponse},
		{"active as a string inside", oauthtest.Fault{ActiveAsString: true}, rsID, introspect.ErrResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iss.SetIntrospectionFault(tc.fault)
			c := newClient(t, iss, introspect.WithJWTResponse(keys, tc.clientID), introspect.WithLogger(discard()))
			res, err := c.Introspect(context.Background(), tok)
			if tc.want == nil {
				require.NoError(t, err)
				var got struct{ Sub string }
				require.NoError(t, res.Decode(&struct {
					Sub *string `json:"sub"`
				}{&got.Sub}))
				assert.Equal(t, "bob", got.Sub)
				return
			}
			require.ErrorIs(t, err, introspect.ErrUnavailable)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

// TestJWTResponseForgeries answers with hand-made JWTs: an alg none, a
// wrong typ, a signature by another key, a plain JSON answer when a signed
// one was asked for. Each is refused (503), never read.
func TestJWTResponseForgeries(t *testing.T) {
	iss := newIssuer(t)
	keys, err := jwks.New(context.Background(), jwks.WithIssuerJWKS(iss.Issuer(), iss.JWKSURL()))
	require.NoError(t, err)
	defer keys.Close()
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	object := map[string]any{"active": true, "sub": "mallory", "aud": "https://api.example.com"}
	claims := map[string]any{"iss": iss.Issuer(), "aud": rsID, "iat": time.Now().Unix(), "token_introspection": object}
	good := signed(t, iss.PrivateKey(iss.CurrentKeyID()), "RS256", iss.CurrentKeyID(), "token-introspection+jwt", claims)
	for _, tc := range []struct {
		name, contentType, body string
		ok                      bool
	}{
		{"control: a good signed answer", "application/token-introspection+jwt", good, true},
		{"alg none", "application/token-introspection+jwt", unsignedJWT(t, map[string]any{"alg": "none", "typ": "token-introspection+jwt"}, claims), false},
		{"wrong typ", "application/token-introspection+jwt", signed(t, iss.PrivateKey(iss.CurrentKeyID()), "RS256", iss.CurrentKeyID(), "JWT", claims), false},
		{"another key", "application/token-introspection+jwt", signed(t, other, "ES256", iss.CurrentKeyID(), "token-introspection+jwt", claims), false},
		{"plain JSON", "application/json", `{"active":true,"sub":"mallory"}`, false},
		{"no token_introspection", "application/token-introspection+jwt", signed(t, iss.PrivateKey(iss.CurrentKeyID()), "RS256", iss.CurrentKeyID(), "token-introspection+jwt",
			map[string]any{"iss": iss.Issuer(), "aud": rsID, "active": true}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				assert.Equal(t, "application/token-introspection+jwt", r.Header.Get("Accept"))
				w.Header().Set("Content-Type", tc.contentType)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			c, err := introspect.New(context.Background(), iss.Issuer(), introspect.WithEndpoint(srv.URL),
				introspect.WithClientAuth(clientauth.ClientSecretPost(rsID, rsSecret)),
				introspect.WithJWTResponse(keys, rsID), introspect.WithLogger(discard()))
			require.NoError(t, err)
			defer c.Close()
			_, err = c.Introspect(context.Background(), "ot_x")
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, introspect.ErrResponse)
			require.ErrorIs(t, err, introspect.ErrUnavailable)
		})
	}
}

func TestRequestShape(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		auth  clientauth.Method
		check func(t *testing.T, r *http.Request)
	}{
		{"client_secret_basic", clientauth.ClientSecretBasic(rsID, rsSecret), func(t *testing.T, r *http.Request) {
			id, secret, ok := r.BasicAuth()
			require.True(t, ok)
			assert.Equal(t, "resource-server", id)
			assert.Equal(t, "rs-secret%3A%25%2B", secret, "RFC 6749 §2.3.1: form-urlencoded before Basic")
		}},
		{"client_secret_post", clientauth.ClientSecretPost(rsID, rsSecret), func(t *testing.T, r *http.Request) {
			assert.Equal(t, rsID, r.PostForm.Get("client_id"))
			assert.Equal(t, rsSecret, r.PostForm.Get("client_secret"))
		}},
		{"private_key_jwt", clientauth.PrivateKeyJWT(rsID, key, clientauth.WithKeyID("k1")), func(t *testing.T, r *http.Request) {
			assert.Equal(t, clientauth.AssertionType, r.PostForm.Get("client_assertion_type"))
			parts := strings.Split(r.PostForm.Get("client_assertion"), ".")
			require.Len(t, parts, 3)
		}},
		{"tls_client_auth", clientauth.TLSClientAuth(rsID), func(t *testing.T, r *http.Request) {
			assert.Equal(t, rsID, r.PostForm.Get("client_id"))
			assert.False(t, r.PostForm.Has("client_secret"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				assert.Equal(t, http.MethodPost, r.Method)
				assert.Equal(t, "application/json", r.Header.Get("Accept"))
				require.NoError(t, r.ParseForm())
				// RFC 7662 §2.1: token, and the hint.
				assert.Equal(t, "ot_abc", r.PostForm.Get("token"))
				assert.Equal(t, "access_token", r.PostForm.Get("token_type_hint"))
				tc.check(t, r)
				_, _ = io.WriteString(w, `{"active":false}`)
			}))
			defer srv.Close()
			c, err := introspect.New(context.Background(), "https://issuer.example/", introspect.WithEndpoint(srv.URL), introspect.WithClientAuth(tc.auth))
			require.NoError(t, err)
			defer c.Close()
			_, err = c.Introspect(context.Background(), "ot_abc")
			require.ErrorIs(t, err, introspect.ErrInactive)
		})
	}
}

// TestFloodBound: N random tokens at once cause at most the configured
// number of calls; the others fail with ErrLimited (503) at once, and the
// observer hears of every one.
func TestFloodBound(t *testing.T) {
	iss := newIssuer(t)
	clk := newClock()
	var mu sync.Mutex
	outcomes := map[observe.IntrospectionOutcome]int{}
	obs := &observe.Observer{Introspection: func(_ context.Context, e observe.Introspection) {
		mu.Lock()
		outcomes[e.Outcome]++
		mu.Unlock()
	}}
	c := newClient(t, iss, introspect.WithLimits(4, 5), introspect.WithClock(clk.Now), introspect.WithObserver(obs), introspect.WithLogger(discard()))
	const n = 200
	var wg sync.WaitGroup
	var limited sync.Map
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Introspect(context.Background(), fmt.Sprintf("ot_random_%d", i))
			if errors.Is(err, introspect.ErrLimited) {
				require.ErrorIs(t, err, introspect.ErrUnavailable)
				limited.Store(i, true)
			}
		}()
	}
	wg.Wait()
	calls := iss.IntrospectionRequests()
	assert.LessOrEqual(t, calls, 5, "at most the per-second burst")
	assert.GreaterOrEqual(t, calls, 1)
	mu.Lock()
	assert.Equal(t, n-calls, outcomes[observe.IntrospectionLimited])
	assert.Equal(t, calls, outcomes[observe.IntrospectionInactive])
	mu.Unlock()
	// A second later by the clock, 5 more calls are allowed.
	clk.Add(time.Second)
	for i := range 10 {
		_, _ = c.Introspect(context.Background(), fmt.Sprintf("ot_later_%d", i))
	}
	assert.Equal(t, calls+5, iss.IntrospectionRequests())
}

// TestPrivateKeyJWTAtTheIssuer: the resource server authenticates with an
// RFC 7523 assertion whose aud is the introspection endpoint.
func TestPrivateKeyJWTAtTheIssuer(t *testing.T) {
	iss := newIssuer(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	require.NoError(t, iss.RegisterClient(oauthtest.Client{ID: "jwt-rs", PublicKey: key.Public()}))
	c := newClient(t, iss, introspect.WithClientAuth(clientauth.PrivateKeyJWT("jwt-rs", key)), introspect.WithCache(0))
	tok := opaque(t, iss, oauthtest.Token{})
	for range 2 { // a fresh assertion (jti) per call
		_, err = c.Introspect(context.Background(), tok)
		require.NoError(t, err)
	}
	wrong, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	c = newClient(t, iss, introspect.WithClientAuth(clientauth.PrivateKeyJWT("jwt-rs", wrong)), introspect.WithLogger(discard()))
	_, err = c.Introspect(context.Background(), tok)
	require.ErrorIs(t, err, introspect.ErrClientAuth)
}
