package grpcguard_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"math/big"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/grpcguard"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// A grpc-go server protected by the interceptors, and a client sending a
// DPoP-bound token with the per-RPC credentials.
func Example() {
	ctx := context.Background()
	// The issuer (here a fake one) and the Guard, as for HTTP.
	iss, err := oauthtest.NewIssuer()
	if err != nil {
		log.Fatal(err)
	}
	defer iss.Close()
	keys, err := jwks.New(ctx, jwks.WithIssuer(iss.Issuer()))
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	guard, err := middleware.New(keys, middleware.WithAudience(iss.Audience()),
		middleware.WithProofOfPossession(middleware.MechanismDPoP, true))
	if err != nil {
		log.Fatal(err)
	}

	// The server: the interceptors, a scope per method, TLS.
	auth, err := grpcguard.New(guard,
		grpcguard.WithScopes(map[string][]string{"/grpc.testing.TestService/UnaryCall": {"read:things"}}),
		grpcguard.WithoutAuthentication("/grpc.health.v1.Health/Check"),
	)
	if err != nil {
		log.Fatal(err)
	}
	cert, roots := exampleCertificate()
	srv := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})),
		grpc.ChainUnaryInterceptor(auth.Unary),
		grpc.ChainStreamInterceptor(auth.Stream),
	)
	testpb.RegisterTestServiceServer(srv, exampleService{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()

	// The client: its DPoP key, a token bound to it, the credentials.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := dpop.NewSigner(key)
	if err != nil {
		log.Fatal(err)
	}
	token, err := iss.Mint(oauthtest.Token{Subject: "alice", Scope: "read:things", JKT: signer.Thumbprint()})
	if err != nil {
		log.Fatal(err)
	}
	creds, err := grpcguard.NewCredentials(signer, dpop.StaticToken(token))
	if err != nil {
		log.Fatal(err)
	}
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})),
		grpc.WithPerRPCCredentials(creds),
		grpc.WithChainUnaryInterceptor(creds.Unary),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	resp, err := testpb.NewTestServiceClient(conn).UnaryCall(ctx, &testpb.SimpleRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("hello, %s\n", resp.GetPayload().GetBody())

	// The same token, stolen, without the key: a bearer call fails, and the
	// challenge says why.
	plain, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})))
	if err != nil {
		log.Fatal(err)
	}
	defer plain.Close()
	var header metadata.MD
	_, err = testpb.NewTestServiceClient(plain).UnaryCall(
		metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token),
		&testpb.SimpleRequest{}, grpc.Header(&header))
	for _, v := range header.Get("www-authenticate") {
		if e, ok := grpcguard.ChallengeParam(v, "DPoP", "error"); ok {
			fmt.Println(status.Code(err) == codes.Unauthenticated, e)
		}
	}
	// Output:
	// hello, alice
	// true invalid_token
}

type exampleService struct {
	testpb.UnimplementedTestServiceServer
}

func (exampleService) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	claims, _ := middleware.ClaimsFromContext(ctx)
	return &testpb.SimpleResponse{Payload: &testpb.Payload{Body: []byte(claims.Subject())}}, nil
}

// exampleCertificate returns a self-signed server certificate for
// 127.0.0.1 and a pool that trusts it.
func exampleCertificate() (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		log.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}
