// Command demo shows sender-constrained access tokens at work, with nothing
// outside the process: an embedded issuer on loopback, an API protected by
// senderbound over TLS (asking clients for a certificate), and clients that
// send real HTTP requests to it. It prints each exchange and exits 0 only
// when every step behaved as expected, so CI runs it as a test.
//
//	go run ./examples/demo
package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/senderbound/senderbound/clientauth"
	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/introspect"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// run runs the whole demo, writing the transcript to out. It returns an
// error when setup fails or when any step did not behave as expected.
func run(ctx context.Context, out io.Writer) error {
	// The embedded issuer: discovery, JWKS and token minting on loopback.
	iss, err := oauthtest.NewIssuer()
	if err != nil {
		return err
	}
	defer iss.Close()
	keys, err := jwks.New(ctx, jwks.WithIssuer(iss.Issuer()))
	if err != nil {
		return err
	}
	defer keys.Close()

	// Opaque tokens: the API asks the issuer's introspection endpoint
	// (RFC 7662), found by discovery, as its own registered client.
	introspection, err := introspectAt(ctx, iss)
	if err != nil {
		return err
	}
	defer introspection.Close()

	srv, err := startAPI(keys, introspection)
	if err != nil {
		return err
	}
	defer srv.Close()

	// The clients' keys and certificates.
	aliceKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	alice, err := dpop.NewSigner(aliceKey)
	if err != nil {
		return err
	}
	thiefKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	thief, err := dpop.NewSigner(thiefKey)
	if err != nil {
		return err
	}
	bobCert, err := selfSigned("bob", nil)
	if err != nil {
		return err
	}
	otherCert, err := selfSigned("someone else", nil)
	if err != nil {
		return err
	}

	// The tokens the issuer hands out.
	mint := func(t oauthtest.Token) string {
		if err == nil {
			var tok string
			tok, err = iss.Mint(t)
			return tok
		}
		return ""
	}
	bearerTok := mint(oauthtest.Token{Subject: "carol", Scope: "read:messages"})
	dpopTok := mint(oauthtest.Token{Subject: "alice", Scope: "read:messages", JKT: alice.Thumbprint()})
	certTok := mint(oauthtest.Token{Subject: "bob", Scope: "read:messages", X5TS256: mtls.Thumbprint(bobCert.Leaf)})
	noScopeTok := mint(oauthtest.Token{Subject: "dave", Scope: "profile"})
	passwordTok := mint(oauthtest.Token{Subject: "erin", Claims: map[string]any{"acr": "urn:example:password", "amr": []any{"pwd"}}})
	transferTok := mint(oauthtest.Token{Subject: "frank", Claims: map[string]any{"authorization_details": []any{map[string]any{
		"type":             "money_transfer",
		"actions":          []any{"initiate"},
		"instructedAmount": map[string]any{"currency": "EUR", "cents": 10000},
	}}}})
	if err != nil {
		return err
	}
	// An opaque (reference) token bound to Alice's key: it means nothing
	// without the issuer, whose introspection answer carries cnf.jkt.
	opaqueDPoPTok, err := iss.MintOpaque(oauthtest.Token{Subject: "grace", Scope: "read:messages", JKT: alice.Thumbprint()})
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "issuer %s\nAPI    %s (TLS, client certificates requested)\n", iss.Issuer(), srv.URL)

	w := &wire{out: out}
	base := func(cert *tls.Certificate) (http.RoundTripper, error) {
		t, ok := srv.Client().Transport.(*http.Transport)
		if !ok {
			return nil, errors.New("unexpected httptest transport")
		}
		t = t.Clone()
		name := ""
		if cert != nil {
			t.TLSClientConfig.Certificates = []tls.Certificate{*cert}
			name = cert.Leaf.Subject.CommonName
		}
		return &tap{base: t, wire: w, cert: name}, nil
	}
	plain, err := base(nil)
	if err != nil {
		return err
	}
	withBob, err := base(&bobCert)
	if err != nil {
		return err
	}
	withOther, err := base(&otherCert)
	if err != nil {
		return err
	}
	messages := srv.URL + "/api/messages"
	strict := srv.URL + "/api/strict/messages"
	account := srv.URL + "/api/account"
	transfers := srv.URL + "/api/transfers"

	steps := []step{
		{
			title: "A bearer token",
			want:  want{status: http.StatusOK},
			do: func() (*http.Response, error) {
				return send(ctx, plain, messages, http.Header{"Authorization": {"Bearer " + bearerTok}})
			},
		},
		{
			title: "A DPoP-bound token, with a proof from dpop.Transport",
			want:  want{status: http.StatusOK},
			do: func() (*http.Response, error) {
				return send(ctx, &dpop.Transport{Base: plain, Signer: alice, Source: dpop.StaticToken(dpopTok)}, messages, nil)
			},
		},
		{
			title: "That token stolen and sent as Bearer (downgrade)",
			want:  want{status: http.StatusUnauthorized, code: "invalid_token"},
			do: func() (*http.Response, error) {
				return send(ctx, plain, messages, http.Header{"Authorization": {"Bearer " + dpopTok}})
			},
		},
		{
			title: "That token stolen and sent with the thief's own proof",
			want:  want{status: http.StatusUnauthorized, code: "invalid_token"},
			do: func() (*http.Response, error) {
				return send(ctx, &dpop.Transport{Base: plain, Signer: thief, Source: dpop.StaticToken(dpopTok)}, messages, nil)
			},
		},
		{
			title: "Alice's request of step 2, captured on the wire and replayed",
			want:  want{status: http.StatusUnauthorized, code: "invalid_dpop_proof"},
			do: func() (*http.Response, error) {
				captured := w.captured(2)
				if captured == nil {
					return nil, errors.New("step 2 sent no request to capture")
				}
				return send(ctx, plain, messages, http.Header{
					"Authorization": captured.Values("Authorization"),
					"DPoP":          captured.Values("DPoP"),
				})
			},
		},
		{
			title: "A route that demands a server nonce; dpop.Transport answers it",
			want:  want{status: http.StatusOK, first: "use_dpop_nonce"},
			do: func() (*http.Response, error) {
				return send(ctx, &dpop.Transport{Base: plain, Signer: alice, Source: dpop.StaticToken(dpopTok)}, strict, nil)
			},
		},
		{
			title: "A certificate-bound token, with the right client certificate",
			want:  want{status: http.StatusOK},
			do: func() (*http.Response, error) {
				return send(ctx, withBob, messages, http.Header{"Authorization": {"Bearer " + certTok}})
			},
		},
		{
			title: "The same token, with another client certificate",
			want:  want{status: http.StatusUnauthorized, code: "invalid_token"},
			do: func() (*http.Response, error) {
				return send(ctx, withOther, messages, http.Header{"Authorization": {"Bearer " + certTok}})
			},
		},
		{
			title: "A valid token without the scope read:messages",
			want:  want{status: http.StatusForbidden, code: "insufficient_scope"},
			do: func() (*http.Response, error) {
				return send(ctx, plain, messages, http.Header{"Authorization": {"Bearer " + noScopeTok}})
			},
		},
		{
			title: "A password-only login on a route that requires MFA (RFC 9470 step-up)",
			want:  want{status: http.StatusUnauthorized, code: "insufficient_user_authentication", param: `acr_values="` + middleware.ACRAuth0MFA + `"`},
			do: func() (*http.Response, error) {
				return send(ctx, plain, account, http.Header{"Authorization": {"Bearer " + passwordTok}})
			},
		},
		{
			title: "A transfer of 100.00 EUR, covered by the token's money_transfer detail (RFC 9396)",
			want:  want{status: http.StatusOK},
			do: func() (*http.Response, error) {
				return send(ctx, plain, transfers+"?cents=10000", http.Header{"Authorization": {"Bearer " + transferTok}})
			},
		},
		{
			title: "A transfer of 100.01 EUR with the same token: no detail covers it",
			want:  want{status: http.StatusForbidden, code: "insufficient_scope"},
			do: func() (*http.Response, error) {
				return send(ctx, plain, transfers+"?cents=10001", http.Header{"Authorization": {"Bearer " + transferTok}})
			},
		},
		{
			title: "An opaque DPoP-bound token, verified by introspection (RFC 7662), with its proof",
			want:  want{status: http.StatusOK},
			do: func() (*http.Response, error) {
				return send(ctx, &dpop.Transport{Base: plain, Signer: alice, Source: dpop.StaticToken(opaqueDPoPTok)}, messages, nil)
			},
		},
		{
			title: "That opaque token stolen and sent as Bearer (downgrade)",
			want:  want{status: http.StatusUnauthorized, code: "invalid_token"},
			do: func() (*http.Response, error) {
				return send(ctx, plain, messages, http.Header{"Authorization": {"Bearer " + opaqueDPoPTok}})
			},
		},
	}

	var failed []string
	for i, s := range steps {
		fmt.Fprintf(out, "\n%d. %s\n", i+1, s.title)
		w.begin(i + 1)
		resp, err := s.do()
		if err != nil {
			return fmt.Errorf("step %d: %w", i+1, err)
		}
		resp.Body.Close()
		if problem := s.want.check(w.exchanges(i + 1)); problem != "" {
			failed = append(failed, fmt.Sprintf("step %d: %s", i+1, problem))
			fmt.Fprintf(out, "   UNEXPECTED: %s\n", problem)
			continue
		}
		fmt.Fprintf(out, "   as expected: %s\n", s.want)
	}
	fmt.Fprintln(out)
	if len(failed) > 0 {
		fmt.Fprintf(out, "%d of %d steps misbehaved\n", len(failed), len(steps))
		return errors.New(strings.Join(failed, "; "))
	}
	fmt.Fprintf(out, "all %d steps behaved as expected\n", len(steps))
	return nil
}

