// Command grpc shows sender-constrained access tokens on gRPC, with nothing
// outside the process: an embedded issuer on loopback, a grpc-go server over
// TLS protected by the grpcguard interceptors (asking clients for a
// certificate), and clients that make real calls to it with the grpcguard
// DPoP credentials. It prints each call and exits 0 only when every step
// behaved as expected, so CI runs it as a test.
//
//	go run ./examples/grpc
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/grpcguard"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "grpc example:", err)
		os.Exit(1)
	}
}

// The service: grpc-go's own test service, so no code generation is
// needed. UnaryCall requires the scope read:messages.
const (
	unaryCall   = "/grpc.testing.TestService/UnaryCall"
	healthCheck = "/grpc.health.v1.Health/Check"
)

// run runs every step, writing the transcript to out. It returns an error
// when setup fails or when any step did not behave as expected.
func run(ctx context.Context, out io.Writer) error {
	iss, err := oauthtest.NewIssuer()
	if err != nil {
		return err
	}
	defer iss.Close()
	keys, err := jwks.New(ctx, jwks.WithIssuer(iss.Issuer()))
	if err != nil {
		return err
	}
	defer keys.Close()

	serverCert, roots, err := serverCertificate()
	if err != nil {
		return err
	}
	wire := &wire{out: out}
	api, err := startServer(keys, serverCert, wire, false)
	if err != nil {
		return err
	}
	defer api.stop()
	strict, err := startServer(keys, serverCert, wire, true)
	if err != nil {
		return err
	}
	defer strict.stop()

	// The clients' keys and certificates.
	alice, err := newSigner()
	if err != nil {
		return err
	}
	thief, err := newSigner()
	if err != nil {
		return err
	}
	bobCert, err := clientCertificate("bob")
	if err != nil {
		return err
	}
	otherCert, err := clientCertificate("someone else")
	if err != nil {
		return err
	}

	// The tokens the issuer hands out.
	mint := func(t oauthtest.Token) string {
		if err == nil {
			var tok string
			tok, err = iss.Mint(t)
			return tok
		}
		return ""
	}
	dpopTok := mint(oauthtest.Token{Subject: "alice", Scope: "read:messages", JKT: alice.Thumbprint()})
	certTok := mint(oauthtest.Token{Subject: "bob", Scope: "read:messages", X5TS256: mtls.Thumbprint(bobCert.Leaf)})
	noScopeTok := mint(oauthtest.Token{Subject: "dave", Scope: "profile", JKT: alice.Thumbprint()})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "issuer %s\nAPI    %s (gRPC over TLS, client certificates requested)\nstrict %s (DPoP with server nonces)\n",
		iss.Issuer(), api.addr, strict.addr)

	// dial connects a client: with DPoP credentials for a token, or plain
	// (the caller sets the metadata), optionally with a client certificate.
	var conns []*grpc.ClientConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	dial := func(addr, label string, signer *dpop.Signer, token string, cert *tls.Certificate) (testpb.TestServiceClient, *grpc.ClientConn, error) {
		tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		opts := []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(tc))}
		var interceptors []grpc.UnaryClientInterceptor
		if signer != nil {
			creds, err := grpcguard.NewCredentials(signer, dpop.StaticToken(token))
			if err != nil {
				return nil, nil, err
			}
			opts = append(opts, grpc.WithPerRPCCredentials(creds))
			interceptors = append(interceptors, creds.Unary)
		}
		interceptors = append(interceptors, wire.tap(label, cert)) // innermost: sees every attempt
		opts = append(opts, grpc.WithChainUnaryInterceptor(interceptors...))
		cc, err := grpc.NewClient(addr, opts...)
		if err != nil {
			return nil, nil, err
		}
		conns = append(conns, cc)
		return testpb.NewTestServiceClient(cc), cc, nil
	}
	hello := func(c testpb.TestServiceClient, pairs ...string) error {
		_, err := c.UnaryCall(metadata.AppendToOutgoingContext(ctx, pairs...), &testpb.SimpleRequest{})
		return err
	}

	aliceClient, _, err := dial(api.addr, "DPoP + proof by alice's key", alice, dpopTok, nil)
	if err != nil {
		return err
	}
	thiefClient, _, err := dial(api.addr, "DPoP + proof by the thief's key", thief, dpopTok, nil)
	if err != nil {
		return err
	}
	plain, plainConn, err := dial(api.addr, "no credentials", nil, "", nil)
	if err != nil {
		return err
	}
	strictClient, _, err := dial(strict.addr, "DPoP + proof by alice's key", alice, dpopTok, nil)
	if err != nil {
		return err
	}
	withBob, _, err := dial(api.addr, "no credentials", nil, "", &bobCert)
	if err != nil {
		return err
	}
	withOther, _, err := dial(api.addr, "no credentials", nil, "", &otherCert)
	if err != nil {
		return err
	}
	noScopeClient, _, err := dial(api.addr, "DPoP + proof by alice's key", alice, noScopeTok, nil)
	if err != nil {
		return err
	}

	steps := []step{
		{
			title: "A DPoP-bound token, with a fresh proof from grpcguard.Credentials",
			want:  want{code: codes.OK},
			do:    func() error { return hello(aliceClient) },
		},
		{
			title: "That token stolen and sent with the thief's own proof",
			want:  want{code: codes.Unauthenticated, error: "invalid_token"},
			do:    func() error { return hello(thiefClient) },
		},
		{
			title: "That token stolen and sent as Bearer (downgrade)",
			want:  want{code: codes.Unauthenticated, error: "invalid_token"},
			do:    func() error { return hello(plain, "authorization", "Bearer "+dpopTok) },
		},
		{
			title: "Alice's call of step 1, captured on the wire and replayed",
			want:  want{code: codes.Unauthenticated, error: "invalid_dpop_proof"},
			do: func() error {
				md := api.captured(1)
				if md == nil {
					return errors.New("step 1 sent no call to capture")
				}
				return hello(plain, "authorization", md.auth, "dpop", md.proof)
			},
		},
		{
			title: "A server that demands a DPoP nonce; the credentials' interceptor answers it",
			want:  want{code: codes.OK, first: "use_dpop_nonce"},
			do:    func() error { return hello(strictClient) },
		},
		{
			title: "A certificate-bound token, with the right client certificate",
			want:  want{code: codes.OK},
			do:    func() error { return hello(withBob, "authorization", "Bearer "+certTok) },
		},
		{
			title: "The same token, with another client certificate",
			want:  want{code: codes.Unauthenticated, error: "invalid_token"},
			do:    func() error { return hello(withOther, "authorization", "Bearer "+certTok) },
		},
		{
			title: "A valid DPoP-bound token without the scope read:messages",
			want:  want{code: codes.PermissionDenied, error: "insufficient_scope"},
			do:    func() error { return hello(noScopeClient) },
		},
		{
			title: "The health check, named as needing no token",
			want:  want{code: codes.OK},
			do: func() error {
				resp, err := healthpb.NewHealthClient(plainConn).Check(ctx, &healthpb.HealthCheckRequest{})
				if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
					return fmt.Errorf("health status %v", resp.GetStatus())
				}
				return err
			},
		},
	}

	var failed []string
	for i, s := range steps {
		fmt.Fprintf(out, "\n%d. %s\n", i+1, s.title)
		wire.begin(i + 1)
		api.begin(i + 1)
		err := s.do()
		if st, ok := status.FromError(err); !ok || (err != nil && st.Code() == codes.Unknown) {
			return fmt.Errorf("step %d: %w", i+1, err)
		}
		if problem := s.want.check(status.Code(err), wire.attempts(i+1)); problem != "" {
			failed = append(failed, fmt.Sprintf("step %d: %s", i+1, problem))
			fmt.Fprintf(out, "   UNEXPECTED: %s\n", problem)
			continue
		}
		fmt.Fprintf(out, "   as expected: %s\n", s.want)
	}
	fmt.Fprintln(out)
	if len(failed) > 0 {
		fmt.Fprintf(out, "%d of %d steps misbehaved\n", len(failed), len(steps))
		return errors.New(strings.Join(failed, "; "))
	}
	fmt.Fprintf(out, "all %d steps behaved as expected\n", len(steps))
	return nil
}

