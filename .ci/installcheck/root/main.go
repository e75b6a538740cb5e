// Command root uses the core module as a user would: keys from an issuer,
// a Guard, a protected handler, one accepted and one refused request.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
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
	if err := keys.Ready(ctx); err != nil {
		log.Fatal(err)
	}
	guard, err := middleware.New(keys, middleware.WithAudience(iss.Audience()))
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := middleware.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "hello %s", claims.Subject())
	})))
	defer srv.Close()
	token, err := iss.Mint(oauthtest.Token{Subject: "alice"})
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range []struct {
		auth string
		want int
	}{{"Bearer " + token, http.StatusOK}, {"", http.StatusUnauthorized}} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			log.Fatalf("got %d, want %d", resp.StatusCode, c.want)
		}
	}
	fmt.Println("middleware.Guard: a valid token 200, no token 401")
}
