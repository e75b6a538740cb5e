package grpcguard_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/grpcguard"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
)

// answer is what a call returned: its status, the subject the handler saw,
// and the response header metadata.
type answer struct {
	code    codes.Code
	msg     string
	subject string
	md      metadata.MD
}

// call makes one unary or streaming call with the given outgoing metadata.
func call(t *testing.T, c testpb.TestServiceClient, stream bool, pairs ...string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, pairs...)
	var a answer
	var err error
	if stream {
		a.subject, a.md, err = streamFirst(ctx, c)
	} else {
		var resp *testpb.SimpleResponse
		resp, err = c.UnaryCall(ctx, &testpb.SimpleRequest{}, grpc.Header(&a.md))
		a.subject = string(resp.GetPayload().GetBody())
	}
	st := status.Convert(err)
	a.code, a.msg = st.Code(), st.Message()
	return a
}

// challenge returns the error attribute of the scheme's challenge in md.
func challenge(md metadata.MD, scheme, param string) string {
	for _, v := range md.Get("www-authenticate") {
		if p, ok := grpcguard.ChallengeParam(v, scheme, param); ok {
			return p
		}
	}
	return ""
}

// TestOutcomes drives every answer of the interceptor through unary and
// streaming calls on a real TLS server, and parses the challenge metadata
// back.
func TestOutcomes(t *testing.T) {
	e := newEnv(t, envConfig{})
	alice, thief := newSigner(t), newSigner(t)
	bearer := e.mint(t, oauthtest.Token{Subject: "carol", Scope: "read:things"})
	bound := e.mint(t, oauthtest.Token{Subject: "alice", Scope: "read:things", JKT: alice.Thumbprint()})
	noScope := e.mint(t, oauthtest.Token{Subject: "dave", Scope: "profile"})
	noScopeBound := e.mint(t, oauthtest.Token{Subject: "alice", Scope: "profile", JKT: alice.Thumbprint()})
	forged := bearer[:strings.LastIndexByte(bearer, '.')+1] + "AAAA"
	conn := e.dial(t, nil)

	tests := []struct {
		name    string
		md      func(method string) []string
		code    codes.Code
		subject string
		// scheme and errCode: the challenge that carries the error, and
		// the error; empty errCode means no error attribute anywhere.
		scheme, errCode string
		// everyScheme: the error concerns no particular scheme, so every
		// challenge carries it.
		everyScheme bool
	}{
		{
			name: "bearer", code: codes.OK, subject: "carol",
			md: func(string) []string { return []string{"authorization", "Bearer " + bearer} },
		},
		{
			name: "bearer, scheme in lower case, several spaces", code: codes.OK, subject: "carol",
			md: func(string) []string { return []string{"authorization", "bearer   " + bearer} },
		},
		{
			name: "dpop", code: codes.OK, subject: "alice",
			md: func(m string) []string {
				return []string{"authorization", "DPoP " + bound, "dpop", proof(t, alice, e.htu(m), bound, "")}
			},
		},
		{
			name: "no credentials", code: codes.Unauthenticated,
			md: func(string) []string { return nil },
		},
		{
			name: "another scheme only", code: codes.Unauthenticated,
			md: func(string) []string { return []string{"authorization", "Basic dXNlcjpwYXNz"} },
		},
		{
			name: "forged signature", code: codes.Unauthenticated, scheme: "Bearer", errCode: "invalid_token",
			md: func(string) []string { return []string{"authorization", "Bearer " + forged} },
		},
		{
			name: "not a token68", code: codes.Unauthenticated, scheme: "Bearer", errCode: "invalid_request", everyScheme: true,
			md: func(string) []string { return []string{"authorization", "Bearer " + bearer + " x"} },
		},
		{
			name: "two authorization values", code: codes.Unauthenticated, scheme: "Bearer", errCode: "invalid_request", everyScheme: true,
			md: func(string) []string {
				return []string{"authorization", "Bearer " + bearer, "authorization", "Bearer " + bearer}
			},
		},
		{
			name: "token over the size limit", code: codes.Unauthenticated, scheme: "Bearer", errCode: "invalid_token", everyScheme: true,
			md: func(string) []string {
				return []string{"authorization", "Bearer " + strings.Repeat("a", grpcguard.DefaultMaxTokenSize+1)}
			},
		},
		{
			name: "dpop-bound token sent as bearer", code: codes.Unauthenticated, scheme: "Bearer", errCode: "invalid_token",
			md: func(string) []string { return []string{"authorization", "Bearer " + bound} },
		},
		{
			name: "dpop-bound token without proof", code: codes.Unauthenticated, scheme: "DPoP", errCode: "invalid_dpop_proof",
			md: func(string) []string { return []string{"authorization", "DPoP " + bound} },
		},
		{
			name: "two dpop values", code: codes.Unauthenticated, scheme: "DPoP", errCode: "invalid_dpop_proof",
			md: func(m string) []string {
				p := proof(t, alice, e.htu(m), bound, "")
				return []string{"authorization", "DPoP " + bound, "dpop", p, "dpop", p}
			},
		},
		{
			name: "stolen token with the thief's proof", code: codes.Unauthenticated, scheme: "DPoP", errCode: "invalid_token",
			md: func(m string) []string {
				return []string{"authorization", "DPoP " + bound, "dpop", proof(t, thief, e.htu(m), bound, "")}
			},
		},
		{
			name: "proof for another method", code: codes.Unauthenticated, scheme: "DPoP", errCode: "invalid_dpop_proof",
			md: func(string) []string {
				return []string{"authorization", "DPoP " + bound, "dpop", proof(t, alice, e.htu(emptyMethod), bound, "")}
			},
		},
		{
			name: "proof for another host", code: codes.Unauthenticated, scheme: "DPoP", errCode: "invalid_dpop_proof",
			md: func(m string) []string {
				return []string{"authorization", "DPoP " + bound, "dpop", proof(t, alice, "https://api.example.com"+m, bound, "")}
			},
		},
		{
			name: "missing scope", code: codes.PermissionDenied, scheme: "Bearer", errCode: "insufficient_scope",
			md: func(string) []string { return []string{"authorization", "Bearer " + noScope} },
		},
		{
			name: "missing scope, dpop", code: codes.PermissionDenied, scheme: "DPoP", errCode: "insufficient_scope",
			md: func(m string) []string {
				return []string{"authorization", "DPoP " + noScopeBound, "dpop", proof(t, alice, e.htu(m), noScopeBound, "")}
			},
		},
	}
	for _, stream := range []bool{false, true} {
		method, kind := unaryMethod, "unary"
		if stream {
			method, kind = streamMethod, "stream"
		}
		for _, tt := range tests {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				md := tt.md(method)
				a := call(t, conn, stream, md...)
				require.Equal(t, tt.code, a.code, a.msg)
				if tt.code == codes.OK {
					assert.Equal(t, tt.subject, a.subject)
					assert.Empty(t, a.md.Get("www-authenticate"))
					return
				}
				// Every rejection offers both schemes, the error on the
				// scheme it concerns.
				require.Len(t, a.md.Get("www-authenticate"), 2)
				assert.Equal(t, tt.errCode, challenge(a.md, tt.scheme, "error"))
				if other := map[string]string{"Bearer": "DPoP", "DPoP": "Bearer"}[tt.scheme]; other != "" && !tt.everyScheme {
					assert.Empty(t, challenge(a.md, other, "error"), "the error concerns the %s scheme only", tt.scheme)
				}
				assert.NotEmpty(t, challenge(a.md, "DPoP", "algs"))
				if tt.errCode == "insufficient_scope" {
					assert.Equal(t, "read:things", challenge(a.md, tt.scheme, "scope"))
				}
				// The status message never carries token material.
				for i := 1; i < len(md); i += 2 {
					for _, f := range strings.Fields(md[i]) {
						if len(f) >= 16 {
							assert.NotContains(t, a.msg, f[:16])
						}
					}
				}
			})
		}
	}
}

