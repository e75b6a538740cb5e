package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/senderbound/senderbound/clientauth"
	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// A service obtains DPoP-bound tokens with its client ID and secret and
// calls an API that requires them. Against Auth0, tokenURL is
// "https://TENANT.auth0.com/oauth/token" and the audience is the API's
// identifier; the test issuer stands in for it here.
func ExampleClientCredentials() {
	ctx := context.Background()
	iss, _ := oauthtest.NewIssuer() // test only: an Auth0-like token endpoint
	defer iss.Close()
	_ = iss.RegisterClient(oauthtest.Client{ID: "my-service", Secret: "its-secret"})

	// The API: DPoP required.
	keys, _ := jwks.New(ctx, jwks.WithIssuer(iss.Issuer()))
	defer keys.Close()
	guard, _ := middleware.New(keys, middleware.WithAudience("https://api.example.com"),
		middleware.WithProofOfPossession(middleware.MechanismDPoP, true))
	api := httptest.NewServer(guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := middleware.TokenFromContext(r.Context())
		fmt.Fprintf(w, "hello %s, bound by %s", tok.Claims.Subject(), tok.Binding.Mechanism)
	})))
	defer api.Close()

	// The client: one key for the proofs, for as long as its tokens live.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := dpop.NewSigner(key)
	source, err := dpop.NewClientCredentials(iss.TokenURL(), signer,
		clientauth.ClientSecretPost("my-service", "its-secret"),
		dpop.WithTokenAudience("https://api.example.com"))
	if err != nil {
		fmt.Println(err)
		return
	}
	client := &http.Client{Transport: &dpop.Transport{Signer: signer, Source: source}}

	resp, err := client.Get(api.URL + "/messages")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 hello my-service@clients, bound by dpop
}
