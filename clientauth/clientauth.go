// Package clientauth is how a client authenticates to an OAuth 2.0
// authorization server's endpoints: the token endpoint, for a client that
// obtains tokens ([github.com/senderbound/senderbound/dpop.ClientCredentials]),
// and the introspection endpoint, for a resource server that asks about
// opaque tokens ([github.com/senderbound/senderbound/introspect]).
//
// A [Method] is one of the four methods that authorization servers
// register for confidential clients (the values of RFC 8414's
// token_endpoint_auth_methods_supported):
//
//   - [ClientSecretBasic]: "client_secret_basic", RFC 6749 §2.3.1, the ID
//     and secret form-urlencoded and then sent as HTTP Basic credentials;
//   - [ClientSecretPost]: "client_secret_post", the same two in the body;
//   - [PrivateKeyJWT]: "private_key_jwt", RFC 7523 §2.2, a fresh JWT signed
//     by the client's key for every request (the key may live in a KMS:
//     only its [crypto.Signer] interface is used);
//   - [TLSClientAuth]: "tls_client_auth", RFC 8705 §2, only client_id in the
//     body; the client certificate is presented by the TLS connection, so it
//     belongs in the [net/http.Client]'s TLS configuration.
//
// A Method is a value: build it once and share it; it is safe for
// concurrent use when its key is.
package clientauth

import (
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/senderbound/senderbound/internal/jose"
)

// ErrConfig reports a Method that cannot authenticate: no client ID, no
// secret, no key, or a key that cannot sign with the chosen algorithm.
var ErrConfig = errors.New("clientauth: invalid client authentication")

// The names of the methods, as RFC 8414 metadata and OpenID Connect
// registration spell them.
const (
	NameClientSecretBasic = "client_secret_basic"
	NameClientSecretPost  = "client_secret_post"
	NamePrivateKeyJWT     = "private_key_jwt"
	NameTLSClientAuth     = "tls_client_auth"
)

// AssertionType is RFC 7523 §2.2's client_assertion_type.
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionLifetime is the exp of a client assertion after its iat: short,
// as RFC 7523 §3 and Auth0 (at most five minutes) ask.
const assertionLifetime = time.Minute

// Method is how a client authenticates. The zero Method is no method at
// all: [Method.Check] reports it. Build one with [ClientSecretBasic],
// [ClientSecretPost], [PrivateKeyJWT] or [TLSClientAuth].
type Method struct {
	name   string
	id     string
	secret string
	jwt    *assertion
	err    error // a construction problem, reported by Check
}

// assertion is the configuration of private_key_jwt.
type assertion struct {
	signer   *jose.KeySigner
	kid      string
	audience string
	now      func() time.Time
}

// ClientSecretBasic authenticates with the client ID and secret in an HTTP
// Basic Authorization header, each form-urlencoded first as RFC 6749
// §2.3.1 requires (a secret with ":", "%" or "+" survives).
func ClientSecretBasic(clientID, clientSecret string) Method {
	return Method{name: NameClientSecretBasic, id: clientID, secret: clientSecret}
}

// ClientSecretPost authenticates with client_id and client_secret in the
// request body (RFC 6749 §2.3.1). It is Auth0's default for applications
// created through its dashboard.
func ClientSecretPost(clientID, clientSecret string) Method {
	return Method{name: NameClientSecretPost, id: clientID, secret: clientSecret}
}

// TLSClientAuth authenticates with the client certificate of the TLS
// connection (RFC 8705 §2.1, "tls_client_auth"): the request carries only
// client_id. The certificate must be set in the TLS configuration of the
// [net/http.Client] that sends the requests (its Transport's
// TLSClientConfig.Certificates), and the authorization server must have
// registered it (by subject or SAN) for the client.
func TLSClientAuth(clientID string) Method {
	return Method{name: NameTLSClientAuth, id: clientID}
}

// JWTOption configures [PrivateKeyJWT].
type JWTOption func(*assertion, *[]error)

// WithKeyID sends kid as the client assertion's kid header (Auth0's
// credential ID; what the server's registered JWK Set names the key).
func WithKeyID(kid string) JWTOption {
	return func(a *assertion, _ *[]error) { a.kid = kid }
}

// WithAlgorithm chooses the signature algorithm where the key allows
// several: for RSA keys PS256 (the default), RS256, PS384, RS384, PS512 or
// RS512; for Ed25519 keys EdDSA (the default) or Ed25519. It must be one
// the authorization server registered for the client (Auth0 accepts RS256,
// RS384 and PS256).
func WithAlgorithm(alg string) JWTOption {
	return func(a *assertion, errs *[]error) {
		if a.signer == nil {
			return // the key's error is reported already
		}
		s, err := jose.NewKeySigner(a.signer.Key(), alg)
		if err != nil {
			*errs = append(*errs, errors.Join(ErrConfig, err))
			return
		}
		a.signer = s
	}
}

// WithAudience sets the aud of every client assertion, instead of the URL
// of the endpoint the request goes to (the default, which RFC 7523 §3 and
// Okta ask for). Auth0 wants its tenant's issuer URL
// ("https://TENANT.auth0.com/"), as does RFC 7523's successor draft.
func WithAudience(aud string) JWTOption {
	return func(a *assertion, errs *[]error) {
		if aud == "" {
			*errs = append(*errs, fmt.Errorf("empty assertion audience: %w", ErrConfig))
		}
		a.audience = aud
	}
}