// TestMethodsWithoutScopes: a method with no scope requirement needs a
// valid token only; a skipped method needs nothing.
func TestMethodsWithoutScopes(t *testing.T) {
	e := newEnv(t, envConfig{})
	noScope := e.mint(t, oauthtest.Token{Subject: "dave", Scope: "profile"})
	cc := e.conn(t, nil)
	ctx := context.Background()

	_, err := testpb.NewTestServiceClient(cc).EmptyCall(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+noScope), &testpb.Empty{})
	require.NoError(t, err)
	_, err = testpb.NewTestServiceClient(cc).EmptyCall(ctx, &testpb.Empty{})
	require.Equal(t, codes.Unauthenticated, status.Code(err))

	// The health check is named as skipping authentication: no token at all.
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.GetStatus())
	// Watch was not named: it needs a token like any other method.
	w, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	_, err = w.Recv()
	assert.Equal(t, codes.Unauthenticated, status.Code(err))
}

// failingCache is a replay cache that cannot answer.
type failingCache struct{}

func (failingCache) Record(context.Context, dpop.ReplayKey, time.Time) (bool, error) {
	return false, errors.New("store down")
}

// TestUnavailable: when the replay cache cannot answer, calls fail closed
// with codes.Unavailable and retry-after.
func TestUnavailable(t *testing.T) {
	v, err := dpop.NewVerifier(dpop.WithReplayCache(failingCache{}))
	require.NoError(t, err)
	e := newEnv(t, envConfig{guard: []middleware.Option{middleware.WithDPoP(v)}})
	alice := newSigner(t)
	bound := e.mint(t, oauthtest.Token{Subject: "alice", Scope: "read:things", JKT: alice.Thumbprint()})
	conn := e.dial(t, nil)
	for _, stream := range []bool{false, true} {
		method := unaryMethod
		if stream {
			method = streamMethod
		}
		a := call(t, conn, stream, "authorization", "DPoP "+bound, "dpop", proof(t, alice, e.htu(method), bound, ""))
		require.Equal(t, codes.Unavailable, a.code, a.msg)
		assert.Equal(t, []string{"5"}, a.md.Get("retry-after"))
		assert.Empty(t, a.md.Get("www-authenticate"))
	}
}

