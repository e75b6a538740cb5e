package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/senderbound/senderbound/clientauth"
	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/internal/jose"
	"github.com/senderbound/senderbound/oauthtest"
)

// clock is a settable clock for a token source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newDPoPSigner(t *testing.T) *dpop.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	s, err := dpop.NewSigner(key)
	require.NoError(t, err)
	return s
}

// issuerWithClient starts a test issuer with client "svc" (secret
// "s3cr:t%+ x", which Basic must form-urlencode) and returns both.
func issuerWithClient(t *testing.T, tmpl oauthtest.Token) (*oauthtest.Issuer, oauthtest.Client) {
	t.Helper()
	iss, err := oauthtest.NewIssuer()
	require.NoError(t, err)
	t.Cleanup(iss.Close)
	c := oauthtest.Client{ID: "svc", Secret: "s3cr:t%+ x", Token: tmpl}
	require.NoError(t, iss.RegisterClient(c))
	return iss, c
}

// claimsOf decodes a JWT's payload without verifying it (the issuer's
// tests verify what it mints).
func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	jws, err := jose.Split(tok)
	require.NoError(t, err)
	var c map[string]any
	require.NoError(t, json.Unmarshal(jws.Payload, &c))
	return c
}

func TestClientCredentialsBindsToTheSigner(t *testing.T) {
	t.Parallel()
	iss, c := issuerWithClient(t, oauthtest.Token{Scope: "read:messages write:messages"})
	for name, auth := range map[string]clientauth.Method{
		"basic": clientauth.ClientSecretBasic(c.ID, c.Secret),
		"post":  clientauth.ClientSecretPost(c.ID, c.Secret),
	} {
		t.Run(name, func(t *testing.T) {
			signer := newDPoPSigner(t)
			src, err := dpop.NewClientCredentials(iss.TokenURL(), signer, auth,
				dpop.WithTokenAudience("https://api.test"), dpop.WithScopes("read:messages"))
			require.NoError(t, err)
			tok, err := src.Token(context.Background())
			require.NoError(t, err)
			claims := claimsOf(t, tok)
			assert.Equal(t, map[string]any{"jkt": signer.Thumbprint()}, claims["cnf"])
			assert.Equal(t, []any{"https://api.test"}, claims["aud"])
			assert.Equal(t, "read:messages", claims["scope"])
			assert.Equal(t, "svc@clients", claims["sub"])
		})
	}
}

func TestClientCredentialsAnswersNonceDemand(t *testing.T) {
	t.Parallel()
	iss, c := issuerWithClient(t, oauthtest.Token{})
	src, err := dpop.NewClientCredentials(iss.TokenURL(), newDPoPSigner(t), clientauth.ClientSecretBasic(c.ID, c.Secret),
		dpop.WithExpiryMargin(0), dpop.WithTokenClock((&clock{t: time.Now()}).Now))
	require.NoError(t, err)
	_, err = src.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 2, iss.TokenRequests(), "a nonce was demanded, then the proof carried it")
	assert.Equal(t, 1, iss.TokensIssued())
}

func TestClientCredentialsRememberedNonce(t *testing.T) {
	t.Parallel()
	iss, c := issuerWithClient(t, oauthtest.Token{ExpiresIn: time.Minute})
	clk := &clock{t: time.Now()}
	src, err := dpop.NewClientCredentials(iss.TokenURL(), newDPoPSigner(t), clientauth.ClientSecretPost(c.ID, c.Secret),
		dpop.WithTokenClock(clk.Now))
	require.NoError(t, err)
	_, err = src.Token(context.Background())
	require.NoError(t, err)
	clk.Add(time.Hour)
	_, err = src.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 3, iss.TokenRequests(), "the second request reused the nonce")
	assert.Equal(t, 2, iss.TokensIssued())
}

