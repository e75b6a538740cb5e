// Command client is a Go API client that calls a DPoP-protected API with
// dpop.Transport: every request carries "Authorization: DPoP <token>" and a
// fresh proof, and a server's demand for a nonce is answered automatically.
// Run it with
//
//	go run ./examples/client
//
// To be self-contained it starts an embedded test issuer and an API that
// requires DPoP with server nonces; callAPI is the part to copy.
package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/jwks/jwkstest"
	"github.com/senderbound/senderbound/middleware"
)

// callAPI calls the API as a client holding key, whose access token is bound
// to that key (its cnf.jkt is the key's thumbprint).
func callAPI(ctx context.Context, api string, key crypto.Signer, token string, out io.Writer) error {
	signer, err := dpop.NewSigner(key)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &dpop.Transport{
		Signer: signer,
		Source: dpop.StaticToken(token), // or your own TokenSource that refreshes
	}}

	// A GET, then a POST with a body. The API demands a server nonce first:
	// the transport retries with it (re-sending a body through GetBody) and
	// remembers it for the next requests.
	for _, body := range []string{"", `{"text":"hello"}`} {
		method := http.MethodGet
		if body != "" {
			method = http.MethodPost
		}
		req, err := http.NewRequestWithContext(ctx, method, api+"/api/messages", strings.NewReader(body))
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		reply, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(out, "%s /api/messages -> %d %s\n", method, resp.StatusCode, strings.TrimSpace(string(reply)))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answered %s", method, resp.Status)
		}
	}
	return nil
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}

// run starts the embedded issuer and API, then calls the API.
func run(ctx context.Context, out io.Writer) error {
	iss, err := jwkstest.NewIssuer() // test-only stand-in for your authorization server
	if err != nil {
		return err
	}
	defer iss.Close()
	keys, err := jwks.New(ctx, jwks.WithIssuer(iss.Issuer()))
	if err != nil {
		return err
	}
	defer keys.Close()
	api, err := startAPI(keys, iss.Audience())
	if err != nil {
		return err
	}
	defer api.Close()

	// The client's key. It must live as long as the tokens bound to it.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	jkt, err := dpop.Thumbprint(key.Public())
	if err != nil {
		return err
	}
	// An authorization server issues a token bound to the key when the
	// token request carries a DPoP proof; here the test issuer mints it.
	token, err := iss.Mint(jwkstest.Token{JKT: jkt, Scope: "read:messages"})
	if err != nil {
		return err
	}
	return callAPI(ctx, api.URL, key, token, out)
}

// startAPI serves an API that requires DPoP-bound tokens and server nonces.
func startAPI(keys *jwks.Keys, audience string) (*httptest.Server, error) {
	secret := make([]byte, 32)
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
	guard, err := middleware.New(keys,
		middleware.WithAudience(audience),
		middleware.WithProofOfPossession(middleware.MechanismDPoP, true),
		middleware.WithDPoP(verifier))
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		claims, _ := middleware.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "hello %s, you sent %d bytes\n", claims.Subject(), len(body))
	})))
	return srv, nil
}