func newNonces(t *testing.T) *dpop.HMACNonces {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	n, err := dpop.NewHMACNonces([][]byte{secret})
	require.NoError(t, err)
	return n
}

// TestNonce: a server that requires nonces answers use_dpop_nonce with a
// dpop-nonce; a proof with that nonce then succeeds.
func TestNonce(t *testing.T) {
	v, err := dpop.NewVerifier(dpop.WithNonces(newNonces(t)))
	require.NoError(t, err)
	e := newEnv(t, envConfig{guard: []middleware.Option{middleware.WithDPoP(v)}})
	alice := newSigner(t)
	bound := e.mint(t, oauthtest.Token{Subject: "alice", Scope: "read:things", JKT: alice.Thumbprint()})
	conn := e.dial(t, nil)
	for _, stream := range []bool{false, true} {
		method := unaryMethod
		if stream {
			method = streamMethod
		}
		a := call(t, conn, stream, "authorization", "DPoP "+bound, "dpop", proof(t, alice, e.htu(method), bound, ""))
		require.Equal(t, codes.Unauthenticated, a.code)
		assert.Equal(t, "use_dpop_nonce", challenge(a.md, "DPoP", "error"))
		assert.Empty(t, challenge(a.md, "Bearer", "error"))
		nonce := a.md.Get("dpop-nonce")
		require.Len(t, nonce, 1)

		a = call(t, conn, stream, "authorization", "DPoP "+bound, "dpop", proof(t, alice, e.htu(method), bound, nonce[0]))
		require.Equal(t, codes.OK, a.code, a.msg)
		assert.Equal(t, "alice", a.subject)
	}
}