func TestClientCredentialsCachesUntilShortlyBeforeExpiry(t *testing.T) {
	t.Parallel()
	iss, c := issuerWithClient(t, oauthtest.Token{Dialect: oauthtest.RFC9068, ExpiresIn: 10 * time.Minute}) // a jti each
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	src, err := dpop.NewClientCredentials(iss.TokenURL(), newDPoPSigner(t), clientauth.ClientSecretBasic(c.ID, c.Secret),
		dpop.WithTokenClock(clk.Now), dpop.WithExpiryMargin(time.Minute))
	require.NoError(t, err)
	ctx := context.Background()
	first, err := src.Token(ctx)
	require.NoError(t, err)

	steps := []struct {
		name  string
		step  time.Duration
		fresh bool
	}{
		{"cached", 5 * time.Minute, false},
		{"just before the margin", 3*time.Minute + 59*time.Second, false},
		{"at the margin", time.Second, true},
		{"cached again", 8 * time.Minute, false},
		{"clock stepped back before it was obtained", -9 * time.Minute, true},
		{"cached after the step back", time.Minute, false},
	}
	prev, issued := first, 1
	for _, s := range steps {
		clk.Add(s.step)
		tok, err := src.Token(ctx)
		require.NoError(t, err, s.name)
		if s.fresh {
			issued++
			assert.NotEqual(t, prev, tok, s.name)
		} else {
			assert.Equal(t, prev, tok, s.name)
		}
		assert.Equal(t, issued, iss.TokensIssued(), s.name)
		prev = tok
	}
}

func TestClientCredentialsShortLivedTokens(t *testing.T) {
	t.Parallel()
	// A margin larger than the lifetime is cut to half of it, so the token
	// is still reused for a while instead of fetched on every call.
	iss, c := issuerWithClient(t, oauthtest.Token{ExpiresIn: 30 * time.Second})
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	src, err := dpop.NewClientCredentials(iss.TokenURL(), newDPoPSigner(t), clientauth.ClientSecretBasic(c.ID, c.Secret),
		dpop.WithTokenClock(clk.Now), dpop.WithExpiryMargin(5*time.Minute))
	require.NoError(t, err)
	ctx := context.Background()
	_, err = src.Token(ctx)
	require.NoError(t, err)
	clk.Add(14 * time.Second)
	_, err = src.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, iss.TokensIssued())
	clk.Add(time.Second)
	_, err = src.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, iss.TokensIssued())
}

