package middleware_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
)

// This example protects a handler with a Guard: keys from the issuer's
// JWKS (found through discovery), the API's audience, and Handler around
// the routes. The test issuer stands in for an Auth0 tenant
// ("https://YOUR_TENANT.auth0.com/").
func Example() {
	iss, _ := oauthtest.NewIssuer() // test-only issuer
	defer iss.Close()

	ctx := context.Background()
	keys, err := jwks.New(ctx, jwks.WithIssuer(iss.Issuer()))
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	guard, err := middleware.New(keys,
		middleware.WithAudience("https://api.example.com"),
		middleware.WithPublicURL("https://api.example.com")) // the URL clients address: DPoP proofs name it
	if err != nil {
		log.Fatal(err)
	}

	listMessages := func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "[]") }

	mux := http.NewServeMux()
	mux.Handle("GET /api/me", guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := middleware.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "hello %s", claims.Subject())
	})))
	mux.Handle("GET /api/messages", guard.Handler(guard.RequireScopes("read:messages")(http.HandlerFunc(listMessages))))

	// A request with a bearer token, and one without credentials.
	token, _ := iss.Mint(oauthtest.Token{Subject: "alice"})
	for _, auth := range []string{"Bearer " + token, ""} {
		req := httptest.NewRequest(http.MethodGet, "https://api.example.com/api/me", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
		for _, c := range rec.Header().Values("WWW-Authenticate") {
			fmt.Println("WWW-Authenticate:", c)
		}
	}
	// Output:
	// 200 hello alice
	// 401 Unauthorized
	// WWW-Authenticate: Bearer
	// WWW-Authenticate: DPoP algs="ES256 ES384 PS256 RS256 EdDSA Ed25519"
}

// exampleGuard is the setup of the examples below: a test issuer, its keys and a
// Guard with opts.
func exampleGuard(opts ...middleware.Option) (*oauthtest.Issuer, *middleware.Guard, func()) {
	iss, err := oauthtest.NewIssuer()
	if err != nil {
		log.Fatal(err)
	}
	keys, err := jwks.New(context.Background(), jwks.WithIssuer(iss.Issuer()))
	if err != nil {
		log.Fatal(err)
	}
	opts = append([]middleware.Option{middleware.WithAudience(iss.Audience())}, opts...)
	guard, err := middleware.New(keys, opts...)
	if err != nil {
		log.Fatal(err)
	}
	return iss, guard, func() { keys.Close(); iss.Close() }
}

// RequireScopes adds a scope check per route, behind Handler. The scope may
// be in the token's scope claim or in Auth0's permissions claim.
func ExampleGuard_RequireScopes() {
	iss, guard, done := exampleGuard()
	defer done()

	list := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "messages") })
	mux := http.NewServeMux()
	mux.Handle("GET /api/messages", guard.Handler(guard.RequireScopes("read:messages")(list)))

	for _, tok := range []oauthtest.Token{
		{Scope: "read:messages"},
		{Permissions: []string{"read:messages"}},
		{Scope: "profile"},
	} {
		token, _ := iss.Mint(tok)
		req := httptest.NewRequest(http.MethodGet, "https://api.example.com/api/messages", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if c := rec.Header().Get("WWW-Authenticate"); c != "" {
			fmt.Println(rec.Code, c)
		} else {
			fmt.Println(rec.Code)
		}
	}
	// Output:
	// 200
	// 200
	// 403 Bearer error="insufficient_scope", error_description="insufficient scope", scope="read:messages"
}