// TestCertificateBound: a certificate-bound token works with the client
// certificate it names and with no other.
func TestCertificateBound(t *testing.T) {
	e := newEnv(t, envConfig{})
	bob, other := selfSigned(t, "bob", false), selfSigned(t, "other", false)
	tok := e.mint(t, oauthtest.Token{Subject: "bob", Scope: "read:things", X5TS256: mtls.Thumbprint(bob.Leaf)})
	for _, tt := range []struct {
		name string
		cert *tls.Certificate
		code codes.Code
	}{
		{"right certificate", &bob, codes.OK},
		{"another certificate", &other, codes.Unauthenticated},
		{"no certificate", nil, codes.Unauthenticated},
	} {
		for _, stream := range []bool{false, true} {
			t.Run(tt.name, func(t *testing.T) {
				a := call(t, e.dial(t, tt.cert), stream, "authorization", "Bearer "+tok)
				require.Equal(t, tt.code, a.code, a.msg)
				if tt.code == codes.OK {
					assert.Equal(t, "bob", a.subject)
				} else {
					assert.Equal(t, "invalid_token", challenge(a.md, "Bearer", "error"))
				}
			})
		}
	}
}

// TestForwardedCertificate: forwarded-certificate metadata counts only from
// a trusted proxy's address, and then only the metadata counts.
func TestForwardedCertificate(t *testing.T) {
	bob, other := selfSigned(t, "bob", false), selfSigned(t, "other", false)
	header := func(c tls.Certificate) string { return ":" + b64(c.Leaf.Raw) + ":" }
	for _, tt := range []struct {
		name    string
		trusted string
		conn    *tls.Certificate // the connection's own certificate
		md      []string
		code    codes.Code
	}{
		{"trusted proxy forwards the right certificate", "127.0.0.0/8", &other, []string{"client-cert", header(bob)}, codes.OK},
		{"trusted proxy forwards another certificate", "127.0.0.0/8", nil, []string{"client-cert", header(other)}, codes.Unauthenticated},
		{"trusted proxy forwards nothing: its own certificate is not used", "127.0.0.0/8", &bob, nil, codes.Unauthenticated},
		{"trusted proxy forwards garbage", "127.0.0.0/8", nil, []string{"client-cert", ":not base64!:"}, codes.Unauthenticated},
		{"untrusted peer forwards the right certificate", "10.0.0.0/8", nil, []string{"client-cert", header(bob)}, codes.Unauthenticated},
		{"untrusted peer: its own certificate counts", "10.0.0.0/8", &bob, []string{"client-cert", header(other)}, codes.OK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src, err := mtls.NewSource(
				mtls.WithForwardedHeader("Client-Cert", mtls.RFC9440),
				mtls.WithTrustedProxies(mustPrefix(t, tt.trusted)),
			)
			require.NoError(t, err)
			e := newEnv(t, envConfig{grpc: []grpcguard.Option{grpcguard.WithCertificateSource(src)}})
			tok := e.mint(t, oauthtest.Token{Subject: "bob", Scope: "read:things", X5TS256: mtls.Thumbprint(bob.Leaf)})
			for _, stream := range []bool{false, true} {
				a := call(t, e.dial(t, tt.conn), stream, append([]string{"authorization", "Bearer " + tok}, tt.md...)...)
				require.Equal(t, tt.code, a.code, a.msg)
			}
		})
	}
}