func TestClientCredentialsOneFetchForManyCallers(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	iss, err := oauthtest.NewIssuer()
	require.NoError(t, err)
	defer iss.Close()
	require.NoError(t, iss.RegisterClient(oauthtest.Client{ID: "svc", Secret: "secret"}))
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	src, err := dpop.NewClientCredentials(iss.TokenURL(), newDPoPSigner(t), clientauth.ClientSecretBasic("svc", "secret"),
		dpop.WithTokenHTTPClient(&http.Client{Transport: tr}))
	require.NoError(t, err)

	const callers = 100
	tokens := make([]string, callers)
	errs := make([]error, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for n := range callers {
		wg.Go(func() {
			<-start
			tokens[n], errs[n] = src.Token(context.Background())
		})
	}
	close(start)
	wg.Wait()
	for n := range callers {
		require.NoError(t, errs[n])
		assert.Equal(t, tokens[0], tokens[n])
	}
	assert.Equal(t, 1, iss.TokensIssued())
	assert.Equal(t, 2, iss.TokenRequests(), "one nonce demand, one token request")
}

func TestClientCredentialsRefusesUnboundToken(t *testing.T) {
	t.Parallel()
	iss, err := oauthtest.NewIssuer()
	require.NoError(t, err)
	t.Cleanup(iss.Close)
	require.NoError(t, iss.RegisterClient(oauthtest.Client{ID: "svc", Secret: "secret", IgnoreDPoP: true}))
	src, err := dpop.NewClientCredentials(iss.TokenURL(), newDPoPSigner(t), clientauth.ClientSecretPost("svc", "secret"))
	require.NoError(t, err)
	for range 2 {
		tok, err := src.Token(context.Background())
		require.ErrorIs(t, err, dpop.ErrNotDPoPBound)
		assert.Empty(t, tok)
	}
	assert.Equal(t, 2, iss.TokensIssued(), "a bearer token is never cached")
}

// stubEndpoint serves answer for every token request and counts them.
func stubEndpoint(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func jsonAnswer(status int, body string, header ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func TestClientCredentialsRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		answer   func(http.ResponseWriter, *http.Request)
		want     error
		code     string
		requests int32
	}{
		{"bearer token", jsonAnswer(200, `{"access_token":"abc","token_type":"Bearer","expires_in":60}`), dpop.ErrNotDPoPBound, "", 1},
		{"no token_type", jsonAnswer(200, `{"access_token":"abc","expires_in":60}`), dpop.ErrTokenResponse, "", 1},
		{"token_type case-insensitive", jsonAnswer(200, `{"access_token":"abc","token_type":"dpop","expires_in":60}`), nil, "", 1},
		{"no access_token", jsonAnswer(200, `{"token_type":"DPoP"}`), dpop.ErrTokenResponse, "", 1},
		{"access_token not a string", jsonAnswer(200, `{"access_token":1,"token_type":"DPoP"}`), dpop.ErrTokenResponse, "", 1},
		{"header injection", jsonAnswer(200, `{"access_token":"a\r\nX: y","token_type":"DPoP"}`), dpop.ErrTokenResponse, "", 1},
		{"duplicate access_token", jsonAnswer(200, `{"access_token":"a","access_token":"b","token_type":"DPoP"}`), dpop.ErrTokenResponse, "", 1},
		{"name differs in case", jsonAnswer(200, `{"Access_Token":"a","token_type":"DPoP"}`), dpop.ErrTokenResponse, "", 1},
		{"negative expires_in", jsonAnswer(200, `{"access_token":"a","token_type":"DPoP","expires_in":-5}`), dpop.ErrTokenResponse, "", 1},
		{"not JSON", jsonAnswer(200, `<html>`), dpop.ErrTokenResponse, "", 1},
		{"oversized", jsonAnswer(200, `{"access_token":"a","token_type":"DPoP","pad":"`+strings.Repeat("x", 1<<20)+`"}`), dpop.ErrTokenResponse, "", 1},
		{"unexpected status", jsonAnswer(302, ``), dpop.ErrTokenResponse, "", 1},
		{"oauth error", jsonAnswer(401, `{"error":"invalid_client","error_description":"bad"}`), dpop.ErrTokenResponse, "invalid_client", 1},
		{"nonce demanded twice", jsonAnswer(400, `{"error":"use_dpop_nonce"}`, "DPoP-Nonce", "n-1"), dpop.ErrTokenResponse, "use_dpop_nonce", 2},
		{"nonce demand without a nonce", jsonAnswer(400, `{"error":"use_dpop_nonce"}`), dpop.ErrTokenResponse, "use_dpop_nonce", 1},
		{"nonce demand with an invalid nonce", jsonAnswer(400, `{"error":"use_dpop_nonce"}`, "DPoP-Nonce", `a"b`), dpop.ErrTokenResponse, "use_dpop_nonce", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, n := stubEndpoint(t, tt.answer)
			src, err := dpop.NewClientCredentials(srv.URL+"/oauth/token", newDPoPSigner(t), clientauth.ClientSecretPost("svc", "hunter2"))
			require.NoError(t, err)
			_, err = src.Token(context.Background())
			if tt.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.want)
				assert.NotContains(t, err.Error(), "hunter2")
			}
			var te *dpop.TokenError
			if tt.code != "" {
				require.ErrorAs(t, err, &te)
				assert.Equal(t, tt.code, te.Code)
			} else {
				assert.False(t, errors.As(err, &te))
			}
			assert.Equal(t, tt.requests, n.Load())
		})
	}
}

