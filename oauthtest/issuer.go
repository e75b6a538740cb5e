package oauthtest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Errors returned by this package.
var (
	// ErrAlgorithm is returned for an algorithm the issuer cannot generate
	// keys for or sign with.
	ErrAlgorithm = errors.New("oauthtest: unsupported algorithm")
	// ErrUnknownKey is returned when a token names a key ID the issuer never
	// generated.
	ErrUnknownKey = errors.New("oauthtest: unknown key ID")
)

// Paths served by an [Issuer], relative to its base URL.
const (
	OpenIDConfigurationPath = "/.well-known/openid-configuration"
	OAuthMetadataPath       = "/.well-known/oauth-authorization-server"
	JWKSPath                = "/.well-known/jwks.json"
)

// DefaultAudience is the audience of minted tokens unless [WithAudience] or
// [Token.Audience] says otherwise.
const DefaultAudience = "https://api.example.com"

// Option configures [NewIssuer].
type Option func(*config)

type config struct {
	alg string
	aud string
	tls bool
	now func() time.Time

	mtlsToken bool // WithMTLSTokenEndpoint
}

// WithAlgorithm sets the algorithm of the generated signing keys: "RS256"
// (the default), "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
// "ES384", "ES512", "EdDSA", or "Ed25519" (RFC 9864's fully-specified name:
// an Ed25519 key whose JWK and tokens say alg "Ed25519").
func WithAlgorithm(alg string) Option { return func(c *config) { c.alg = alg } }

// WithAudience sets the default audience of minted tokens
// (default [DefaultAudience]).
func WithAudience(aud string) Option { return func(c *config) { c.aud = aud } }

// WithTLS serves over HTTPS with httptest's self-signed certificate;
// [Issuer.Client] trusts it. Client certificates are requested (not
// required), so that the token endpoint binds tokens to them.
func WithTLS() Option { return func(c *config) { c.tls = true } }

// WithMTLSTokenEndpoint starts a second server, over HTTPS with client
// certificates requested, that serves only the token endpoint, and
// advertises it in the discovery metadata as mtls_endpoint_aliases
// (RFC 8705 §5), as an Auth0 tenant with mutual TLS does. A token
// obtained there over a connection with a client certificate is bound to
// it ([Issuer.MTLSTokenURL], [Issuer.MTLSClient]).
func WithMTLSTokenEndpoint() Option { return func(c *config) { c.mtlsToken = true } }

// WithClock sets the clock that default iat values come from
// (default time.Now).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// Fault makes the issuer's discovery and JWKS responses misbehave. The zero
// Fault means normal service. When several fields are set, Delay applies
// first, then the first of Down, Status, Garbage, Oversized.
type Fault struct {
	// Down answers 503 Service Unavailable.
	Down bool
	// Delay waits this long before answering (or until the client gives up).
	Delay time.Duration
	// Garbage answers 200 with a body that is not valid JSON.
	Garbage bool
	// Oversized answers 200 with the real JWKS or metadata padded with
	// spaces to this many bytes: valid JSON, so that only a client's size
	// limit rejects it.
	Oversized int64
	// Status answers with this HTTP status code and an empty body.
	Status int

	// The following apply to introspection answers only
	// ([Issuer.SetIntrospectionFault]).

	// ActiveAsString writes active as the string "true" or "false".
	ActiveAsString bool
	// WrongIssuer signs RFC 9701 answers with another iss.
	WrongIssuer bool
	// WrongAudience signs RFC 9701 answers for another aud.
	WrongAudience bool
}

// Issuer is a fake OAuth 2.0 authorization server for tests. It is safe for
// concurrent use.
type Issuer struct {
	srv *httptest.Server
	iss string
	aud string
	alg string
	now func() time.Time

	mtlsSrv *httptest.Server // the token endpoint's alias; nil without WithMTLSTokenEndpoint
	mtlsURL string
	tokens  *tokenEndpoint

	mu        sync.RWMutex
	keys      map[string]*signingKey // every key ever generated, revoked ones too
	published []string               // key IDs in the JWKS, in order
	current   string
	next      string
	fault     Fault

	introspectionFault Fault
	introspections     atomic.Int64

	jwksFetches      atomic.Int64
	discoveryFetches atomic.Int64
	done             chan struct{}
	closeOnce        sync.Once
}

