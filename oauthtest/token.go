package oauthtest

import (
	"crypto"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/mtls"
)

// TokenPath is the path of the token endpoint, relative to the issuer's
// base URL, as on an Auth0 tenant.
const TokenPath = "/oauth/token"

// Limits of the token endpoint.
const (
	maxTokenRequest = 64 << 10
	// maxAssertionLifetime is the longest exp-iat of a client assertion
	// that Auth0 accepts.
	maxAssertionLifetime = 5 * time.Minute
	assertionLeeway      = 5 * time.Second
)

// Client is a client registered at the token endpoint with
// [Issuer.RegisterClient].
type Client struct {
	// ID is the client ID. It is required.
	ID string
	// Secret, when not empty, lets the client authenticate with
	// client_secret_basic or client_secret_post.
	Secret string
	// PublicKey, when not nil, lets the client authenticate with
	// private_key_jwt (RFC 7523 §2.2): a client assertion signed by the
	// matching private key, with iss and sub the client ID, aud the token
	// endpoint URL or the issuer identifier, exp at most five minutes after
	// iat, and a jti not used before.
	PublicKey crypto.PublicKey
	// Token is the template of the tokens issued to the client. Its Subject
	// defaults to ID+"@clients" (as Auth0 names clients) and its ClientID to
	// ID; its binding (JKT, X5TS256) is set per request. Put
	// authorization_details, acr, amr or auth_time in Claims to issue them
	// with every token. A requested scope must be a subset of Token.Scope
	// when that is set; without a scope parameter Token.Scope is granted.
	Token Token
	// IgnoreDPoP issues bearer tokens to the client even when its request
	// carries a valid DPoP proof, as an authorization server that does not
	// bind tokens for this client does (RFC 9449 §5 lets a client detect
	// it by token_type).
	IgnoreDPoP bool
	// Opaque issues opaque (reference) tokens to the client instead of
	// JWTs ([Issuer.MintOpaque]): only the introspection endpoint knows
	// what they mean.
	Opaque bool
}