// WithClock sets the clock of the assertions' iat and exp (default
// time.Now).
func WithClock(now func() time.Time) JWTOption {
	return func(a *assertion, errs *[]error) {
		if now == nil {
			*errs = append(*errs, fmt.Errorf("nil clock: %w", ErrConfig))
			return
		}
		a.now = now
	}
}

// PrivateKeyJWT authenticates with a JWT signed by the client's key (RFC
// 7523 §2.2; OpenID Connect's "private_key_jwt"), sent as
// client_assertion. Each request carries a new assertion: iss and sub are
// clientID, aud the URL of the endpoint (see [WithAudience]), a random jti,
// iat now and exp one minute later. The algorithm follows from the key
// (ES256, ES384, ES512, EdDSA, PS256 for RSA) unless [WithAlgorithm]
// chooses another. The key should not be a DPoP key: they serve different
// purposes. Problems are reported by [Method.Check] (and so by the
// constructors that take a Method).
func PrivateKeyJWT(clientID string, key crypto.Signer, opts ...JWTOption) Method {
	m := Method{name: NamePrivateKeyJWT, id: clientID, jwt: &assertion{now: time.Now}}
	var errs []error
	if key == nil {
		errs = append(errs, fmt.Errorf("private_key_jwt without a key: %w", ErrConfig))
	} else if s, err := jose.NewKeySigner(key, ""); err != nil {
		errs = append(errs, errors.Join(ErrConfig, err))
	} else {
		m.jwt.signer = s
	}
	for _, o := range opts {
		o(m.jwt, &errs)
	}
	m.err = errors.Join(errs...)
	return m
}

// Name returns the method's registered name, such as "client_secret_basic"
// ("" for the zero Method).
func (m Method) Name() string { return m.name }

// ClientID returns the client ID the method authenticates.
func (m Method) ClientID() string { return m.id }

// Check reports whether m can authenticate: a known method, a client ID,
// and its secret or a usable key. Every problem wraps [ErrConfig].
func (m Method) Check() error {
	var errs []error
	switch {
	case m.name == "":
		errs = append(errs, fmt.Errorf("no client authentication: %w", ErrConfig))
	case m.id == "":
		errs = append(errs, fmt.Errorf("empty client ID: %w", ErrConfig))
	case (m.name == NameClientSecretBasic || m.name == NameClientSecretPost) && m.secret == "":
		errs = append(errs, fmt.Errorf("empty client secret: %w", ErrConfig))
	}
	if m.err != nil {
		errs = append(errs, m.err)
	}
	return errors.Join(errs...)
}

// Apply adds m's credentials to a form POST to an authorization server
// endpoint: the Authorization header for client_secret_basic, members of
// form for the others. endpoint is the URL the request goes to, the
// client assertion's aud unless [WithAudience] set another. It fails only
// when a private_key_jwt assertion cannot be signed, or m fails
// [Method.Check].
func (m Method) Apply(h http.Header, form url.Values, endpoint string) error {
	if err := m.Check(); err != nil {
		return err
	}
	switch m.name {
	case NameClientSecretBasic:
		// RFC 6749 §2.3.1: form-urlencode each, then Basic.
		cred := url.QueryEscape(m.id) + ":" + url.QueryEscape(m.secret)
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cred)))
	case NameClientSecretPost:
		form.Set("client_id", m.id)
		form.Set("client_secret", m.secret)
	case NameTLSClientAuth:
		// RFC 8705 §2: client_id, and the certificate of the connection.
		form.Set("client_id", m.id)
	case NamePrivateKeyJWT:
		aud := m.jwt.audience
		if aud == "" {
			aud = endpoint
		}
		a, err := m.jwt.sign(m.id, aud)
		if err != nil {
			return err
		}
		form.Set("client_id", m.id)
		form.Set("client_assertion_type", AssertionType)
		form.Set("client_assertion", a)
	}
	return nil
}

var b64 = base64.RawURLEncoding

// sign returns a new RFC 7523 client assertion.
func (a *assertion) sign(clientID, aud string) (string, error) {
	now := a.now()
	header := map[string]string{"alg": a.signer.Algorithm(), "typ": "JWT"}
	if a.kid != "" {
		header["kid"] = a.kid
	}
	claims := struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Aud string `json:"aud"`
		JTI string `json:"jti"`
		IAT int64  `json:"iat"`
		Exp int64  `json:"exp"`
	}{clientID, clientID, aud, rand.Text(), now.Unix(), now.Add(assertionLifetime).Unix()}
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("clientauth: client assertion: %w", err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("clientauth: client assertion: %w", err)
	}
	input := b64.AppendEncode(nil, h)
	input = append(input, '.')
	input = b64.AppendEncode(input, p)
	sig, err := a.signer.Sign(input)
	if err != nil {
		return "", fmt.Errorf("clientauth: signing the client assertion: %w", err)
	}
	input = append(input, '.')
	return string(b64.AppendEncode(input, sig)), nil
}