// Verify takes plain inputs, for transports other than net/http (gRPC, a
// gateway). Every rejection is an *Error that says how to answer, and wraps
// a sentinel for logs and metrics.
func ExampleGuard_Verify() {
	iss, guard, done := exampleGuard()
	defer done()
	ctx := context.Background()
	u, _ := url.Parse("https://api.example.com/api/me")

	token, _ := iss.Mint(oauthtest.Token{Subject: "alice", Scope: "read:messages"})
	tok, err := guard.Verify(ctx, middleware.Request{Scheme: "Bearer", Token: token, Method: "GET", URL: u})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.Claims.Subject(), tok.Claims.Scopes(), tok.Binding.Mechanism)

	expired, _ := iss.Mint(oauthtest.Token{ExpiresIn: -time.Hour})
	_, err = guard.Verify(ctx, middleware.Request{Scheme: "Bearer", Token: expired, Method: "GET", URL: u})
	var e *middleware.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Code, errors.Is(err, middleware.ErrExpired))
	}
	// Output:
	// alice [read:messages] none
	// 401 invalid_token true
}

// Metadata and MetadataHandler publish what the API needs (RFC 9728), and
// WithResourceMetadata points every challenge at that document.
func ExampleGuard_Metadata() {
	const api = "https://api.example.com"
	_, guard, done := exampleGuard(
		middleware.WithProofOfPossession(middleware.MechanismDPoP, true),
		middleware.WithResourceMetadata(api+"/.well-known/oauth-protected-resource"),
	)
	defer done()

	meta := guard.Metadata(api, []string{"https://YOUR_TENANT.auth0.com/"}, []string{"read:messages"})
	mux := http.NewServeMux()
	mux.Handle("/.well-known/oauth-protected-resource", middleware.MetadataHandler(meta))

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, api+"/.well-known/oauth-protected-resource", nil))
	var doc map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &doc)
	out, _ := json.MarshalIndent(doc, "", "  ")
	fmt.Println(string(out))
	// Output:
	// {
	//   "authorization_servers": [
	//     "https://YOUR_TENANT.auth0.com/"
	//   ],
	//   "bearer_methods_supported": [
	//     "header"
	//   ],
	//   "dpop_bound_access_tokens_required": true,
	//   "dpop_signing_alg_values_supported": [
	//     "ES256",
	//     "ES384",
	//     "PS256",
	//     "RS256",
	//     "EdDSA",
	//     "Ed25519"
	//   ],
	//   "resource": "https://api.example.com",
	//   "scopes_supported": [
	//     "read:messages"
	//   ],
	//   "tls_client_certificate_bound_access_tokens": false
	// }
}

// A DPoP-only API: unbound tokens are refused, a DPoP-bound token is
// accepted with a proof from its key, and the same token sent as Bearer is
// refused. WithPublicURL is the URL clients address, which their proofs
// name (here the test server's). The client side is dpop.Transport.
func ExampleWithProofOfPossession() {
	srv := httptest.NewUnstartedServer(nil)
	publicURL := "http://" + srv.Listener.Addr().String() // in production "https://api.example.com"
	iss, guard, done := exampleGuard(
		middleware.WithProofOfPossession(middleware.MechanismDPoP, true),
		middleware.WithPublicURL(publicURL))
	defer done()
	srv.Config.Handler = guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := middleware.TokenFromContext(r.Context())
		fmt.Fprintf(w, "binding %s", tok.Binding.Mechanism)
	}))
	srv.Start()
	defer srv.Close()

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // the client's key
	signer, _ := dpop.NewSigner(key)
	token, _ := iss.Mint(oauthtest.Token{JKT: signer.Thumbprint()}) // bound to the key

	client := &http.Client{Transport: &dpop.Transport{Signer: signer, Source: dpop.StaticToken(token)}}
	resp, err := client.Get(srv.URL + "/api/me")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("DPoP:", resp.StatusCode)

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+token) // a stolen token
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("Bearer:", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	// Output:
	// DPoP: 200
	// Bearer: 401 DPoP algs="ES256 ES384 PS256 RS256 EdDSA Ed25519", error="invalid_token", error_description="DPoP-bound token requires the DPoP scheme"
}