// TestForwardedCertificateHashOnly: an Envoy proxy forwards, by default,
// only the certificate's Hash in x-forwarded-client-cert. The thumbprint
// is all a certificate-bound token needs, so a call through a trusted
// proxy is bound by it, as an HTTP request is; a Hash of another
// certificate, or one from an untrusted peer, is not.
func TestForwardedCertificateHashOnly(t *testing.T) {
	bob, other := selfSigned(t, "bob", false), selfSigned(t, "other", false)
	xfcc := func(c tls.Certificate) string {
		sum := sha256.Sum256(c.Leaf.Raw)
		return `By=spiffe://example.org/api;Hash=` + hex.EncodeToString(sum[:]) + `;Subject="CN=x"`
	}
	for _, tt := range []struct {
		name    string
		trusted string
		md      []string
		code    codes.Code
	}{
		{"trusted proxy forwards the right hash", "127.0.0.0/8", []string{"x-forwarded-client-cert", xfcc(bob)}, codes.OK},
		{"trusted proxy forwards another hash", "127.0.0.0/8", []string{"x-forwarded-client-cert", xfcc(other)}, codes.Unauthenticated},
		{"trusted proxy forwards a malformed hash", "127.0.0.0/8", []string{"x-forwarded-client-cert", "Hash=00ff"}, codes.Unauthenticated},
		{"untrusted peer forwards the right hash", "10.0.0.0/8", []string{"x-forwarded-client-cert", xfcc(bob)}, codes.Unauthenticated},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src, err := mtls.NewSource(
				mtls.WithForwardedHeader("X-Forwarded-Client-Cert", mtls.XFCC),
				mtls.WithTrustedProxies(mustPrefix(t, tt.trusted)),
			)
			require.NoError(t, err)
			e := newEnv(t, envConfig{grpc: []grpcguard.Option{grpcguard.WithCertificateSource(src)}})
			tok := e.mint(t, oauthtest.Token{Subject: "bob", Scope: "read:things", X5TS256: mtls.Thumbprint(bob.Leaf)})
			for _, stream := range []bool{false, true} {
				a := call(t, e.dial(t, nil), stream, append([]string{"authorization", "Bearer " + tok}, tt.md...)...)
				require.Equal(t, tt.code, a.code, a.msg)
				if tt.code == codes.OK {
					assert.Equal(t, "bob", a.subject)
				}
			}
		})
	}
}

// TestConcurrentReplay: one proof sent by 100 concurrent calls is accepted
// exactly once.
func TestConcurrentReplay(t *testing.T) {
	e := newEnv(t, envConfig{})
	alice := newSigner(t)
	bound := e.mint(t, oauthtest.Token{Subject: "alice", Scope: "read:things", JKT: alice.Thumbprint()})
	conn := e.dial(t, nil)
	p := proof(t, alice, e.htu(unaryMethod), bound, "")
	codesSeen := make(chan codes.Code, 100)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 100 {
		wg.Go(func() {
			<-start
			ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "DPoP "+bound, "dpop", p)
			_, err := conn.UnaryCall(ctx, &testpb.SimpleRequest{})
			codesSeen <- status.Code(err)
		})
	}
	close(start)
	wg.Wait()
	close(codesSeen)
	counts := map[codes.Code]int{}
	for c := range codesSeen {
		counts[c]++
	}
	assert.Equal(t, map[codes.Code]int{codes.OK: 1, codes.Unauthenticated: 99}, counts)
}

