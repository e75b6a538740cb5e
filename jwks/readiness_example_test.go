package jwks_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/oauthtest"
)

// A mistake that retrying will not fix, here the issuer configured without
// the trailing slash that its metadata and tokens have, ends Ready's wait
// at once with the reason and the fix, instead of at the deadline. The
// issuer is still retried in the background, so fixing it at the issuer
// is enough; fixing the configuration needs a restart.
func ExampleKeys_Ready() {
	tenant, err := oauthtest.NewIssuer() // its issuer is "http://127.0.0.1:PORT/"
	if err != nil {
		panic(err)
	}
	defer tenant.Close()
	startup, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	keys, err := jwks.New(startup, jwks.WithIssuer(strings.TrimSuffix(tenant.Issuer(), "/")))
	if err != nil {
		panic(err)
	}
	defer keys.Close()

	err = keys.Ready(startup)
	fmt.Println(startup.Err() == nil, errors.Is(err, jwks.ErrPermanent), errors.Is(err, jwks.ErrIssuerMismatch))
	fmt.Println(strings.Contains(err.Error(), "fix: the issuers differ only in the trailing slash"))
	// Output:
	// true true true
	// true
}
