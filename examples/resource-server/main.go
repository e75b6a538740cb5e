// Command resource-server is a configurable API protected by senderbound,
// for trying the library against a real issuer (an Auth0 tenant) or the
// embedded test issuer.
//
//	go run ./examples/resource-server [flags]
//
// Flags:
//
//	-addr HOST:PORT         listen address (default 127.0.0.1:8080; port 0 picks one)
//	-issuer URL             the trusted issuer (exact iss); JWKS via its discovery document.
//	                        Without it, an embedded test issuer runs and a token is printed,
//	                        with the examples/client commands that obtain a bearer, a
//	                        DPoP-bound and (over HTTPS) a certificate-bound token from its
//	                        token endpoint and call the API with each.
//	-jwks-url URL           JWKS URL, skipping discovery
//	-audience AUD           required audience (default https://api.example.com)
//	-mechanism MECHANISM    none, dpop or mtls (default none)
//	-required               sender constraining required (always, with mtls)
//	-tls-cert, -tls-key     serve HTTPS and request (not require) client certificates
//	-tls-self-signed        serve HTTPS with a self-signed certificate made at start (for
//	                        127.0.0.1, ::1, localhost and the -addr and -public-url hosts),
//	                        requesting client certificates, and make a client certificate
//	                        and key for trying mutual TLS without openssl; prints where
//	                        they are (instead of -tls-cert and -tls-key)
//	-tls-dir DIR            where -tls-self-signed writes its files (kept); default a
//	                        temporary directory removed when the server stops
//	-dpop-nonce             require server-issued DPoP nonces
//	-public-url URL         external base URL, for htu matching behind a proxy (default:
//	                        the listening address when -addr is an IP address, as the
//	                        printed commands call it; otherwise htu is checked against the
//	                        request's Host, and the middleware warns about it)
//	-metrics                serve senderbound's OpenTelemetry metrics on GET /metrics
//	                        (Prometheus text format); off by default
//	-introspect, -introspection-url, -client-id, -client-secret, -introspection-jwt,
//	-introspection-cache    opaque access tokens, verified at the issuer's RFC 7662
//	                        introspection endpoint (see introspect.go)
//
// With the embedded issuer, the printed commands match the mechanism: one
// that the API refuses (a bearer token where DPoP is required) is labelled
// as a refusal to try. Besides the bearer, DPoP- and certificate-bound
// tokens for /api/scoped, they include tokens that pass /api/mfa (an MFA
// login at issue time) and /api/transfers (a money_transfer authorization
// detail of 100.00 EUR).
//
// Endpoints: GET /healthz (no auth), GET /readyz (no auth; 503 until the
// issuer's keys are loaded, with each issuer's key status as JSON),
// /api/private (any valid token), /api/scoped (scope or permission
// read:messages), /api/transfers?amount=N[&currency=C] (a money_transfer
// authorization detail covering it, RFC 9396), /api/mfa (an MFA login
// within 15 minutes, RFC 9470) and /.well-known/oauth-protected-resource
// (RFC 9728).
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
	"github.com/senderbound/senderbound/observe"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "resource-server:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "resource-server:", err)
		os.Exit(1)
	}
}

// errUsage marks invalid flags.
var errUsage = errors.New("usage")