// RegisterClient registers c at the token endpoint, replacing a client with
// the same ID.
func (i *Issuer) RegisterClient(c Client) error {
	var errs []error
	if c.ID == "" {
		errs = append(errs, errors.New("oauthtest: client without an ID"))
	}
	if c.Secret == "" && c.PublicKey == nil {
		errs = append(errs, errors.New("oauthtest: client without a secret or a public key"))
	}
	if c.PublicKey != nil {
		if _, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok {
			errs = append(errs, fmt.Errorf("oauthtest: unsupported public key type %T", c.PublicKey))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	i.tokens.mu.Lock()
	defer i.tokens.mu.Unlock()
	i.tokens.clients[c.ID] = c
	return nil
}

// TokenURL returns the URL of the token endpoint (also advertised as
// token_endpoint in the discovery metadata).
func (i *Issuer) TokenURL() string { return i.srv.URL + TokenPath }

// MTLSTokenURL returns the URL of the token endpoint on the mutual-TLS
// server started by [WithMTLSTokenEndpoint], or "" without it.
func (i *Issuer) MTLSTokenURL() string { return i.mtlsURL }

// ServerCertificate returns the certificate the issuer's HTTPS servers
// present ([WithTLS], [WithMTLSTokenEndpoint]), for clients to trust; nil
// when it has none.
func (i *Issuer) ServerCertificate() *x509.Certificate {
	switch {
	case i.mtlsSrv != nil:
		return i.mtlsSrv.Certificate()
	case i.srv.TLS != nil:
		return i.srv.Certificate()
	}
	return nil
}

// MTLSClient returns an HTTP client that trusts the issuer's HTTPS
// certificate and presents cert (when not nil) as its client certificate:
// a token it obtains from [Issuer.MTLSTokenURL] is bound to cert.
func (i *Issuer) MTLSClient(cert *tls.Certificate) *http.Client {
	roots := x509.NewCertPool()
	if c := i.ServerCertificate(); c != nil {
		roots.AddCert(c)
	}
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 30 * time.Second}
}

// TokenRequests returns how many requests the token endpoint received,
// refused ones (such as a demand for a DPoP nonce) included.
func (i *Issuer) TokenRequests() int {
	i.tokens.mu.Lock()
	defer i.tokens.mu.Unlock()
	return i.tokens.requests
}

// TokensIssued returns how many access tokens the token endpoint issued.
func (i *Issuer) TokensIssued() int {
	i.tokens.mu.Lock()
	defer i.tokens.mu.Unlock()
	return i.tokens.issued
}

// tokenEndpoint is the state of an Issuer's token endpoint.
type tokenEndpoint struct {
	dpop *dpop.Verifier

	mu       sync.Mutex
	clients  map[string]Client
	jtis     map[string]time.Time // client assertion IDs → their exp
	opaque   map[string]*opaqueToken
	requests int
	issued   int
}

func newTokenEndpoint(now func() time.Time) (*tokenEndpoint, error) {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails
	nonces, err := dpop.NewHMACNonces([][]byte{secret}, dpop.WithNonceClock(now))
	if err != nil {
		return nil, err
	}
	v, err := dpop.NewVerifier(dpop.WithNonces(nonces), dpop.WithClock(now))
	if err != nil {
		return nil, err
	}
	return &tokenEndpoint{dpop: v, clients: make(map[string]Client), jtis: make(map[string]time.Time), opaque: make(map[string]*opaqueToken)}, nil
}

// oauthError is an RFC 6749 §5.2 error answer.
type oauthError struct {
	status      int
	code        string
	description string
}

func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	i.tokens.mu.Lock()
	i.tokens.requests++
	i.tokens.mu.Unlock()
	body, e := i.issueToken(w, r)
	if e != nil {
		if e.status == http.StatusUnauthorized && strings.HasPrefix(r.Header.Get("Authorization"), "Basic ") {
			w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
		}
		body, _ = json.Marshal(map[string]string{"error": e.code, "error_description": e.description})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(e.status)
		_, _ = w.Write(body)
		return
	}
	i.tokens.mu.Lock()
	i.tokens.issued++
	i.tokens.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// issueToken handles one client credentials request (RFC 6749 §4.4) and
// returns the JSON answer.
func (i *Issuer) issueToken(w http.ResponseWriter, r *http.Request) ([]byte, *oauthError) {
	bad := func(code, desc string) *oauthError { return &oauthError{http.StatusBadRequest, code, desc} }
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenRequest)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, bad("invalid_request", "the body must be application/x-www-form-urlencoded")
	}
	if err := r.ParseForm(); err != nil {
		return nil, bad("invalid_request", "unreadable form")
	}
	form := r.PostForm
	// RFC 6749 §3.1: no parameter more than once.
	for name, v := range form {
		if len(v) > 1 {
			return nil, bad("invalid_request", "parameter "+name+" repeated")
		}
	}
	if form.Get("grant_type") != "client_credentials" {
		return nil, bad("unsupported_grant_type", "only client_credentials is supported")
	}

	// RFC 9449 §5, §8: the proof is checked (and a nonce demanded) before
	// the client authenticates, so that a one-time client assertion is not
	// spent on a request that only fetches a nonce.
	var tok Token
	tokenType := "Bearer"
	if proofs := r.Header.Values("DPoP"); len(proofs) > 0 {
		if len(proofs) > 1 {
			return nil, bad("invalid_dpop_proof", "more than one DPoP header")
		}
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		u := &url.URL{Scheme: scheme, Host: r.Host, Path: TokenPath}
		p, err := i.tokens.dpop.Verify(r.Context(), proofs[0], dpop.Request{Method: r.Method, URL: u})
		switch {
		case errors.Is(err, dpop.ErrNonce):
			n, nerr := i.tokens.dpop.Nonce()
			if nerr != nil {
				return nil, &oauthError{http.StatusInternalServerError, "server_error", "no nonce"}
			}
			w.Header().Set("DPoP-Nonce", n)
			return nil, bad("use_dpop_nonce", "Authorization server requires nonce in DPoP proof")
		case err != nil:
			return nil, bad("invalid_dpop_proof", "the DPoP proof is invalid")
		}
		if p.NextNonce != "" {
			w.Header().Set("DPoP-Nonce", p.NextNonce)
		}
		tok.JKT, tokenType = p.Thumbprint, "DPoP"
	} else if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		// RFC 8705 §3: bound to the certificate of the mutual TLS connection.
		tok.X5TS256 = mtls.Thumbprint(r.TLS.PeerCertificates[0])
	}

	client, e := i.authenticate(r, form)
	if e != nil {
		return nil, e
	}
	t := client.Token
	t.JKT, t.X5TS256 = tok.JKT, tok.X5TS256
	if client.IgnoreDPoP && tokenType == "DPoP" {
		t.JKT, tokenType = "", "Bearer"
	}
	t.IssuedAt = time.Time{}
	if t.Subject == "" {
		t.Subject = client.ID + "@clients"
	}
	if t.ClientID == "" {
		t.ClientID = client.ID
	}
	if scope := form.Get("scope"); scope != "" {
		if t.Scope != "" {
			granted := strings.Fields(t.Scope)
			for _, s := range strings.Fields(scope) {
				if !slices.Contains(granted, s) {
					return nil, bad("invalid_scope", "scope "+s+" is not granted to the client")
				}
			}
		}
		t.Scope = strings.Join(strings.Fields(scope), " ")
	}
	if aud := form.Get("audience"); aud != "" {
		t.Audience = []string{aud}
	}
	if rd := form.Get("authorization_details"); rd != "" {
		details, ok := parseAuthorizationDetails(rd)
		if !ok {
			// RFC 9396 §5.
			return nil, bad("invalid_authorization_details", "authorization_details must be an array of objects with a string type")
		}
		t.Claims = cloneClaims(t.Claims)
		t.Claims["authorization_details"] = details
	}
	mint := i.Mint
	if client.Opaque {
		mint = i.MintOpaque
	}
	access, err := mint(t)
	if err != nil {
		return nil, &oauthError{http.StatusInternalServerError, "server_error", "cannot mint"}
	}
	life := t.ExpiresIn
	if life == 0 {
		life = time.Hour
	}
	answer := map[string]any{
		"access_token": access,
		"token_type":   tokenType,
		"expires_in":   max(int64(life/time.Second), 0),
	}
	if t.Scope != "" {
		answer["scope"] = t.Scope
	}
	body, err := json.Marshal(answer)
	if err != nil {
		return nil, &oauthError{http.StatusInternalServerError, "server_error", "cannot marshal"}
	}
	return body, nil
}