// Behind a TLS-terminating proxy: the proxy's address is trusted for the
// forwarded client certificate (here nginx's $ssl_client_escaped_cert in
// X-Client-Cert) and for X-Forwarded-Proto/Host, and the public URL fixes
// the external URL that DPoP proofs name. Requests from any other address
// have those headers ignored.
func ExampleWithCertificateSource() {
	iss, _ := oauthtest.NewIssuer() // test-only issuer
	defer iss.Close()
	keys, err := jwks.New(context.Background(), jwks.WithIssuer(iss.Issuer()))
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()

	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	certs, err := mtls.NewSource(
		mtls.WithForwardedHeader("X-Client-Cert", mtls.EscapedPEM), // nginx: $ssl_client_escaped_cert
		mtls.WithTrustedProxies(proxies...),
	)
	if err != nil {
		log.Fatal(err)
	}
	guard, err := middleware.New(keys,
		middleware.WithAudience("https://api.example.com"),
		middleware.WithProofOfPossession(middleware.MechanismMTLS, true),
		middleware.WithCertificateSource(certs),
		middleware.WithTrustedProxies(proxies...),
		middleware.WithPublicURL("https://api.example.com"),
	)
	if err != nil {
		log.Fatal(err)
	}
	api := guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	clientCert := exampleClientCert() // the certificate the client showed the proxy
	token, _ := iss.Mint(oauthtest.Token{X5TS256: mtls.Thumbprint(clientCert)})
	forwarded := url.PathEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: clientCert.Raw})))

	for _, from := range []string{"10.1.2.3:4321", "203.0.113.9:4321"} {
		req := httptest.NewRequest(http.MethodGet, "http://backend:8080/api/me", nil)
		req.RemoteAddr = from
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Client-Cert", forwarded)
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		fmt.Println(from, rec.Code)
	}
	// Output:
	// 10.1.2.3:4321 200
	// 203.0.113.9:4321 401
}

// exampleClientCert returns a throwaway self-signed client certificate.
func exampleClientCert() *x509.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	cert, _ := x509.ParseCertificate(der)
	return cert
}

// Encrypted access tokens (a signed JWT inside a JWE, as Auth0 issues when
// an API turns on token encryption) are decrypted with the API's private
// keys, by JWE kid, and then verified as usual. It is compiled but not run.
func ExampleWithDecryptionKeys() {
	pemBytes, err := os.ReadFile("api-encryption-key.pem")
	if err != nil {
		log.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		log.Fatal("no PEM block")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		log.Fatal(err)
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		log.Fatal("not an RSA key")
	}

	keys, err := jwks.New(context.Background(), jwks.WithIssuer("https://YOUR_TENANT.auth0.com/"))
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	guard, err := middleware.New(keys,
		middleware.WithAudience("https://api.example.com"),
		middleware.WithDecryptionKeys(map[string]*rsa.PrivateKey{"enc-2025": key}),
	)
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/api/", guard.Handler(http.NotFoundHandler()))
}

// Guard.Handler and the wrappers of Guard.RequireScopes have the shape
// func(http.Handler) http.Handler that routers take as middleware: chi's
// r.Use and r.With, gorilla/mux's r.Use, echo.WrapMiddleware. For gin,
// wrap the guard in a gin.HandlerFunc that calls c.Next() from the inner
// handler (see docs/routers.md). Claims are read from the request context as
// usual.
func Example_routers() {
	iss, guard, done := exampleGuard()
	defer done()

	// What r.Use(guard.Handler) and r.With(guard.RequireScopes(...)) take.
	var (
		authenticate func(http.Handler) http.Handler = guard.Handler
		needsRead    func(http.Handler) http.Handler = guard.RequireScopes("read:messages")
	)
	list := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := middleware.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "messages for %s", claims.Subject())
	})
	h := authenticate(needsRead(list))

	token, _ := iss.Mint(oauthtest.Token{Subject: "alice", Scope: "read:messages"})
	req := httptest.NewRequest(http.MethodGet, "https://api.example.com/messages", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 200 messages for alice
}