type signingKey struct {
	kid  string
	alg  string
	priv crypto.Signer
}

// NewIssuer generates a current and a next signing key and starts an
// httptest server on the loopback interface. Call [Issuer.Close] when done.
func NewIssuer(opts ...Option) (*Issuer, error) {
	c := config{alg: "RS256", aud: DefaultAudience, now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	var errs []error
	if !supported(c.alg) {
		errs = append(errs, fmt.Errorf("%w: %q", ErrAlgorithm, c.alg))
	}
	if c.aud == "" {
		errs = append(errs, errors.New("oauthtest: empty audience"))
	}
	if c.now == nil {
		errs = append(errs, errors.New("oauthtest: nil clock"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	tokens, err := newTokenEndpoint(c.now)
	if err != nil {
		return nil, err
	}
	i := &Issuer{aud: c.aud, alg: c.alg, now: c.now, keys: make(map[string]*signingKey), done: make(chan struct{}), tokens: tokens}
	cur, err := i.generate(c.alg)
	if err != nil {
		return nil, err
	}
	nxt, err := i.generate(c.alg)
	if err != nil {
		return nil, err
	}
	i.current, i.next = cur.kid, nxt.kid
	i.published = []string{cur.kid, nxt.kid}

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+OpenIDConfigurationPath, i.serveDiscovery)
	mux.HandleFunc("GET "+OAuthMetadataPath, i.serveDiscovery)
	mux.HandleFunc("GET "+JWKSPath, i.serveJWKS)
	mux.HandleFunc("POST "+TokenPath, i.serveToken)
	mux.HandleFunc("POST "+IntrospectionPath, i.serveIntrospection)
	i.srv = httptest.NewUnstartedServer(mux)
	i.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // clients that distrust the TLS certificate are expected
	if c.mtlsToken {
		tokenMux := http.NewServeMux()
		tokenMux.HandleFunc("POST "+TokenPath, i.serveToken)
		i.mtlsSrv = httptest.NewUnstartedServer(tokenMux)
		i.mtlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
		i.mtlsSrv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
		i.mtlsURL = "https://" + i.mtlsSrv.Listener.Addr().String() + TokenPath
	}
	// The issuer URL is known from the listener before the server starts,
	// so handlers never see it being written.
	scheme := "http://"
	if c.tls {
		scheme = "https://"
	}
	i.iss = scheme + i.srv.Listener.Addr().String() + "/"
	if c.tls {
		i.srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
		i.srv.StartTLS()
	} else {
		i.srv.Start()
	}
	if i.mtlsSrv != nil {
		i.mtlsSrv.StartTLS()
	}
	return i, nil
}

// Close stops the server. It is safe to call more than once.
func (i *Issuer) Close() {
	i.closeOnce.Do(func() {
		close(i.done)
		i.srv.Close()
		if i.mtlsSrv != nil {
			i.mtlsSrv.Close()
		}
	})
}

// Issuer returns the issuer identifier, with a trailing slash like Auth0's:
// "http://127.0.0.1:PORT/" (https with [WithTLS]).
func (i *Issuer) Issuer() string { return i.iss }

// JWKSURL returns the URL of the JWK Set.
func (i *Issuer) JWKSURL() string { return i.srv.URL + JWKSPath }

// Client returns an HTTP client that can reach the issuer (and trusts its
// certificate with [WithTLS]).
func (i *Issuer) Client() *http.Client { return i.srv.Client() }

// Audience returns the default audience of minted tokens.
func (i *Issuer) Audience() string { return i.aud }

// SetFault changes how discovery and JWKS requests are answered from now on.
func (i *Issuer) SetFault(f Fault) {
	i.mu.Lock()
	i.fault = f
	i.mu.Unlock()
}

// JWKSFetches returns how many JWKS requests the issuer has received,
// faulty answers included.
func (i *Issuer) JWKSFetches() int { return int(i.jwksFetches.Load()) }

// DiscoveryFetches returns how many discovery requests (either path) the
// issuer has received, faulty answers included.
func (i *Issuer) DiscoveryFetches() int { return int(i.discoveryFetches.Load()) }

// CurrentKeyID returns the key ID that tokens are signed with by default.
func (i *Issuer) CurrentKeyID() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.current
}

// KeyIDs returns the key IDs currently published in the JWKS.
func (i *Issuer) KeyIDs() []string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return slices.Clone(i.published)
}

// AddKey generates a key for alg and publishes it. It does not become the
// current key; sign with it through [Token.KeyID].
func (i *Issuer) AddKey(alg string) (kid string, err error) {
	k, err := i.generate(alg)
	if err != nil {
		return "", err
	}
	i.mu.Lock()
	i.published = append(i.published, k.kid)
	i.mu.Unlock()
	return k.kid, nil
}

// Rotate rotates keys the way Auth0 does: the next key becomes current, the
// current one stays published as previous (until [Issuer.Revoke]), and a new
// next key is generated and published. It returns the new current key ID, or
// "" (changing nothing) if a key could not be generated.
func (i *Issuer) Rotate() (newCurrent string) {
	k, err := i.generate(i.alg)
	if err != nil {
		return ""
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.current, i.next = i.next, k.kid
	i.published = append(i.published, k.kid)
	return i.current
}

// Revoke removes kid from the JWKS. Tokens can still be minted with it, so
// that tests can check that they are no longer accepted.
func (i *Issuer) Revoke(kid string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.published = slices.DeleteFunc(i.published, func(s string) bool { return s == kid })
}

// PublicKey returns the public key of kid, or nil if there is no such key.
func (i *Issuer) PublicKey(kid string) crypto.PublicKey {
	if s := i.PrivateKey(kid); s != nil {
		return s.Public()
	}
	return nil
}

// PrivateKey returns the private key of kid, or nil if there is no such key.
func (i *Issuer) PrivateKey(kid string) crypto.Signer {
	i.mu.RLock()
	defer i.mu.RUnlock()
	if k, ok := i.keys[kid]; ok {
		return k.priv
	}
	return nil
}

func supported(alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519":
		return true
	}
	return false
}

// generate makes and records (but does not publish) a key for alg.
func (i *Issuer) generate(alg string) (*signingKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA", "Ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("%w: %q", ErrAlgorithm, alg)
	}
	if err != nil {
		return nil, fmt.Errorf("oauthtest: generating %s key: %w", alg, err)
	}
	k := &signingKey{kid: randomID(), alg: alg, priv: priv}
	i.mu.Lock()
	i.keys[k.kid] = k
	i.mu.Unlock()
	return k, nil
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// faultResponse applies the current fault. It reports whether it answered;
// oversized is the valid body to pad for an Oversized fault.
func (i *Issuer) faultResponse(w http.ResponseWriter, r *http.Request, oversized []byte, f Fault) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true
		case <-i.done:
			return true
		}
	}
	switch {
	case f.Down:
		http.Error(w, "down", http.StatusServiceUnavailable)
	case f.Status != 0:
		w.WriteHeader(f.Status)
	case f.Garbage:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys": [ this is not json`))
	case f.Oversized > 0:
		w.Header().Set("Content-Type", "application/json")
		body := oversized
		if pad := f.Oversized - int64(len(body)); pad > 0 {
			body = append(slices.Clone(body), bytes.Repeat([]byte(" "), int(pad))...)
		}
		_, _ = w.Write(body)
	default:
		return false
	}
	return true
}