func TestClientCredentialsRequest(t *testing.T) {
	t.Parallel()
	signer := newDPoPSigner(t)
	verifier, err := dpop.NewVerifier()
	require.NoError(t, err)
	var got *http.Request
	srv, _ := stubEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		got = r
		jsonAnswer(200, `{"access_token":"tok","token_type":"DPoP","expires_in":60}`)(w, r)
	})
	tokenURL := srv.URL + "/oauth/token"
	src, err := dpop.NewClientCredentials(tokenURL+"?x=1", signer, clientauth.ClientSecretBasic("my client", "p:w%+"),
		dpop.WithTokenAudience("https://api.test"), dpop.WithScopes("a", "b"))
	require.NoError(t, err)
	_, err = src.Token(context.Background())
	require.NoError(t, err)

	assert.Equal(t, http.MethodPost, got.Method)
	assert.Equal(t, "client_credentials", got.PostForm.Get("grant_type"))
	assert.Equal(t, "https://api.test", got.PostForm.Get("audience"))
	assert.Equal(t, "a b", got.PostForm.Get("scope"))
	assert.False(t, got.PostForm.Has("client_secret"))
	id, secret, ok := got.BasicAuth()
	require.True(t, ok)
	assert.Equal(t, "my+client", id, "RFC 6749 §2.3.1 form-urlencoding")
	assert.Equal(t, "p%3Aw%25%2B", secret)
	// RFC 9449 §5: htm POST, htu the token endpoint, no ath.
	u := *got.URL
	u.Scheme, u.Host = "http", got.Host
	p, err := verifier.Verify(context.Background(), got.Header.Get("DPoP"), dpop.Request{Method: http.MethodPost, URL: &u})
	require.NoError(t, err)
	assert.Equal(t, signer.Thumbprint(), p.Thumbprint)
	jws, err := jose.Split(got.Header.Get("DPoP"))
	require.NoError(t, err)
	assert.NotContains(t, string(jws.Payload), `"ath"`)
}

func TestClientCredentialsPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	clientKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	iss, err := oauthtest.NewIssuer()
	require.NoError(t, err)
	t.Cleanup(iss.Close)
	require.NoError(t, iss.RegisterClient(oauthtest.Client{ID: "svc", PublicKey: clientKey.Public()}))

	tests := []struct {
		name string
		key  *ecdsa.PrivateKey
		id   string
		opts []dpop.ClientCredentialsOption
		ok   bool
	}{
		{"aud token endpoint", clientKey, "svc", nil, true},
		{"aud issuer, as Auth0 wants", clientKey, "svc", []dpop.ClientCredentialsOption{dpop.WithAssertionAudience(iss.Issuer())}, true},
		{"another aud", clientKey, "svc", []dpop.ClientCredentialsOption{dpop.WithAssertionAudience("https://other.example/")}, false},
		{"wrong key", otherKey, "svc", nil, false},
		{"unknown client", clientKey, "nobody", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := dpop.NewClientCredentials(iss.TokenURL(), newDPoPSigner(t), clientauth.PrivateKeyJWT(tt.id, tt.key, clientauth.WithKeyID("kid-1")), tt.opts...)
			require.NoError(t, err)
			tok, err := src.Token(context.Background())
			if !tt.ok {
				var te *dpop.TokenError
				require.ErrorAs(t, err, &te)
				assert.Equal(t, "invalid_client", te.Code)
				assert.Equal(t, http.StatusUnauthorized, te.StatusCode)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "svc", claimsOf(t, tok)["azp"])
		})
	}
}

func TestClientCredentialsWaitersRespectContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	srv, n := stubEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		jsonAnswer(200, `{"access_token":"tok","token_type":"DPoP","expires_in":600}`)(w, r)
	})
	src, err := dpop.NewClientCredentials(srv.URL+"/token", newDPoPSigner(t), clientauth.ClientSecretPost("svc", "s"))
	require.NoError(t, err)

	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() { _, err := src.Token(leaderCtx); leaderErr <- err }()
	<-entered // the leader's request is at the server

	// A waiter whose ctx ends gives up without a request of its own.
	waitCtx, cancelWait := context.WithCancel(context.Background())
	cancelWait()
	_, err = src.Token(waitCtx)
	require.ErrorIs(t, err, context.Canceled)

	// A patient waiter takes over when the leader gives up.
	type result struct {
		tok string
		err error
	}
	patient := make(chan result, 1)
	go func() { tok, err := src.Token(context.Background()); patient <- result{tok, err} }()
	cancelLeader()
	require.ErrorIs(t, <-leaderErr, context.Canceled)
	<-entered // the patient waiter's own request
	close(release)
	r := <-patient
	require.NoError(t, r.err)
	assert.Equal(t, "tok", r.tok)
	assert.Equal(t, int32(2), n.Load())
}