// startAPI starts the protected API over TLS. GET /api/messages accepts
// bearer, DPoP-bound and certificate-bound tokens with scope read:messages;
// GET /api/strict/messages requires DPoP with server nonces; GET
// /api/account requires a login with multi-factor authentication (RFC 9470);
// GET /api/transfers?cents=N requires a money_transfer authorization detail
// (RFC 9396) of at least N euro cents. Opaque tokens on /api/messages
// are verified at the issuer's introspection endpoint through
// introspection; JWTs stay local.
func startAPI(keys *jwks.Keys, introspection *introspect.Client) (*httptest.Server, error) {
	// The listener exists before the server starts, so the API knows its
	// external URL: DPoP proofs must name it in htu (RFC 9449 §4.3 (9)).
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	publicURL := "https://" + srv.Listener.Addr().String()
	started := false
	defer func() {
		if !started {
			srv.Close() // an error below: release the listener
		}
	}()
	guard, err := middleware.New(keys,
		middleware.WithAudience(oauthtest.DefaultAudience),
		middleware.WithProofOfPossession(middleware.MechanismDPoP, false),
		middleware.WithIntrospection(introspection),
		middleware.WithPublicURL(publicURL),
		middleware.WithRealm("demo"))
	if err != nil {
		return nil, err
	}

	secret := make([]byte, 32) // a fleet would share this secret
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
	strict, err := middleware.New(keys,
		middleware.WithAudience(oauthtest.DefaultAudience),
		middleware.WithProofOfPossession(middleware.MechanismDPoP, true),
		middleware.WithDPoP(verifier),
		middleware.WithPublicURL(publicURL),
		middleware.WithRealm("demo"))
	if err != nil {
		return nil, err
	}

	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := middleware.TokenFromContext(r.Context())
		fmt.Fprintf(w, "hello %s (binding: %s)\n", tok.Claims.Subject(), tok.Binding.Mechanism)
	})
	mux.Handle("GET /api/messages", guard.Handler(guard.RequireScopes("read:messages")(hello)))
	mux.Handle("GET /api/strict/messages", strict.Handler(strict.RequireScopes("read:messages")(hello)))
	mfa := middleware.StepUp{ACRValues: []string{middleware.ACRAuth0MFA}}
	mux.Handle("GET /api/account", guard.Handler(guard.Require(mfa)(hello)))
	mux.Handle("GET /api/transfers", guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := middleware.TokenFromContext(r.Context())
		if err := guard.Authorize(tok, middleware.Details{Type: "money_transfer", Match: covers(r)}); err != nil {
			guard.WriteError(w, err)
			return
		}
		hello.ServeHTTP(w, r)
	})))

	cert, err := selfSigned("demo API", []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback})
	if err != nil {
		return nil, err
	}
	srv.TLS = mtls.ServerTLSConfig(cert, nil) // ask for a client certificate, accept self-signed ones
	srv.StartTLS()
	started = true
	return srv, nil
}