func (i *Issuer) metadata() []byte {
	m := map[string]any{
		"issuer":                                           i.iss,
		"jwks_uri":                                         i.JWKSURL(),
		"authorization_endpoint":                           i.iss + "authorize",
		"token_endpoint":                                   i.iss + "oauth/token",
		"introspection_endpoint":                           i.IntrospectionURL(),
		"introspection_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
		"response_types_supported":                         []string{"code"},
		"subject_types_supported":                          []string{"public"},
		"id_token_signing_alg_values_supported":            []string{i.alg},
		"dpop_signing_alg_values_supported":                []string{"ES256", "PS256", "RS256", "EdDSA"},
		"grant_types_supported":                            []string{"client_credentials"},
		"token_endpoint_auth_methods_supported":            []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS256", "PS256", "ES256", "EdDSA"},
	}
	if i.mtlsSrv != nil {
		m["mtls_endpoint_aliases"] = map[string]string{"token_endpoint": i.MTLSTokenURL()}
		m["tls_client_certificate_bound_access_tokens"] = true
	}
	b, _ := json.Marshal(m) // a map of strings, bools and string slices and maps always marshals
	return b
}

func (i *Issuer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	i.discoveryFetches.Add(1)
	body := i.metadata()
	if i.faultResponse(w, r, body, i.currentFault()) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	i.jwksFetches.Add(1)
	body, err := i.jwksJSON()
	if err != nil {
		http.Error(w, "cannot marshal keys", http.StatusInternalServerError)
		return
	}
	if i.faultResponse(w, r, body, i.currentFault()) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func (i *Issuer) currentFault() Fault {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.fault
}

// jwksJSON marshals the published public keys with kid, kty, use "sig" and alg.
func (i *Issuer) jwksJSON() ([]byte, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	set := jwkset.JWKSMarshal{Keys: make([]jwkset.JWKMarshal, 0, len(i.published))}
	for _, kid := range i.published {
		k := i.keys[kid]
		jwk, err := jwkset.NewJWKFromKey(k.priv.Public(), jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{ALG: jwkset.ALG(k.alg), KID: k.kid, USE: jwkset.UseSig},
		})
		if err != nil {
			return nil, fmt.Errorf("oauthtest: marshalling key: %w", err)
		}
		set.Keys = append(set.Keys, jwk.Marshal())
	}
	return json.Marshal(set)
}