// server is one running gRPC server.
type server struct {
	srv  *grpc.Server
	addr string
	stop func()

	mu      sync.Mutex
	step    int
	capture map[int]credentialsSeen
}

// credentialsSeen is what an eavesdropper on the wire would hold of a call.
type credentialsSeen struct{ auth, proof string }

func (s *server) begin(step int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.step = step
}

func (s *server) captured(step int) *credentialsSeen {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.capture[step]
	if !ok {
		return nil
	}
	return &c
}

// record keeps the first call's credentials of each step, as an attacker
// watching the wire would.
func (s *server) record(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	if _, ok := s.capture[s.step]; !ok && len(md["authorization"]) == 1 && len(md["dpop"]) == 1 {
		s.capture[s.step] = credentialsSeen{auth: md["authorization"][0], proof: md["dpop"][0]}
	}
	s.mu.Unlock()
	return h(ctx, req)
}

// startServer starts a gRPC server over TLS with the interceptors. The
// strict one requires DPoP with server nonces.
func startServer(keys *jwks.Keys, cert tls.Certificate, w *wire, strict bool) (*server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// The URL clients call, before the method: the htu of their DPoP
	// proofs. grpcguard checks proofs against it; the guard is given it
	// too, since it is only used through grpcguard.
	public := "https://" + lis.Addr().String()
	s, err := newServer(keys, cert, strict, public)
	if err != nil {
		lis.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.srv.Serve(lis)
	}()
	s.addr = lis.Addr().String()
	s.stop = func() {
		s.srv.Stop()
		<-done
	}
	return s, nil
}