// TestDerivedHTU: without a public URL, a call over a plaintext connection
// has the htu http://<authority><method>; a proof made for https:// (as if
// the connection were TLS) is refused. TestPublicURL covers TLS with a
// public URL, TestOutcomes TLS without one.
func TestDerivedHTU(t *testing.T) {
	e := newEnv(t, envConfig{plaintext: true})
	alice := newSigner(t)
	bound := e.mint(t, oauthtest.Token{Subject: "alice", Scope: "read:things", JKT: alice.Thumbprint()})
	cc, err := grpc.NewClient(e.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	conn := testpb.NewTestServiceClient(cc)
	a := call(t, conn, false, "authorization", "DPoP "+bound, "dpop", proof(t, alice, "http://"+e.addr+unaryMethod, bound, ""))
	require.Equal(t, codes.OK, a.code, a.msg)
	assert.Equal(t, "alice", a.subject)
	a = call(t, conn, false, "authorization", "DPoP "+bound, "dpop", proof(t, alice, e.htu(unaryMethod), bound, ""))
	require.Equal(t, codes.Unauthenticated, a.code, a.msg)
	assert.Equal(t, "invalid_dpop_proof", challenge(a.md, "DPoP", "error"))
}

// TestPublicURL: a public URL replaces the derived base URL.
func TestPublicURL(t *testing.T) {
	e := newEnv(t, envConfig{grpc: []grpcguard.Option{grpcguard.WithPublicURL("https://api.example.com")}})
	alice := newSigner(t)
	bound := e.mint(t, oauthtest.Token{Subject: "alice", Scope: "read:things", JKT: alice.Thumbprint()})
	conn := e.dial(t, nil)
	a := call(t, conn, false, "authorization", "DPoP "+bound, "dpop", proof(t, alice, "https://api.example.com"+unaryMethod, bound, ""))
	require.Equal(t, codes.OK, a.code, a.msg)
	a = call(t, conn, false, "authorization", "DPoP "+bound, "dpop", proof(t, alice, e.htu(unaryMethod), bound, ""))
	require.Equal(t, codes.Unauthenticated, a.code, a.msg)
}

// TestClientCredentials: the per-RPC credentials make a good call, and the
// interceptor answers a nonce challenge once, then remembers the nonce.
func TestClientCredentials(t *testing.T) {
	v, err := dpop.NewVerifier(dpop.WithNonces(newNonces(t)))
	require.NoError(t, err)
	e := newEnv(t, envConfig{guard: []middleware.Option{middleware.WithDPoP(v)}})
	alice := newSigner(t)
	bound := e.mint(t, oauthtest.Token{Subject: "alice", Scope: "read:things", JKT: alice.Thumbprint()})
	creds, err := grpcguard.NewCredentials(alice, dpop.StaticToken(bound))
	require.NoError(t, err)
	c := e.dial(t, nil, grpc.WithPerRPCCredentials(creds), grpc.WithChainUnaryInterceptor(creds.Unary))
	ctx := context.Background()

	resp, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
	require.NoError(t, err)
	assert.Equal(t, "alice", string(resp.GetPayload().GetBody()))
	assert.Equal(t, int64(2), e.arrivals.Load(), "one nonce challenge, one retry")

	resp, err = c.UnaryCall(ctx, &testpb.SimpleRequest{})
	require.NoError(t, err)
	assert.Equal(t, "alice", string(resp.GetPayload().GetBody()))
	assert.Equal(t, int64(3), e.arrivals.Load(), "the remembered nonce needs no retry")

	// Streaming calls use the remembered nonce.
	body, _, err := streamFirst(ctx, c)
	require.NoError(t, err)
	assert.Equal(t, "alice", body)
}

// TestClientWithoutRetry: without the interceptor the nonce challenge
// reaches the caller, who can read it from the metadata.
func TestClientWithoutRetry(t *testing.T) {
	v, err := dpop.NewVerifier(dpop.WithNonces(newNonces(t)))
	require.NoError(t, err)
	e := newEnv(t, envConfig{guard: []middleware.Option{middleware.WithDPoP(v)}})
	alice := newSigner(t)
	bound := e.mint(t, oauthtest.Token{Subject: "alice", Scope: "read:things", JKT: alice.Thumbprint()})
	creds, err := grpcguard.NewCredentials(alice, dpop.StaticToken(bound))
	require.NoError(t, err)
	c := e.dial(t, nil, grpc.WithPerRPCCredentials(creds))
	var md metadata.MD
	_, err = c.UnaryCall(context.Background(), &testpb.SimpleRequest{}, grpc.Header(&md))
	require.Equal(t, codes.Unauthenticated, status.Code(err))
	assert.Equal(t, "use_dpop_nonce", challenge(md, "DPoP", "error"))
}

// TestCredentialsRequireTLS: the credentials refuse an insecure connection.
func TestCredentialsRequireTLS(t *testing.T) {
	alice := newSigner(t)
	creds, err := grpcguard.NewCredentials(alice, dpop.StaticToken("x"))
	require.NoError(t, err)
	assert.True(t, creds.RequireTransportSecurity())
	ctx := credentials.NewContextWithRequestInfo(context.Background(), credentials.RequestInfo{Method: unaryMethod})
	_, err = creds.GetRequestMetadata(ctx, "https://localhost/grpc.testing.TestService")
	assert.ErrorIs(t, err, grpcguard.ErrCredentials)

	_, err = grpcguard.NewCredentials(nil, nil)
	assert.ErrorIs(t, err, grpcguard.ErrCredentials)
}

func TestNewValidates(t *testing.T) {
	iss, err := oauthtest.NewIssuer()
	require.NoError(t, err)
	defer iss.Close()
	g, err := middleware.New(middleware.KeySource(nil), middleware.WithHMACSecret(iss.Issuer(), make([]byte, 32)), middleware.WithAudience("a"))
	require.NoError(t, err)
	_, err = grpcguard.New(g,
		grpcguard.WithPublicURL("https://api.example.com/prefix"),
		grpcguard.WithScopes(map[string][]string{"Method": {"a"}, "/a.B/C": {"x y"}}),
		grpcguard.WithoutAuthentication("/a.B/C", "nope"),
		grpcguard.WithMaxTokenSize(1),
		grpcguard.WithCertificateSource(nil),
	)
	require.Error(t, err)
	for _, want := range []string{"public URL", `"Method"`, `"x y"`, `"nope"`, "both skips", "max token size", "nil certificate source"} {
		assert.Contains(t, err.Error(), want)
	}
	_, err = grpcguard.New(nil)
	assert.ErrorContains(t, err, "nil guard")
}

// TestFreshNonceOnSuccess: when the nonce a call used is about to expire,
// the successful answer carries a fresh one in dpop-nonce, and the
// credentials' interceptor remembers it.
func TestFreshNonceOnSuccess(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	nonces, err := dpop.NewHMACNonces([][]byte{secret}, dpop.WithNonceStep(time.Minute), dpop.WithNonceClock(clock))
	require.NoError(t, err)
	v, err := dpop.NewVerifier(dpop.WithNonces(nonces))
	require.NoError(t, err)
	e := newEnv(t, envConfig{guard: []middleware.Option{middleware.WithDPoP(v)}})
	alice := newSigner(t)
	bound := e.mint(t, oauthtest.Token{Subject: "alice", Scope: "read:things", JKT: alice.Thumbprint()})
	old, err := nonces.Nonce()
	require.NoError(t, err)
	mu.Lock()
	now = now.Add(time.Minute) // the nonce is now in its last step: stale
	mu.Unlock()

	conn := e.dial(t, nil)
	for _, stream := range []bool{false, true} {
		method := unaryMethod
		if stream {
			method = streamMethod
		}
		a := call(t, conn, stream, "authorization", "DPoP "+bound, "dpop", proof(t, alice, e.htu(method), bound, old))
		require.Equal(t, codes.OK, a.code, a.msg)
		fresh := a.md.Get("dpop-nonce")
		require.Len(t, fresh, 1)
		assert.NotEqual(t, old, fresh[0])
	}
}

// TestClientStreamNonce: a stream refused with use_dpop_nonce is not
// retried, but the stream interceptor remembers the nonce, so the next
// stream succeeds.
func TestClientStreamNonce(t *testing.T) {
	v, err := dpop.NewVerifier(dpop.WithNonces(newNonces(t)))
	require.NoError(t, err)
	e := newEnv(t, envConfig{guard: []middleware.Option{middleware.WithDPoP(v)}})
	alice := newSigner(t)
	bound := e.mint(t, oauthtest.Token{Subject: "alice", Scope: "read:things", JKT: alice.Thumbprint()})
	creds, err := grpcguard.NewCredentials(alice, dpop.StaticToken(bound))
	require.NoError(t, err)
	c := e.dial(t, nil, grpc.WithPerRPCCredentials(creds), grpc.WithChainStreamInterceptor(creds.Stream))
	ctx := context.Background()

	_, md, err := streamFirst(ctx, c)
	require.Equal(t, codes.Unauthenticated, status.Code(err))
	assert.Equal(t, "use_dpop_nonce", challenge(md, "DPoP", "error"))
	body, _, err := streamFirst(ctx, c)
	require.NoError(t, err)
	assert.Equal(t, "alice", body)
}