// Dialect is the claim layout of minted access tokens.
type Dialect int

const (
	// Auth0 is Auth0's default "access_token" dialect: typ "JWT", aud an
	// array, the client in azp, optional RBAC permissions.
	Auth0 Dialect = iota
	// RFC9068 is the RFC 9068 JWT access token profile (Auth0's
	// "rfc9068_profile"): typ "at+jwt", client_id, jti.
	RFC9068
)

// Token describes an access token to mint. The zero value mints a valid
// Auth0-dialect token for the issuer's default audience, valid for an hour.
type Token struct {
	// Dialect chooses the claim layout.
	Dialect Dialect
	// Subject is "sub" (default "auth0|user-123").
	Subject string
	// Audience is "aud" (default the issuer's audience). In the Auth0 dialect
	// the issuer's "userinfo" URL is appended when Scope contains "openid".
	// Auth0 tokens always carry an array; RFC 9068 tokens a string when there
	// is one audience.
	Audience []string
	// ClientID is the client (default "client-1"): "azp" in the Auth0
	// dialect, "client_id" in RFC 9068.
	ClientID string
	// Scope is the space-separated "scope"; omitted when empty.
	Scope string
	// Permissions is Auth0's RBAC "permissions" array; omitted when nil.
	Permissions []string
	// JKT is cnf.jkt, the DPoP key thumbprint; omitted when empty.
	JKT string
	// X5TS256 is cnf["x5t#S256"], the mTLS certificate thumbprint; omitted
	// when empty.
	X5TS256 string
	// IssuedAt is "iat" (default now by the issuer's clock).
	IssuedAt time.Time
	// ExpiresIn sets "exp" to IssuedAt + ExpiresIn (default an hour; negative
	// values mint expired tokens).
	ExpiresIn time.Duration
	// NotBefore is "nbf"; omitted when zero.
	NotBefore time.Time
	// Claims are extra or overriding claims, applied last. A nil value
	// deletes the claim.
	Claims map[string]any
	// Header holds extra or overriding JOSE header members, applied last
	// (for example "jku", "crit", "typ", or even "alg"). A nil value deletes
	// the member.
	Header map[string]any
	// KeyID chooses the signing key (default the current key). Revoked keys
	// can still sign.
	KeyID string
}

