package jwks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/senderbound/senderbound/internal/jose"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/oauthtest"
)

func Example() {
	// A fake Auth0-like tenant; in production this is "https://TENANT.auth0.com/".
	tenant, err := oauthtest.NewIssuer()
	if err != nil {
		panic(err)
	}
	defer tenant.Close()

	// The start-up deadline bounds only the initial load; the keys keep
	// refreshing in the background until Close.
	startup, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	keys, err := jwks.New(startup, jwks.WithIssuer(tenant.Issuer()))
	if err != nil {
		panic(err)
	}
	defer keys.Close()
	if err := keys.Ready(startup); err != nil {
		panic(err) // names each issuer without keys and why
	}

	token, _ := tenant.Mint(oauthtest.Token{Scope: "read:messages"})
	jws, _ := jose.Split(token)

	// The middleware reads iss, kid and alg from the token; here we know them.
	ctx := context.Background()
	key, err := keys.Key(ctx, tenant.Issuer(), tenant.CurrentKeyID(), "RS256")
	fmt.Println(err, jose.Verify("RS256", jws.SigningInput, jws.Signature, key))

	_, err = keys.Key(ctx, tenant.Issuer(), tenant.CurrentKeyID(), "ES256")
	fmt.Println(errors.Is(err, jwks.ErrKeyMismatch))
	_, err = keys.Key(ctx, "https://evil.example/", tenant.CurrentKeyID(), "RS256")
	fmt.Println(errors.Is(err, jwks.ErrUnknownIssuer))
	// Output:
	// <nil> <nil>
	// true
	// true
}

// A readiness endpoint answers 503 until every issuer has keys, with the
// status of each.
func ExampleKeys_Status() {
	tenant, err := oauthtest.NewIssuer()
	if err != nil {
		panic(err)
	}
	defer tenant.Close()
	keys, err := jwks.New(context.Background(), jwks.WithIssuer(tenant.Issuer()))
	if err != nil {
		panic(err)
	}
	defer keys.Close()

	readyz := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Ready with an ended context only checks, it does not wait.
		done, cancel := context.WithCancel(r.Context())
		cancel()
		w.Header().Set("Content-Type", "application/json")
		if keys.Ready(done) != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(keys.Status())
	})
	w := httptest.NewRecorder()
	readyz.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var status []map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &status)
	fmt.Println(w.Code, status[0]["keys"], status[0]["last_error"])
	// Output:
	// 200 2 <nil>
}

// ID tokens and logout tokens of a tenant, parsed with golang-jwt, share
// the keys that verify its access tokens.
func ExampleKeys_Keyfunc() {
	tenant, err := oauthtest.NewIssuer()
	if err != nil {
		panic(err)
	}
	defer tenant.Close()
	keys, err := jwks.New(context.Background(), jwks.WithIssuer(tenant.Issuer()))
	if err != nil {
		panic(err)
	}
	defer keys.Close()

	idToken, _ := tenant.Mint(oauthtest.Token{Scope: "openid"})
	tok, err := jwt.Parse(idToken, keys.Keyfunc(context.Background(), tenant.Issuer()),
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(tenant.Issuer()))
	fmt.Println(err, tok.Valid)
	// Output:
	// <nil> true
}