// introspectAt registers the API as a client of iss and returns its
// introspection client (client_secret_basic), with the endpoint from the
// issuer's discovery document.
func introspectAt(ctx context.Context, iss *oauthtest.Issuer) (*introspect.Client, error) {
	const apiClientID = "demo-api"
	secret := rand.Text()
	if err := iss.RegisterClient(oauthtest.Client{ID: apiClientID, Secret: secret}); err != nil {
		return nil, err
	}
	return introspect.New(ctx, iss.Issuer(), introspect.WithClientAuth(clientauth.ClientSecretBasic(apiClientID, secret)))
}

// covers returns whether a money_transfer detail covers the request's
// amount, in euro cents.
func covers(r *http.Request) func(middleware.AuthorizationDetail) bool {
	want, err := strconv.Atoi(r.URL.Query().Get("cents"))
	return func(d middleware.AuthorizationDetail) bool {
		var t struct {
			InstructedAmount struct {
				Currency string `json:"currency"`
				Cents    int    `json:"cents"`
			} `json:"instructedAmount"`
		}
		return err == nil && want > 0 && d.Decode(&t) == nil &&
			t.InstructedAmount.Currency == "EUR" && t.InstructedAmount.Cents >= want
	}
}

// send makes one GET request through rt with the given headers.
func send(ctx context.Context, rt http.RoundTripper, url string, h http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	return (&http.Client{Transport: rt}).Do(req)
}