// Mint signs t with the issuer's key and returns the compact JWT.
func (i *Issuer) Mint(t Token) (string, error) {
	kid := t.KeyID
	if kid == "" {
		kid = i.CurrentKeyID()
	}
	i.mu.RLock()
	k, ok := i.keys[kid]
	i.mu.RUnlock()
	if !ok {
		return "", ErrUnknownKey
	}
	return i.sign(t, signingMethod(k.alg), k.kid, k.priv)
}

// signingMethod returns golang-jwt's method for alg, named alg: golang-jwt
// knows Ed25519 (RFC 9864) only as EdDSA, the same signature.
func signingMethod(alg string) jwt.SigningMethod {
	if alg == "Ed25519" {
		return ed25519Method{jwt.SigningMethodEdDSA}
	}
	return jwt.GetSigningMethod(alg)
}

// ed25519Method is EdDSA under the name Ed25519.
type ed25519Method struct{ *jwt.SigningMethodEd25519 }

func (ed25519Method) Alg() string { return "Ed25519" }

// MintHS256 signs t with HS256 and the shared secret, as an Auth0 API that
// uses a signing secret does. The header has no kid unless t.Header sets one.
func (i *Issuer) MintHS256(t Token, secret []byte) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("oauthtest: empty HS256 secret")
	}
	return i.sign(t, jwt.SigningMethodHS256, "", secret)
}

func (i *Issuer) sign(t Token, method jwt.SigningMethod, kid string, key any) (string, error) {
	tok := jwt.NewWithClaims(method, i.claims(t))
	if t.Dialect == RFC9068 {
		tok.Header["typ"] = "at+jwt"
	}
	if kid != "" {
		tok.Header["kid"] = kid
	}
	for name, v := range t.Header {
		if v == nil {
			delete(tok.Header, name)
			continue
		}
		tok.Header[name] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("oauthtest: signing: %w", err)
	}
	return s, nil
}

func (i *Issuer) claims(t Token) jwt.MapClaims {
	iat := t.IssuedAt
	if iat.IsZero() {
		iat = i.now()
	}
	exp := t.ExpiresIn
	if exp == 0 {
		exp = time.Hour
	}
	sub := t.Subject
	if sub == "" {
		sub = "auth0|user-123"
	}
	client := t.ClientID
	if client == "" {
		client = "client-1"
	}
	aud := slices.Clone(t.Audience)
	if len(aud) == 0 {
		aud = []string{i.aud}
	}
	c := jwt.MapClaims{
		"iss": i.iss,
		"sub": sub,
		"iat": iat.Unix(),
		"exp": iat.Add(exp).Unix(),
	}
	switch t.Dialect {
	case RFC9068:
		c["client_id"] = client
		c["jti"] = randomID()
		if len(aud) == 1 {
			c["aud"] = aud[0]
		} else {
			c["aud"] = aud
		}
	default:
		c["azp"] = client
		if slices.Contains(strings.Fields(t.Scope), "openid") && !slices.Contains(aud, i.iss+"userinfo") {
			aud = append(aud, i.iss+"userinfo")
		}
		c["aud"] = aud
	}
	if t.Scope != "" {
		c["scope"] = t.Scope
	}
	if t.Permissions != nil {
		c["permissions"] = slices.Clone(t.Permissions)
	}
	if !t.NotBefore.IsZero() {
		c["nbf"] = t.NotBefore.Unix()
	}
	if t.JKT != "" || t.X5TS256 != "" {
		cnf := map[string]any{}
		if t.JKT != "" {
			cnf["jkt"] = t.JKT
		}
		if t.X5TS256 != "" {
			cnf["x5t#S256"] = t.X5TS256
		}
		c["cnf"] = cnf
	}
	for name, v := range t.Claims {
		if v == nil {
			delete(c, name)
			continue
		}
		c[name] = v
	}
	return c
}