func TestNewClientCredentialsReportsEveryProblem(t *testing.T) {
	t.Parallel()
	signer := newDPoPSigner(t)
	tests := []struct {
		name     string
		url      string
		signer   *dpop.Signer
		auth     clientauth.Method
		opts     []dpop.ClientCredentialsOption
		problems []string
	}{
		{"everything wrong", "http://auth.example.com/token", nil, clientauth.Method{},
			[]dpop.ClientCredentialsOption{dpop.WithTokenAudience(""), dpop.WithScopes("a b"), dpop.WithTokenClock(nil), dpop.WithTokenHTTPClient(nil), dpop.WithExpiryMargin(-1)},
			[]string{"want https", "nil signer", "no client authentication", "empty audience", "not a scope token", "nil clock", "nil HTTP client", "expiry margin"}},
		{"relative URL", "/token", signer, clientauth.ClientSecretPost("a", "b"), nil, []string{"not an absolute URL"}},
		{"empty secret", "https://a.example/token", signer, clientauth.ClientSecretBasic("a", ""), nil, []string{"empty client secret"}},
		{"empty client ID", "https://a.example/token", signer, clientauth.ClientSecretBasic("", "s"), nil, []string{"empty client ID"}},
		{"jwt without key", "https://a.example/token", signer, clientauth.PrivateKeyJWT("a", nil), nil, []string{"without a key"}},
		{"assertion audience with a secret", "https://a.example/token", signer, clientauth.ClientSecretPost("a", "b"),
			[]dpop.ClientCredentialsOption{dpop.WithAssertionAudience("https://a.example/")}, []string{"needs PrivateKeyJWT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dpop.NewClientCredentials(tt.url, tt.signer, tt.auth, tt.opts...)
			require.ErrorIs(t, err, dpop.ErrConfig)
			for _, p := range tt.problems {
				assert.Contains(t, err.Error(), p)
			}
		})
	}
	_, err := dpop.NewClientCredentials("http://127.0.0.1:1/token", signer, clientauth.ClientSecretPost("a", "b"))
	assert.NoError(t, err, "http on loopback is allowed for tests")
}

func TestTokenErrorText(t *testing.T) {
	t.Parallel()
	e := &dpop.TokenError{StatusCode: 401, Code: "invalid_client", Description: "unknown client"}
	assert.Equal(t, "dpop: token endpoint answered 401 invalid_client: unknown client", e.Error())
	assert.Equal(t, "dpop: token endpoint answered 502", (&dpop.TokenError{StatusCode: 502}).Error())
	assert.ErrorIs(t, e, dpop.ErrTokenResponse)
}

// BenchmarkClientCredentialsCached measures Token when the token is cached:
// the cost every request through a Transport pays. Compare with
// BenchmarkSignerProof (bench_test.go), the proof that request makes anyway.
func BenchmarkClientCredentialsCached(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jsonAnswer(200, `{"access_token":"tok","token_type":"DPoP","expires_in":3600}`)(w, r)
	}))
	defer srv.Close()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(b, err)
	signer, err := dpop.NewSigner(key)
	require.NoError(b, err)
	src, err := dpop.NewClientCredentials(srv.URL+"/token", signer, clientauth.ClientSecretPost("svc", "s"))
	require.NoError(b, err)
	ctx := context.Background()
	_, err = src.Token(ctx)
	require.NoError(b, err)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := src.Token(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
