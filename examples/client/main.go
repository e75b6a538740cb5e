// Command client is a Go API client that obtains an access token with the
// OAuth 2.0 client credentials grant and calls an API with it: a bearer
// token, a DPoP-bound token (-dpop: every request carries "Authorization:
// DPoP <token>" and a fresh proof made with dpop.Transport, and a server's
// demand for a nonce is answered automatically), or a certificate-bound
// token (-cert and -key: the token endpoint and the API are reached over
// mutual TLS with that client certificate).
//
//	go run ./examples/client -api URL -token-url URL -client-id ID -client-secret SECRET [flags]
//
// Flags:
//
//	-api URL              the API URL to call with GET (required with -token-url)
//	-token-url URL        the token endpoint, e.g. https://TENANT.auth0.com/oauth/token
//	-client-id ID         the client (application) ID
//	-client-secret SECRET its secret (or set CLIENT_SECRET in the environment)
//	-auth METHOD          post (client_secret_post, the default) or basic
//	-audience AUD         Auth0's audience parameter: the API identifier
//	-scope SCOPES         space-separated scopes to ask for
//	-dpop                 obtain a DPoP-bound token and send proofs
//	-cert, -key FILE      client certificate and key (PEM) for mutual TLS
//	-ca FILE              extra trusted CA certificates (PEM), besides the system's
//
// The resource-server example prints ready-made commands for its embedded
// issuer. Run without flags, the client starts its own test issuer and an
// API that requires DPoP with server nonces, and calls it (callAPI).
package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/senderbound/senderbound/clientauth"
	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
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
		Source: dpop.StaticToken(token), // or dpop.ClientCredentials, which obtains and refreshes it
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
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := runArgs(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}

// errUsage marks invalid flags.
var errUsage = errors.New("usage")

// options are the command-line flags.
type options struct {
	api, tokenURL, clientID, clientSecret, auth string
	audience, scope, cert, key, ca              string
	dpop                                        bool
}

