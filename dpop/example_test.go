package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/senderbound/senderbound/dpop"
)

// A client signs a proof for its request; the resource server verifies it
// against the request and the token's cnf.jkt.
func ExampleVerifier_Verify() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := dpop.NewSigner(key)
	const token = "an-access-token"
	proof, _ := signer.Proof("GET", "https://api.example.com/orders?page=2", token, "")

	v, _ := dpop.NewVerifier()
	u, _ := url.Parse("https://api.example.com/orders?page=2")
	req := dpop.Request{Method: "GET", URL: u, AccessToken: token, JKT: signer.Thumbprint()}

	p, err := v.Verify(context.Background(), proof, req)
	fmt.Println(err, p.Algorithm, p.Thumbprint == signer.Thumbprint())

	// The same proof a second time is a replay.
	_, err = v.Verify(context.Background(), proof, req)
	fmt.Println(errors.Is(err, dpop.ErrReplayed))
	// Output:
	// <nil> ES256 true
	// true
}

// A Transport adds the token and a fresh proof to every request, and answers
// a server's use_dpop_nonce challenge once.
func ExampleTransport() {
	nonces, _ := dpop.NewHMACNonces([][]byte{[]byte("a shared secret of 32 bytes or more")})
	v, _ := dpop.NewVerifier(dpop.WithNonces(nonces))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "DPoP ")
		req := dpop.Request{Method: r.Method, URL: dpop.URLResolver{}.URL(r), AccessToken: token}
		if _, err := v.Verify(r.Context(), r.Header.Get("DPoP"), req); err != nil {
			if errors.Is(err, dpop.ErrNonce) {
				n, _ := v.Nonce()
				w.Header().Set("DPoP-Nonce", n)
				w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce"`)
			}
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "hello, key holder")
	}))
	defer srv.Close()

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := dpop.NewSigner(key)
	client := &http.Client{Transport: &dpop.Transport{Signer: signer, Source: dpop.StaticToken("an-access-token")}}

	resp, err := client.Get(srv.URL + "/greeting")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 hello, key holder
}

func ExampleThumbprintJWK() {
	jkt, _ := dpop.ThumbprintJWK([]byte(`{"kty":"EC","crv":"P-256",` +
		`"x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",` +
		`"y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}`))
	fmt.Println(jkt)
	// Output: 0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I
}

func ExampleNormalizeURI() {
	n, _ := dpop.NormalizeURI("HTTPS://API.Example.com:443/a/./%7euser?q=1#top")
	fmt.Println(n)
	// Output: https://api.example.com/a/~user
}