// newServer builds the gRPC server and its interceptors for public, the
// URL its clients call.
func newServer(keys *jwks.Keys, cert tls.Certificate, strict bool, public string) (*server, error) {
	opts := []middleware.Option{
		middleware.WithAudience(oauthtest.DefaultAudience),
		middleware.WithProofOfPossession(middleware.MechanismDPoP, strict),
		middleware.WithRealm("grpc example"),
		middleware.WithPublicURL(public),
	}
	if strict {
		secret := make([]byte, 32) // a fleet would share this secret
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
		nonces, err := dpop.NewHMACNonces([][]byte{secret})
		if err != nil {
			return nil, err
		}
		verifier, err := dpop.NewVerifier(dpop.WithNonces(nonces))
		if err != nil {
			return nil, err
		}
		opts = append(opts, middleware.WithDPoP(verifier))
	}
	guard, err := middleware.New(keys, opts...)
	if err != nil {
		return nil, err
	}
	auth, err := grpcguard.New(guard,
		grpcguard.WithScopes(map[string][]string{unaryCall: {"read:messages"}}),
		grpcguard.WithoutAuthentication(healthCheck),
		grpcguard.WithPublicURL(public),
	)
	if err != nil {
		return nil, err
	}
	s := &server{capture: map[int]credentialsSeen{}}
	s.srv = grpc.NewServer(
		// Ask for a client certificate, accept self-signed ones (RFC 8705).
		grpc.Creds(credentials.NewTLS(mtls.ServerTLSConfig(cert, nil))),
		grpc.ChainUnaryInterceptor(s.record, auth.Unary),
		grpc.ChainStreamInterceptor(auth.Stream),
	)
	testpb.RegisterTestServiceServer(s.srv, service{})
	healthpb.RegisterHealthServer(s.srv, health.NewServer())
	return s, nil
}

// service greets the verified subject.
type service struct {
	testpb.UnimplementedTestServiceServer
}

func (service) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	tok, _ := middleware.TokenFromContext(ctx)
	msg := fmt.Sprintf("hello %s (binding: %s)", tok.Claims.Subject(), tok.Binding.Mechanism)
	return &testpb.SimpleResponse{Payload: &testpb.Payload{Body: []byte(msg)}}, nil
}

// step is one scene of the example.
type step struct {
	title string
	do    func() error
	want  want
}

