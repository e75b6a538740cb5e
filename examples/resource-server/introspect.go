package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/senderbound/senderbound/clientauth"
	"github.com/senderbound/senderbound/introspect"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
	"github.com/senderbound/senderbound/observe"
)

// introspection holds the flags of opaque access tokens, verified at the
// issuer's RFC 7662 introspection endpoint:
//
//	-introspect                   also accept opaque tokens; JWTs are still verified locally
//	-introspection-url URL        the endpoint, without discovery (implies -introspect)
//	-client-id ID                 the resource server's client at that endpoint (client_secret_basic);
//	-client-secret SECRET         required with -issuer, registered at the embedded issuer otherwise
//	-introspection-jwt            ask for RFC 9701 JWT answers, verified with the issuer's keys
//	-introspection-cache DURATION longest reuse of an active answer, never past its exp;
//	                              0 disables the cache (default 1m)
//
// The cache is the revocation latency: a token revoked at the issuer keeps
// working here for at most that long. One minute is the library's default.
type introspection struct {
	enabled                bool
	url                    string
	clientID, clientSecret string
	jwt                    bool
	cache                  time.Duration
	client                 *introspect.Client // set by start
}

// defaultIntrospectionCache is -introspection-cache's default, the
// library's default cache age.
const defaultIntrospectionCache = introspect.DefaultCacheMaxAge

// register defines the flags on fs.
func (in *introspection) register(fs *flag.FlagSet) {
	fs.BoolVar(&in.enabled, "introspect", false, "also accept opaque tokens, verified at the issuer's introspection endpoint (RFC 7662)")
	fs.StringVar(&in.url, "introspection-url", "", "introspection endpoint `URL`, skipping discovery (implies -introspect)")
	fs.StringVar(&in.clientID, "client-id", "", "the resource server's client `ID` at the introspection endpoint")
	fs.StringVar(&in.clientSecret, "client-secret", "", "the resource server's client `secret` (client_secret_basic)")
	fs.BoolVar(&in.jwt, "introspection-jwt", false, "ask for RFC 9701 JWT introspection answers, verified with the issuer's keys")
	fs.DurationVar(&in.cache, "introspection-cache", defaultIntrospectionCache, "longest reuse of an active introspection answer (never past exp); 0 disables the cache")
}

// check validates the flags once fs is parsed; issuer is -issuer (empty
// for the embedded issuer).
func (in *introspection) check(fs *flag.FlagSet, issuer string) error {
	var errs []error
	if in.url != "" {
		in.enabled = true
		if issuer == "" {
			errs = append(errs, errors.New("-introspection-url needs -issuer"))
		}
		errs = append(errs, checkURL("-introspection-url", in.url))
	}
	if !in.enabled {
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "client-id", "client-secret", "introspection-jwt", "introspection-cache":
				errs = append(errs, fmt.Errorf("-%s needs -introspect or -introspection-url", f.Name))
			}
		})
		return errors.Join(errs...)
	}
	if (in.clientID == "") != (in.clientSecret == "") {
		errs = append(errs, errors.New("-client-id and -client-secret go together"))
	}
	if issuer != "" && in.clientID == "" {
		errs = append(errs, errors.New("-introspect needs -client-id and -client-secret: the introspection endpoint authenticates the resource server"))
	}
	if in.cache < 0 {
		errs = append(errs, fmt.Errorf("-introspection-cache %v: negative", in.cache))
	}
	return errors.Join(errs...)
}

// start builds the introspection client for issuer, when the flags ask for
// one; close ends it. Without -introspection-url the issuer's discovery
// document must name its introspection_endpoint, and be reachable now. With
// -introspection-jwt, keys verify the signed answers (they know issuer).
func (in *introspection) start(ctx context.Context, issuer string, keys *jwks.Keys, logger *slog.Logger, observer *observe.Observer) (stop func(), err error) {
	if !in.enabled {
		return func() {}, nil
	}
	opts := []introspect.Option{
		introspect.WithClientAuth(clientauth.ClientSecretBasic(in.clientID, in.clientSecret)),
		introspect.WithCache(in.cache),
		introspect.WithLogger(logger),
	}
	if in.url != "" {
		opts = append(opts, introspect.WithEndpoint(in.url))
	}
	if in.jwt {
		opts = append(opts, introspect.WithJWTResponse(keys, in.clientID))
	}
	if observer != nil {
		opts = append(opts, introspect.WithObserver(observer))
	}
	if in.client, err = introspect.New(ctx, issuer, opts...); err != nil {
		return nil, err
	}
	return func() { in.client.Close() }, nil
}

