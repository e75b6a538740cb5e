package oauthtest_test

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/senderbound/senderbound/internal/jose"
	"github.com/senderbound/senderbound/oauthtest"
)

func ExampleNewIssuer() {
	iss, err := oauthtest.NewIssuer(oauthtest.WithAlgorithm("ES256"))
	if err != nil {
		panic(err)
	}
	defer iss.Close()

	tok, err := iss.Mint(oauthtest.Token{
		Dialect: oauthtest.RFC9068,
		Scope:   "read:messages",
		JKT:     "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
	})
	if err != nil {
		panic(err)
	}
	jws, _ := jose.Split(tok)
	var header struct{ Typ, Alg string }
	var claims struct {
		Aud   string
		Scope string
		Cnf   struct{ Jkt string }
	}
	_ = json.Unmarshal(jws.Header, &header)
	_ = json.Unmarshal(jws.Payload, &claims)
	fmt.Println(header.Typ, header.Alg)
	fmt.Println(claims.Aud, claims.Scope, claims.Cnf.Jkt)
	fmt.Println(strings.HasSuffix(iss.Issuer(), "/"), len(iss.KeyIDs()))
	// Output:
	// at+jwt ES256
	// https://api.example.com read:messages 0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I
	// true 2
}
