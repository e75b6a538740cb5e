package grpcguard_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"math/big"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/grpcguard"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Full method names of the test service.
const (
	unaryMethod  = "/grpc.testing.TestService/UnaryCall"
	emptyMethod  = "/grpc.testing.TestService/EmptyCall"
	streamMethod = "/grpc.testing.TestService/StreamingOutputCall"
	healthCheck  = "/grpc.health.v1.Health/Check"
)

// service answers with the subject of the verified token, read through the
// same accessor as an HTTP handler uses.
type service struct {
	testpb.UnimplementedTestServiceServer
}

func subject(ctx context.Context) []byte {
	c, ok := middleware.ClaimsFromContext(ctx)
	if !ok {
		return []byte("<no claims>")
	}
	return []byte(c.Subject())
}

func (service) EmptyCall(context.Context, *testpb.Empty) (*testpb.Empty, error) {
	return &testpb.Empty{}, nil
}

func (service) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return &testpb.SimpleResponse{Payload: &testpb.Payload{Body: subject(ctx)}}, nil
}

func (service) StreamingOutputCall(_ *testpb.StreamingOutputCallRequest, s testpb.TestService_StreamingOutputCallServer) error {
	return s.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: subject(s.Context())}})
}

// env is a real grpc-go server on loopback TCP with real TLS, protected by
// an Interceptor, and the issuer whose tokens it accepts.
type env struct {
	iss      *oauthtest.Issuer
	addr     string
	roots    *x509.CertPool
	arrivals atomic.Int64 // calls that reached the server, before the guard
}

type envConfig struct {
	guard []middleware.Option
	grpc  []grpcguard.Option
	// guardFor adds Guard options that need the issuer.
	guardFor func(t testing.TB, iss *oauthtest.Issuer) []middleware.Option
}

func newEnv(t testing.TB, cfg envConfig) *env {
	t.Helper()
	iss, err := oauthtest.NewIssuer()
	require.NoError(t, err)
	t.Cleanup(iss.Close)
	keys, err := jwks.New(context.Background(), jwks.WithIssuer(iss.Issuer()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = keys.Close() })
	if cfg.guardFor != nil {
		cfg.guard = append(cfg.guard, cfg.guardFor(t, iss)...)
	}
	g, err := middleware.New(keys, append([]middleware.Option{middleware.WithAudience(iss.Audience())}, cfg.guard...)...)
	require.NoError(t, err)
	in, err := grpcguard.New(g, append([]grpcguard.Option{
		grpcguard.WithScopes(map[string][]string{unaryMethod: {"read:things"}, streamMethod: {"read:things"}}),
		grpcguard.WithoutAuthentication(healthCheck),
	}, cfg.grpc...)...)
	require.NoError(t, err)

	serverCert := selfSigned(t, "localhost", true)
	roots := x509.NewCertPool()
	roots.AddCert(serverCert.Leaf)
	e := &env{iss: iss, roots: roots}
	count := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		e.arrivals.Add(1)
		return h(ctx, req)
	}
	srv := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(mtls.ServerTLSConfig(serverCert, nil))),
		grpc.ChainUnaryInterceptor(count, in.Unary),
		grpc.ChainStreamInterceptor(in.Stream),
	)
	testpb.RegisterTestServiceServer(srv, service{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	e.addr = lis.Addr().String()
	return e
}

// dial connects to the server with an optional client certificate and
// extra dial options.
func (e *env) dial(t testing.TB, cert *tls.Certificate, opts ...grpc.DialOption) testpb.TestServiceClient {
	return testpb.NewTestServiceClient(e.conn(t, cert, opts...))
}

func (e *env) conn(t testing.TB, cert *tls.Certificate, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	tc := &tls.Config{RootCAs: e.roots, MinVersion: tls.VersionTLS12}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	cc, err := grpc.NewClient(e.addr, append([]grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(tc))}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return cc
}

// htu is the URL a DPoP proof for method must name.
func (e *env) htu(method string) string { return "https://" + e.addr + method }

func (e *env) mint(t testing.TB, tok oauthtest.Token) string {
	t.Helper()
	s, err := e.iss.Mint(tok)
	require.NoError(t, err)
	return s
}

func newSigner(t testing.TB) *dpop.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	s, err := dpop.NewSigner(k)
	require.NoError(t, err)
	return s
}

func proof(t testing.TB, s *dpop.Signer, htu, token, nonce string) string {
	t.Helper()
	p, err := s.Proof("POST", htu, token, nonce)
	require.NoError(t, err)
	return p
}

// selfSigned returns a certificate for name (a server certificate for
// localhost and 127.0.0.1 when server is set, else a client certificate).
func selfSigned(t testing.TB, name string, server bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// streamFirst opens the streaming call and reads its first answer.
func streamFirst(ctx context.Context, c testpb.TestServiceClient) (body string, header map[string][]string, err error) {
	s, err := c.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{})
	if err != nil {
		return "", nil, err
	}
	resp, err := s.Recv()
	header, _ = s.Header()
	if err != nil {
		return "", header, err
	}
	if _, err := s.Recv(); err != io.EOF {
		return "", header, err
	}
	return string(resp.GetPayload().GetBody()), header, nil
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func mustPrefix(t testing.TB, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	require.NoError(t, err)
	return p
}
