package observe_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
	"github.com/senderbound/senderbound/observe"
)

// This example counts a Guard's decisions by outcome and reason with a
// callback of its own (otelobserve does the same into OpenTelemetry).
func Example() {
	iss, _ := oauthtest.NewIssuer() // test-only issuer
	defer iss.Close()
	keys, err := jwks.New(context.Background(), jwks.WithIssuerJWKS(iss.Issuer(), iss.JWKSURL()))
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()

	obs := &observe.Observer{
		Request: func(ctx context.Context, e observe.Request) {
			// Must be quick: it runs on the request's goroutine.
			fmt.Printf("%s status=%d mechanism=%q reason=%q trusted issuer=%t\n",
				e.Outcome, e.Status, e.Mechanism, e.ReasonName, e.Issuer == iss.Issuer())
		},
	}
	guard, err := middleware.New(keys, middleware.WithAudience(iss.Audience()), middleware.WithObserver(obs))
	if err != nil {
		log.Fatal(err)
	}

	good, _ := iss.Mint(oauthtest.Token{})
	expired, _ := iss.Mint(oauthtest.Token{IssuedAt: time.Now().Add(-2 * time.Hour), ExpiresIn: time.Hour})
	for _, tok := range []string{good, expired, ""} {
		r := httptest.NewRequest("GET", "https://api.example.com/messages", nil)
		if tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		_, _ = guard.Check(r)
	}
	// Output:
	// accepted status=200 mechanism="bearer" reason="" trusted issuer=true
	// rejected status=401 mechanism="bearer" reason="expired" trusted issuer=true
	// rejected status=401 mechanism="" reason="no_credentials" trusted issuer=false
}
