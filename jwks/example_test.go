package jwks_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/senderbound/senderbound/internal/jose"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/jwks/jwkstest"
)

func Example() {
	// A fake Auth0-like tenant; in production this is "https://TENANT.auth0.com/".
	tenant, err := jwkstest.NewIssuer()
	if err != nil {
		panic(err)
	}
	defer tenant.Close()

	ctx := context.Background()
	keys, err := jwks.New(ctx, jwks.WithIssuer(tenant.Issuer()))
	if err != nil {
		panic(err)
	}
	defer keys.Close()

	token, _ := tenant.Mint(jwkstest.Token{Scope: "read:messages"})
	jws, _ := jose.Split(token)

	// The middleware reads iss, kid and alg from the token; here we know them.
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