// want is what a step must observe.
type want struct {
	code  codes.Code // of the call
	error string     // error attribute of its challenge, if any
	first string     // error of a first attempt that was retried, if any
}

func (w want) String() string {
	s := w.code.String()
	if w.error != "" {
		s += " " + w.error
	}
	if w.first != "" {
		s = w.first + ", then " + s
	}
	return s
}

// check returns what is wrong with a call that ended with code after the
// attempts, or "".
func (w want) check(code codes.Code, attempts []attempt) string {
	if code != w.code {
		return fmt.Sprintf("%v, want %v", code, w.code)
	}
	if len(attempts) == 0 {
		return "no attempt seen"
	}
	if w.first != "" {
		if len(attempts) != 2 {
			return fmt.Sprintf("%d attempts, want 2", len(attempts))
		}
		if attempts[0].code != codes.Unauthenticated || attempts[0].error != w.first {
			return fmt.Sprintf("first attempt %v %s, want Unauthenticated %s", attempts[0].code, attempts[0].error, w.first)
		}
	} else if len(attempts) > 1 {
		return fmt.Sprintf("%d attempts, want 1", len(attempts))
	}
	last := attempts[len(attempts)-1]
	if last.code != w.code || last.error != w.error {
		return fmt.Sprintf("last attempt %v %q, want %v %q", last.code, last.error, w.code, w.error)
	}
	return ""
}

// attempt is one call on the wire, as the client saw it.
type attempt struct {
	step  int
	code  codes.Code
	error string // the challenge's error attribute
}

// wire prints and remembers every attempt that a tap sees.
type wire struct {
	out io.Writer

	mu   sync.Mutex
	step int
	log  []attempt
}

func (w *wire) begin(step int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.step = step
}

func (w *wire) attempts(step int) []attempt {
	w.mu.Lock()
	defer w.mu.Unlock()
	var as []attempt
	for _, a := range w.log {
		if a.step == step {
			as = append(as, a)
		}
	}
	return as
}

// tap returns a client interceptor that shows each attempt of a call. label
// says what credentials the connection adds, if any.
func (w *wire) tap(label string, cert *tls.Certificate) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		var header metadata.MD
		err := invoker(ctx, method, req, reply, cc, append(opts, grpc.Header(&header))...)
		a := attempt{code: status.Code(err)}
		for _, v := range header.Get("www-authenticate") {
			for _, scheme := range []string{"DPoP", "Bearer"} {
				if e, ok := grpcguard.ChallengeParam(v, scheme, "error"); ok && a.error == "" {
					a.error = e
				}
			}
		}
		via := label
		if md, ok := metadata.FromOutgoingContext(ctx); ok && len(md["authorization"]) > 0 {
			via, _, _ = strings.Cut(md["authorization"][0], " ")
			if len(md["dpop"]) > 0 {
				via += " + a proof"
			}
		}
		if cert != nil {
			via += ", client certificate of " + cert.Leaf.Subject.CommonName
		}
		w.mu.Lock()
		a.step = w.step
		w.log = append(w.log, a)
		w.mu.Unlock()
		result := a.code.String()
		if a.error != "" {
			result += " (" + a.error + ")"
		}
		if reply, ok := reply.(*testpb.SimpleResponse); ok && err == nil {
			result += ": " + string(reply.GetPayload().GetBody())
		}
		fmt.Fprintf(w.out, "   %s [%s] -> %s\n", method, via, result)
		return err
	}
}

func newSigner() (*dpop.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return dpop.NewSigner(key)
}

// serverCertificate returns a self-signed certificate for 127.0.0.1 and a
// pool that trusts it.
func serverCertificate() (tls.Certificate, *x509.CertPool, error) {
	cert, err := selfSigned("grpc example API", []net.IP{net.IPv4(127, 0, 0, 1)}, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	return cert, roots, nil
}

func clientCertificate(name string) (tls.Certificate, error) {
	return selfSigned(name, nil, x509.ExtKeyUsageClientAuth)
}

func selfSigned(name string, ips []net.IP, usage x509.ExtKeyUsage) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