func cloneClaims(c map[string]any) map[string]any {
	out := make(map[string]any, len(c)+1)
	for k, v := range c {
		out[k] = v
	}
	return out
}

// parseAuthorizationDetails reads an RFC 9396 authorization_details
// parameter: a JSON array of objects, each with a string type.
func parseAuthorizationDetails(s string) ([]any, bool) {
	var details []map[string]any
	if err := json.Unmarshal([]byte(s), &details); err != nil || details == nil {
		return nil, false
	}
	out := make([]any, len(details))
	for n, d := range details {
		if typ, ok := d["type"].(string); !ok || typ == "" {
			return nil, false
		}
		out[n] = d
	}
	return out, true
}

// authenticate finds and authenticates the client (RFC 6749 §2.3): by
// HTTP Basic, by client_secret in the form, or by a client assertion (RFC
// 7523 §2.2); exactly one of them.
func (i *Issuer) authenticate(r *http.Request, form url.Values) (Client, *oauthError) {
	invalid := &oauthError{http.StatusUnauthorized, "invalid_client", "client authentication failed"}
	basicID, basicSecret, basic := r.BasicAuth()
	methods := 0
	for _, used := range []bool{basic, form.Has("client_secret"), form.Has("client_assertion") || form.Has("client_assertion_type")} {
		if used {
			methods++
		}
	}
	if methods != 1 {
		return Client{}, &oauthError{http.StatusBadRequest, "invalid_request", "use exactly one client authentication method"}
	}
	lookup := func(id string) (Client, bool) {
		i.tokens.mu.Lock()
		defer i.tokens.mu.Unlock()
		c, ok := i.tokens.clients[id]
		return c, ok
	}
	checkSecret := func(id, secret string) (Client, *oauthError) {
		c, ok := lookup(id)
		if !ok || c.Secret == "" || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
			return Client{}, invalid
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			return Client{}, invalid
		}
		return c, nil
	}
	switch {
	case basic:
		// RFC 6749 §2.3.1: both form-urlencoded before Basic encoding.
		id, err1 := url.QueryUnescape(basicID)
		secret, err2 := url.QueryUnescape(basicSecret)
		if err1 != nil || err2 != nil {
			return Client{}, invalid
		}
		return checkSecret(id, secret)
	case form.Has("client_secret"):
		return checkSecret(form.Get("client_id"), form.Get("client_secret"))
	}
	if form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return Client{}, invalid
	}
	return i.verifyAssertion(form.Get("client_assertion"), form.Get("client_id"), lookup)
}

// verifyAssertion checks an RFC 7523 client assertion: signature by the
// registered key, iss = sub = the client, aud the token endpoint or the
// issuer, exp present and near, jti not used before.
func (i *Issuer) verifyAssertion(assertion, formID string, lookup func(string) (Client, bool)) (Client, *oauthError) {
	invalid := &oauthError{http.StatusUnauthorized, "invalid_client", "client assertion invalid"}
	var client Client
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(assertion, claims, func(t *jwt.Token) (any, error) {
		iss, err := t.Claims.GetIssuer()
		if err != nil {
			return nil, err
		}
		c, ok := lookup(iss)
		if !ok || c.PublicKey == nil {
			return nil, errors.New("unknown client")
		}
		client = c
		return c.PublicKey, nil
	},
		jwt.WithValidMethods([]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(assertionLeeway),
		jwt.WithTimeFunc(i.now),
	)
	if err != nil {
		return Client{}, invalid
	}
	sub, _ := claims.GetSubject()
	if sub != client.ID || (formID != "" && formID != client.ID) {
		return Client{}, invalid
	}
	aud, _ := claims.GetAudience()
	if !slices.Contains(aud, i.TokenURL()) && !slices.Contains(aud, i.iss) && !slices.Contains(aud, i.IntrospectionURL()) &&
		(i.MTLSTokenURL() == "" || !slices.Contains(aud, i.MTLSTokenURL())) {
		return Client{}, invalid
	}
	exp, _ := claims.GetExpirationTime()
	now := i.now()
	if exp.After(now.Add(maxAssertionLifetime + assertionLeeway)) {
		return Client{}, invalid
	}
	jti, _ := claims["jti"].(string)
	if jti == "" {
		return Client{}, invalid
	}
	key := client.ID + " " + jti
	i.tokens.mu.Lock()
	defer i.tokens.mu.Unlock()
	for k, until := range i.tokens.jtis {
		if now.After(until) {
			delete(i.tokens.jtis, k)
		}
	}
	if _, used := i.tokens.jtis[key]; used {
		return Client{}, invalid
	}
	i.tokens.jtis[key] = exp.Add(assertionLeeway)
	return client, nil
}