// runArgs runs the self-contained demonstration without arguments, else
// obtains a token as the flags say and calls the API.
func runArgs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return run(ctx, stdout)
	}
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	return callWithFlags(ctx, o, stdout)
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	var o options
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.api, "api", "", "the API `URL` to call with GET")
	fs.StringVar(&o.tokenURL, "token-url", "", "the token endpoint `URL`")
	fs.StringVar(&o.clientID, "client-id", "", "the client `ID`")
	fs.StringVar(&o.clientSecret, "client-secret", os.Getenv("CLIENT_SECRET"), "the client `secret` (default $CLIENT_SECRET)")
	fs.StringVar(&o.auth, "auth", "post", "client authentication `method`: post or basic")
	fs.StringVar(&o.audience, "audience", "", "Auth0's audience `parameter` (the API identifier)")
	fs.StringVar(&o.scope, "scope", "", "space-separated `scopes` to ask for")
	fs.BoolVar(&o.dpop, "dpop", false, "obtain a DPoP-bound token and send proofs")
	fs.StringVar(&o.cert, "cert", "", "client certificate `file` (PEM) for mutual TLS")
	fs.StringVar(&o.key, "key", "", "private key `file` (PEM) of -cert")
	fs.StringVar(&o.ca, "ca", "", "extra trusted CA certificates `file` (PEM)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	for name, v := range map[string]string{"-api": o.api, "-token-url": o.tokenURL, "-client-id": o.clientID, "-client-secret": o.clientSecret} {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s is required", name))
		}
	}
	for name, v := range map[string]string{"-api": o.api, "-token-url": o.tokenURL} {
		if u, err := url.Parse(v); v != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
			errs = append(errs, fmt.Errorf("%s %q: not an absolute http(s) URL", name, v))
		}
	}
	if o.auth != "post" && o.auth != "basic" {
		errs = append(errs, fmt.Errorf("-auth %q: want post or basic", o.auth))
	}
	if (o.cert == "") != (o.key == "") {
		errs = append(errs, errors.New("-cert and -key go together"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	return &o, nil
}

// httpClient returns a client that trusts the system's CAs and -ca, and
// presents -cert when the server asks for a certificate.
func httpClient(o *options) (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.ca != "" {
		pem, err := os.ReadFile(o.ca)
		if err != nil {
			return nil, err
		}
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca %s: no PEM certificate", o.ca)
		}
		cfg.RootCAs = roots
	}
	if o.cert != "" {
		cert, err := tls.LoadX509KeyPair(o.cert, o.key)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

// callWithFlags obtains a token and calls the API with it.
func callWithFlags(ctx context.Context, o *options, out io.Writer) error {
	client, err := httpClient(o)
	if err != nil {
		return err
	}
	api := client
	var token, tokenType string
	if o.dpop {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // lives as long as the token
		if err != nil {
			return err
		}
		signer, err := dpop.NewSigner(key)
		if err != nil {
			return err
		}
		auth := clientauth.ClientSecretPost(o.clientID, o.clientSecret)
		if o.auth == "basic" {
			auth = clientauth.ClientSecretBasic(o.clientID, o.clientSecret)
		}
		opts := []dpop.ClientCredentialsOption{dpop.WithTokenHTTPClient(client)}
		if o.audience != "" {
			opts = append(opts, dpop.WithTokenAudience(o.audience))
		}
		if o.scope != "" {
			opts = append(opts, dpop.WithScopes(strings.Fields(o.scope)...))
		}
		source, err := dpop.NewClientCredentials(o.tokenURL, signer, auth, opts...)
		if err != nil {
			return err
		}
		if token, err = source.Token(ctx); err != nil {
			return err
		}
		tokenType = "DPoP"
		// The transport asks the source for the (cached) token on every
		// request, and refreshes it before it expires.
		api = &http.Client{Timeout: client.Timeout, Transport: &dpop.Transport{Base: client.Transport, Signer: signer, Source: source}}
	} else if token, tokenType, err = clientCredentials(ctx, client, o); err != nil {
		return err
	}
	fmt.Fprintf(out, "token: token_type %s, %s\n", tokenType, describeBinding(token))

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.api, nil)
	if err != nil {
		return err
	}
	if !o.dpop {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := api.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	fmt.Fprintf(out, "GET %s -> %d %s\n", o.api, resp.StatusCode, strings.TrimSpace(string(body)))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the API answered %s", resp.Status)
	}
	return nil
}

// clientCredentials obtains a bearer (or, over mutual TLS, a certificate-
// bound) token: a plain RFC 6749 §4.4 request.
func clientCredentials(ctx context.Context, client *http.Client, o *options) (token, tokenType string, err error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if o.audience != "" {
		form.Set("audience", o.audience)
	}
	if o.scope != "" {
		form.Set("scope", o.scope)
	}
	if o.auth == "post" {
		form.Set("client_id", o.clientID)
		form.Set("client_secret", o.clientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if o.auth == "basic" {
		req.SetBasicAuth(url.QueryEscape(o.clientID), url.QueryEscape(o.clientSecret)) // RFC 6749 §2.3.1
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	var answer struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&answer); err != nil {
		return "", "", fmt.Errorf("token endpoint answered %s with no JSON", resp.Status)
	}
	if resp.StatusCode != http.StatusOK || answer.AccessToken == "" {
		return "", "", fmt.Errorf("token endpoint answered %s: %s %s", resp.Status, answer.Error, answer.Description)
	}
	return answer.AccessToken, answer.TokenType, nil
}

// describeBinding tells what a JWT access token is bound to, reading its
// cnf claim without verifying it (the API verifies it). Encrypted tokens
// cannot be read.
func describeBinding(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "not a readable JWT"
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Cnf map[string]any `json:"cnf"`
	}
	if err != nil || json.Unmarshal(payload, &claims) != nil {
		return "not a readable JWT"
	}
	switch {
	case claims.Cnf["jkt"] != nil:
		return fmt.Sprintf("bound to the DPoP key (cnf.jkt %v)", claims.Cnf["jkt"])
	case claims.Cnf["x5t#S256"] != nil:
		return fmt.Sprintf("bound to the client certificate (cnf x5t#S256 %v)", claims.Cnf["x5t#S256"])
	}
	return "not bound: whoever holds it can use it"
}

// run starts the embedded issuer and API, then calls the API.
func run(ctx context.Context, out io.Writer) error {
	iss, err := oauthtest.NewIssuer() // test-only stand-in for your authorization server
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
	// token request carries a DPoP proof (dpop.ClientCredentials does that);
	// here the test issuer mints it.
	token, err := iss.Mint(oauthtest.Token{JKT: jkt, Scope: "read:messages"})
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