// step is one scene of the demo.
type step struct {
	title string
	do    func() (*http.Response, error)
	want  want
}

// want is what a step must observe on the wire.
type want struct {
	status int    // of the last exchange
	code   string // error code in its WWW-Authenticate, if any
	first  string // error code of a first, retried exchange, if any
	param  string // a challenge parameter that must be present, if any
}

func (w want) String() string {
	s := fmt.Sprintf("%d", w.status)
	if w.code != "" {
		s += " " + w.code
	}
	if w.first != "" {
		s = w.first + ", then " + s
	}
	return s
}

// check returns what is wrong with the step's exchanges, or "".
func (w want) check(ex []exchange) string {
	wantN := 1
	if w.first != "" {
		wantN = 2
	}
	if len(ex) != wantN {
		return fmt.Sprintf("%d exchanges, want %d", len(ex), wantN)
	}
	if w.first != "" && (ex[0].status != http.StatusUnauthorized || !hasCode(ex[0].challenges, w.first)) {
		return fmt.Sprintf("first answer %d, want 401 %s", ex[0].status, w.first)
	}
	last := ex[len(ex)-1]
	if last.status != w.status {
		return fmt.Sprintf("status %d, want %d", last.status, w.status)
	}
	if w.code != "" && !hasCode(last.challenges, w.code) {
		return fmt.Sprintf("no %s challenge", w.code)
	}
	if w.param != "" && !strings.Contains(strings.Join(last.challenges, "\n"), w.param) {
		return fmt.Sprintf("no %s in the challenge", w.param)
	}
	return ""
}

func hasCode(challenges []string, code string) bool {
	for _, c := range challenges {
		if strings.Contains(c, `error="`+code+`"`) {
			return true
		}
	}
	return false
}

// exchange is one request and response seen on the wire.
type exchange struct {
	step       int
	header     http.Header // the request's headers as sent
	status     int
	challenges []string
}

// wire prints and remembers every exchange that a tap sees.
type wire struct {
	out  io.Writer
	step int
	log  []exchange
}

func (w *wire) begin(step int) { w.step = step }

func (w *wire) exchanges(step int) []exchange {
	var ex []exchange
	for _, e := range w.log {
		if e.step == step {
			ex = append(ex, e)
		}
	}
	return ex
}

// captured returns the headers of the first request of step.
func (w *wire) captured(step int) http.Header {
	if ex := w.exchanges(step); len(ex) > 0 {
		return ex[0].header
	}
	return nil
}

// tap is an http.RoundTripper that shows each exchange on the wire.
type tap struct {
	base http.RoundTripper
	wire *wire
	cert string // whose client certificate the connection presents
}

func (t *tap) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	e := exchange{
		step:       t.wire.step,
		header:     req.Header.Clone(),
		status:     resp.StatusCode,
		challenges: resp.Header.Values("WWW-Authenticate"),
	}
	t.wire.log = append(t.wire.log, e)
	via := "Bearer"
	if strings.HasPrefix(req.Header.Get("Authorization"), "DPoP ") {
		via = "DPoP + proof"
	}
	if t.cert != "" {
		via += ", client certificate of " + t.cert
	}
	fmt.Fprintf(t.wire.out, "   %s %s [%s] -> %d %s\n", req.Method, req.URL.Path, via, resp.StatusCode, http.StatusText(resp.StatusCode))
	if len(e.challenges) == 0 {
		fmt.Fprintf(t.wire.out, "      WWW-Authenticate: (none)\n")
	}
	for _, c := range e.challenges {
		fmt.Fprintf(t.wire.out, "      WWW-Authenticate: %s\n", c)
	}
	return resp, nil
}

// selfSigned makes a self-signed ECDSA certificate: a client certificate,
// or a server certificate for ips.
func selfSigned(name string, ips []net.IP) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if ips != nil {
		tmpl.IPAddresses = ips
		tmpl.DNSNames = []string{"localhost"}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: crypto.Signer(key), Leaf: leaf}, nil
}
