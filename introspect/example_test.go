package introspect_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/senderbound/senderbound/clientauth"
	"github.com/senderbound/senderbound/introspect"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// exampleIssuer starts a test authorization server that knows the API as a
// client, and returns it with an opaque token for alice.
func exampleIssuer() (*oauthtest.Issuer, string) {
	iss, err := oauthtest.NewIssuer()
	if err != nil {
		log.Fatal(err)
	}
	if err := iss.RegisterClient(oauthtest.Client{ID: "my-api", Secret: "its-secret"}); err != nil {
		log.Fatal(err)
	}
	token, err := iss.MintOpaque(oauthtest.Token{Subject: "alice", Scope: "read:messages"})
	if err != nil {
		log.Fatal(err)
	}
	return iss, token
}

// get sends token to h and prints the answer's status and body.
func get(h http.Handler, token string) {
	r := httptest.NewRequest(http.MethodGet, "https://api.example.com/messages", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Body.String())
}

var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	claims, _ := middleware.ClaimsFromContext(r.Context())
	fmt.Fprint(w, claims.Subject())
})

// An API whose authorization server issues opaque tokens: the Guard asks
// the issuer's introspection endpoint (found by discovery) about each
// token, with the API's own client credentials, and caches active answers
// for at most 30 seconds.
func ExampleNew() {
	iss, token := exampleIssuer()
	defer iss.Close()
	ctx := context.Background()
	issuer := iss.Issuer()

	// The API's own credentials at the authorization server.
	auth := clientauth.ClientSecretBasic("my-api", "its-secret")
	client, err := introspect.New(ctx, issuer,
		introspect.WithClientAuth(auth),
		introspect.WithCache(30*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	guard, err := middleware.New(nil,
		middleware.WithAudience("https://api.example.com"),
		middleware.WithPublicURL("https://api.example.com"),
		middleware.WithIntrospection(client))
	if err != nil {
		log.Fatal(err)
	}
	handler := guard.Handler(hello)

	get(handler, token)
	iss.RevokeToken(token)
	get(handler, token) // still cached
	get(handler, "not-a-token-the-issuer-made")
	// Output:
	// 200 alice
	// 200 alice
	// 401 Unauthorized
}

// JWTs and opaque tokens on one Guard: a token shaped like a JWT is
// verified locally with the issuer's keys, any other token is introspected.
func ExampleNew_jwtsAndOpaqueTokens() {
	iss, token := exampleIssuer()
	defer iss.Close()
	ctx := context.Background()
	issuer := iss.Issuer()
	jwt, err := iss.Mint(oauthtest.Token{Subject: "bob"})
	if err != nil {
		log.Fatal(err)
	}

	keys, err := jwks.New(ctx, jwks.WithIssuer(issuer))
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	client, err := introspect.New(ctx, issuer,
		introspect.WithClientAuth(clientauth.ClientSecretBasic("my-api", "its-secret")))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	guard, err := middleware.New(keys,
		middleware.WithAudience("https://api.example.com"),
		middleware.WithPublicURL("https://api.example.com"),
		middleware.WithIntrospection(client))
	if err != nil {
		log.Fatal(err)
	}

	get(guard.Handler(hello), jwt)
	get(guard.Handler(hello), token)
	fmt.Println("introspection calls:", iss.IntrospectionRequests())
	// Output:
	// 200 bob
	// 200 alice
	// introspection calls: 1
}

// Signed (RFC 9701) answers verified with the issuer's keys, and the API
// authenticating with a private key (RFC 7523) instead of a secret.
func ExampleWithJWTResponse() {
	iss, _ := exampleIssuer()
	defer iss.Close()
	ctx := context.Background()
	issuer := iss.Issuer()
	apiKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	if err := iss.RegisterClient(oauthtest.Client{ID: "my-api", PublicKey: apiKey.Public()}); err != nil {
		log.Fatal(err)
	}
	token, err := iss.MintOpaque(oauthtest.Token{Subject: "carol"})
	if err != nil {
		log.Fatal(err)
	}

	keys, err := jwks.New(ctx, jwks.WithIssuer(issuer))
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	client, err := introspect.New(ctx, issuer,
		introspect.WithClientAuth(clientauth.PrivateKeyJWT("my-api", apiKey)),
		introspect.WithJWTResponse(keys, "my-api"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	res, err := client.Introspect(ctx, token)
	if err != nil {
		log.Fatal(err)
	}
	var answer struct {
		Sub string `json:"sub"`
	}
	if err := res.Decode(&answer); err != nil {
		log.Fatal(err)
	}
	fmt.Println(answer.Sub, res.TokenType)
	// Output:
	// carol Bearer
}