// guardOptions are the Guard's options for opaque tokens: none without
// -introspect. JWTs are still verified locally with the issuer's keys.
func (in *introspection) guardOptions() []middleware.Option {
	if in.client == nil {
		return nil
	}
	return []middleware.Option{middleware.WithIntrospection(in.client)}
}

// The clients registered at the embedded issuer with -introspect.
const (
	// embeddedResourceServerID is this server's own client, which
	// introspects, unless -client-id names another.
	embeddedResourceServerID = "resource-server"
	// exampleOpaqueClientID gets opaque tokens from the token endpoint.
	exampleOpaqueClientID = "example-opaque-client"
)

// printEmbedded prepares the embedded issuer for -introspect and tells how
// to try it: it registers this server as a client of the introspection
// endpoint (with -client-id and -client-secret, or fresh credentials),
// prints an opaque bearer token, and registers a client that gets opaque
// tokens from the token endpoint, with the examples/client commands that
// get a bearer, a DPoP-bound and (over HTTPS) a certificate-bound one.
// Without -introspect it does nothing. cleanup removes the files of the
// certificate-bound path.
func (in *introspection) printEmbedded(w io.Writer, iss *oauthtest.Issuer, base string, o *options) (cleanup func(), err error) {
	cleanup = func() {}
	if !in.enabled {
		return cleanup, nil
	}
	if in.clientID == "" {
		in.clientID, in.clientSecret = embeddedResourceServerID, rand.Text()
	}
	if err := iss.RegisterClient(oauthtest.Client{ID: in.clientID, Secret: in.clientSecret}); err != nil {
		return nil, err
	}
	tok, err := iss.MintOpaque(oauthtest.Token{Scope: "read:messages"})
	if err != nil {
		return nil, err
	}
	secret := rand.Text()
	if err := iss.RegisterClient(oauthtest.Client{
		ID:     exampleOpaqueClientID,
		Secret: secret,
		Token:  oauthtest.Token{Scope: "read:messages"},
		Opaque: true,
	}); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "opaque tokens are verified at %s as client %s\n", iss.IntrospectionURL(), in.clientID)
	fmt.Fprintf(w, "an opaque bearer token with scope read:messages, valid for an hour:\n")
	fmt.Fprintf(w, "OPAQUE_TOKEN=%s\n", tok)
	insecure := ""
	if strings.HasPrefix(base, "https:") {
		insecure = "-k " // a self-signed test certificate
	}
	fmt.Fprintf(w, "try: curl %s-H \"Authorization: Bearer $OPAQUE_TOKEN\" %s/api/scoped\n", insecure, base)

	common := fmt.Sprintf("-client-id %s -client-secret %s -audience %s -api %s", exampleOpaqueClientID, secret, o.audience, base+"/api/scoped")
	var files clientFiles
	if strings.HasPrefix(base, "https:") {
		if files, cleanup, err = clientTLSFiles(iss, o); err != nil {
			return nil, err
		}
		common += " -ca " + files.ca
	}
	fmt.Fprintf(w, "its token endpoint issues opaque tokens to client %s; from the repository root:\n", exampleOpaqueClientID)
	fmt.Fprintf(w, "opaque bearer token: go run ./examples/client -token-url %s %s\n", iss.TokenURL(), common)
	fmt.Fprintf(w, "opaque DPoP-bound token: go run ./examples/client -token-url %s %s -dpop\n", iss.TokenURL(), common)
	if files.cert != "" {
		fmt.Fprintf(w, "opaque certificate-bound token: go run ./examples/client -token-url %s %s -cert %s -key %s\n",
			iss.MTLSTokenURL(), common, files.cert, files.key)
	}
	return cleanup, nil
}
