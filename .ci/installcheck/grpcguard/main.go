// Command grpcguard uses the grpcguard module as a user would: a Guard
// wrapped into a gRPC unary interceptor, one call accepted, one refused.
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/senderbound/senderbound/grpcguard"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
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
	guard, err := middleware.New(keys, middleware.WithAudience(iss.Audience()))
	if err != nil {
		log.Fatal(err)
	}
	auth, err := grpcguard.New(guard)
	if err != nil {
		log.Fatal(err)
	}
	token, err := iss.Mint(oauthtest.Token{Subject: "alice"})
	if err != nil {
		log.Fatal(err)
	}
	info := &grpc.UnaryServerInfo{FullMethod: "/shop.v1.Orders/Get"}
	handler := func(ctx context.Context, req any) (any, error) {
		claims, _ := middleware.ClaimsFromContext(ctx)
		return "hello " + claims.Subject(), nil
	}
	good := metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", "Bearer "+token))
	if _, err := auth.Unary(good, nil, info, handler); err != nil {
		log.Fatalf("a valid token: %v", err)
	}
	_, err = auth.Unary(ctx, nil, info, handler)
	if status.Code(err) != codes.Unauthenticated {
		log.Fatalf("no token: %v, want Unauthenticated", err)
	}
	fmt.Println("grpcguard.Interceptor: a valid token OK, no token Unauthenticated")
}