// options are the command-line flags.
type options struct {
	addr, issuer, jwksURL, audience, mechanism string
	required, dpopNonce                        bool
	tlsCert, tlsKey, publicURL                 string
	metrics                                    bool
	tlsSelfSigned                              bool
	tlsDir                                     string
	observer                                   *observe.Observer // set by run with -metrics
	selfSigned                                 *tlsFiles         // set by run with -tls-self-signed
	introspection                              introspection     // opaque tokens: introspect.go
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	var o options
	fs := flag.NewFlagSet("resource-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen `HOST:PORT`")
	fs.StringVar(&o.issuer, "issuer", "", "the trusted issuer `URL` (exact iss); empty runs an embedded test issuer")
	fs.StringVar(&o.jwksURL, "jwks-url", "", "JWKS `URL`, skipping discovery")
	fs.StringVar(&o.audience, "audience", oauthtest.DefaultAudience, "required `audience`")
	fs.StringVar(&o.mechanism, "mechanism", "none", "sender-constraining `method`: none, dpop or mtls")
	fs.BoolVar(&o.required, "required", false, "sender constraining required (always, with mtls)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this certificate `file` (PEM)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "private key `file` (PEM) for -tls-cert")
	fs.BoolVar(&o.dpopNonce, "dpop-nonce", false, "require server-issued DPoP nonces")
	fs.StringVar(&o.publicURL, "public-url", "", "external base `URL` for htu matching (default: from the request)")
	fs.BoolVar(&o.metrics, "metrics", false, "serve OpenTelemetry metrics on /metrics (Prometheus format)")
	fs.BoolVar(&o.tlsSelfSigned, "tls-self-signed", false, "serve HTTPS with a self-signed certificate made at start, and make a client certificate for mutual TLS")
	fs.StringVar(&o.tlsDir, "tls-dir", "", "`directory` for the -tls-self-signed files, kept (default: a temporary one, removed at exit)")
	o.introspection.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	var errs []error
	if o.issuer != "" {
		errs = append(errs, checkURL("-issuer", o.issuer))
	}
	if o.jwksURL != "" {
		if o.issuer == "" {
			errs = append(errs, errors.New("-jwks-url needs -issuer"))
		}
		errs = append(errs, checkURL("-jwks-url", o.jwksURL))
	}
	if o.publicURL != "" {
		if u, err := url.Parse(o.publicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("-public-url %q: not an absolute http(s) URL", o.publicURL))
		}
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		errs = append(errs, errors.New("-tls-cert and -tls-key go together"))
	}
	if o.tlsSelfSigned && o.tlsCert != "" {
		errs = append(errs, errors.New("-tls-self-signed replaces -tls-cert and -tls-key; give one or the other"))
	}
	if o.tlsDir != "" && !o.tlsSelfSigned {
		errs = append(errs, errors.New("-tls-dir needs -tls-self-signed"))
	}
	switch o.mechanism {
	case "none", "dpop":
	case "mtls":
		if o.tlsCert == "" && !o.tlsSelfSigned {
			errs = append(errs, errors.New("-mechanism mtls needs -tls-cert and -tls-key (or -tls-self-signed)"))
		}
		if o.dpopNonce {
			errs = append(errs, errors.New("-dpop-nonce does not apply to -mechanism mtls"))
		}
	default:
		errs = append(errs, fmt.Errorf("-mechanism %q: want none, dpop or mtls", o.mechanism))
	}
	errs = append(errs, o.introspection.check(fs, o.issuer))
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	return &o, nil
}

// checkURL accepts https URLs, and http URLs on loopback addresses for
// local testing.
func checkURL(flagName, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%s %q: not an absolute URL", flagName, raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if u.Hostname() == "localhost" {
			return nil
		}
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("%s %q: http is only accepted on loopback addresses; use https", flagName, raw)
	}
	return fmt.Errorf("%s %q: want an https URL", flagName, raw)
}

// run serves until ctx ends, then shuts down gracefully.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	if o.tlsSelfSigned {
		files, err := writeSelfSigned(o.tlsDir, o)
		if err != nil {
			return err
		}
		defer files.remove()
		files.print(stdout)
		o.selfSigned, o.tlsCert, o.tlsKey = files, files.serverCert, files.serverKey
	}
	var tlsConfig *tls.Config
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return err
		}
		// Ask for a client certificate without requiring one, so /healthz
		// and bearer clients still connect; accept self-signed ones.
		tlsConfig = mtls.ServerTLSConfig(cert, nil)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	base := o.publicURL
	if base == "" {
		base = scheme + "://" + ln.Addr().String()
	}
	base = strings.TrimSuffix(base, "/")

	issuer, jwksOpt := o.issuer, jwks.WithIssuer(o.issuer)
	if o.jwksURL != "" {
		jwksOpt = jwks.WithIssuerJWKS(o.issuer, o.jwksURL)
	}
	if issuer == "" {
		iss, err := oauthtest.NewIssuer(oauthtest.WithAudience(o.audience), oauthtest.WithMTLSTokenEndpoint())
		if err != nil {
			return err
		}
		defer iss.Close()
		issuer, jwksOpt = iss.Issuer(), jwks.WithIssuer(iss.Issuer())
		if err := printToken(stdout, iss, base, o); err != nil {
			return err
		}
		cleanup, err := printTokenCommands(stdout, iss, base, o)
		if err != nil {
			return err
		}
		defer cleanup()
		cleanupOpaque, err := o.introspection.printEmbedded(stdout, iss, base, o)
		if err != nil {
			return err
		}
		defer cleanupOpaque()
	}
	// The start-up deadline bounds only the initial key load; the keys
	// refresh in the background until Close. An issuer that is down does not
	// stop the server: /readyz answers 503 and its tokens get 503 until the
	// keys load.
	var m *metrics
	jwksOpts := []jwks.Option{jwksOpt, jwks.WithLogger(logger)}
	if o.metrics {
		if m, err = newMetrics(); err != nil {
			return err
		}
		defer m.Close()
		o.observer = m.observer
		jwksOpts = append(jwksOpts, jwks.WithObserver(m.observer)) // refreshes too
	}
	startup, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	keys, err := jwks.New(startup, jwksOpts...)
	if err != nil {
		return err
	}
	defer keys.Close()
	closeIntrospection, err := o.introspection.start(startup, issuer, keys, logger, o.observer)
	if err != nil {
		return err
	}
	defer closeIntrospection()

	if o.publicURL == "" {
		o.publicURL = listeningURL(o.addr, scheme, ln.Addr())
	}
	guard, err := newGuard(keys, o, base, logger)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	if m != nil {
		mux.Handle("GET /metrics", m.handler)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", readyz(keys))
	mux.Handle("/api/private", guard.Handler(http.HandlerFunc(private)))
	mux.Handle("/api/scoped", guard.Handler(guard.RequireScopes("read:messages")(http.HandlerFunc(private))))
	mux.Handle("/api/transfers", guard.Handler(transfers(guard, http.HandlerFunc(private))))
	mux.Handle("/api/mfa", guard.Handler(mfa(guard, http.HandlerFunc(private))))
	mux.Handle("/.well-known/oauth-protected-resource",
		middleware.MetadataHandler(guard.Metadata(base, []string{issuer}, []string{"read:messages"})))

	srv := &http.Server{
		Handler:           mux,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			served <- srv.ServeTLS(ln, "", "")
		} else {
			served <- srv.Serve(ln)
		}
	}()
	fmt.Fprintf(stdout, "listening on %s (%s, mechanism %s)\n", ln.Addr(), scheme, o.mechanism)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(stdout, "shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// listeningURL is the API's URL as the printed commands call it (the
// address it listens on), for checking DPoP proofs' htu, when -addr names
// one IP address; empty when it names a host name (clients may call the
// API by that name or by its address) or all interfaces: htu is then
// checked against the request's Host, and the middleware warns.
func listeningURL(addr, scheme string, listening net.Addr) string {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || ip.IsUnspecified() {
		return ""
	}
	return scheme + "://" + listening.String()
}

// readyz answers 200 when every issuer has keys and 503 until then, with
// {"ready": bool, "issuers": [jwks.IssuerStatus...]} of the static issuers
// only: issuers found through a resolver are named by tokens, and this
// endpoint has no auth. The error texts may name internal hosts; a real
// deployment serves this on an internal port.
func readyz(keys *jwks.Keys) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now, cancel := context.WithCancel(r.Context())
		cancel() // check without waiting
		ready := keys.Ready(now) == nil
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(struct {
			Ready   bool                `json:"ready"`
			Issuers []jwks.IssuerStatus `json:"issuers"`
		}{ready, keys.Status()[:len(keys.Issuers())]}) // Status lists the static issuers first
	}
}

// newGuard builds the middleware from the flags.
func newGuard(keys *jwks.Keys, o *options, base string, logger *slog.Logger) (*middleware.Guard, error) {
	mechanism := map[string]middleware.Mechanism{
		"none": middleware.MechanismNone,
		"dpop": middleware.MechanismDPoP,
		"mtls": middleware.MechanismMTLS,
	}[o.mechanism]
	opts := []middleware.Option{
		middleware.WithAudience(o.audience),
		middleware.WithProofOfPossession(mechanism, o.required),
		middleware.WithResourceMetadata(base + "/.well-known/oauth-protected-resource"),
		middleware.WithLogger(logger),
	}
	if o.publicURL != "" {
		opts = append(opts, middleware.WithPublicURL(o.publicURL))
	}
	if o.observer != nil {
		opts = append(opts, middleware.WithObserver(o.observer))
	}
	if o.dpopNonce {
		// One instance: a random secret. A fleet shares its secrets (see
		// docs/fleet.md), so that any instance accepts another's nonces.
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
		opts = append(opts, middleware.WithDPoP(verifier))
	}
	opts = append(opts, o.introspection.guardOptions()...)
	return middleware.New(keys, opts...)
}

// private answers with the verified claims.
func private(w http.ResponseWriter, r *http.Request) {
	tok, ok := middleware.TokenFromContext(r.Context())
	if !ok {
		http.Error(w, "no token", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		Subject    string          `json:"sub"`
		Binding    string          `json:"binding"`
		Thumbprint string          `json:"thumbprint,omitempty"`
		Claims     json.RawMessage `json:"claims"`
	}{
		Subject:    tok.Claims.Subject(),
		Binding:    tok.Binding.Mechanism.String(),
		Thumbprint: tok.Binding.Thumbprint,
		Claims:     tok.Claims.Raw(),
	})
}
