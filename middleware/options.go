package middleware

import (
	"context"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/internal/jose"
	"github.com/senderbound/senderbound/introspect"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/observe"
)

// Mechanism is a sender-constraining method, as in the mechanism member of
// Auth0's proof_of_possession setting for an API.
type Mechanism int

const (
	// MechanismNone accepts bearer tokens; bound tokens are still held to
	// their binding.
	MechanismNone Mechanism = iota
	// MechanismDPoP is DPoP (RFC 9449).
	MechanismDPoP
	// MechanismMTLS is certificate-bound tokens (RFC 8705).
	MechanismMTLS
)

func (m Mechanism) String() string {
	switch m {
	case MechanismNone:
		return "none"
	case MechanismDPoP:
		return "dpop"
	case MechanismMTLS:
		return "mtls"
	}
	return fmt.Sprintf("Mechanism(%d)", int(m))
}

// KeySource finds the key that verifies a token. [jwks.Keys] is the usual
// implementation. Key must only return keys of issuers the operator trusts,
// must never fetch anything the token names (jku, x5u), and is called on
// every request whose token is not in the token cache.
type KeySource interface {
	Key(ctx context.Context, issuer, kid, alg string) (crypto.PublicKey, error)
}

// Option configures a [Guard]. Options are checked together by [New].
type Option func(*config)

type config struct {
	audiences      []string
	algorithms     []string
	hmac           map[string][]byte
	leeway         time.Duration
	requireATJWT   bool
	realm          string
	maxTokenSize   int
	maxDepth       int
	formTokens     bool
	queryTokens    bool
	errorHandler   func(http.ResponseWriter, *http.Request, *Error)
	logger         *slog.Logger
	observer       *observe.Observer
	mechanism      Mechanism
	required       bool
	dpopRequiredFn func(*Claims) bool
	dpopVerifier   *dpop.Verifier
	urls           dpop.URLResolver
	certs          *mtls.Source
	cacheSize      int
	cacheMaxAge    time.Duration
	decryptKeys    map[string]*rsa.PrivateKey
	jweKeyAlgs     []string
	jweEncs        []string
	jweNoCty       bool
	metadataURL    string
	fapi           *fapi2
	popSet         bool // WithProofOfPossession was given
	algsSet        bool // WithAlgorithms was given
	now            func() time.Time
	introspection  *introspect.Client
	errs           []error
}

func (c *config) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("middleware: "+format, args...))
}

// WithAudience sets the audiences a token may be for: its aud must contain
// at least one of them. Required.
func WithAudience(audiences ...string) Option {
	return func(c *config) {
		for _, a := range audiences {
			if a == "" {
				c.fail("empty audience")
			}
		}
		c.audiences = append(c.audiences, audiences...)
	}
}

// WithAlgorithms sets the signature algorithms accepted for access tokens.
// The default is RS256, PS256, ES256, EdDSA and Ed25519 (RFC 9864's name
// for EdDSA with an Ed25519 key). Only asymmetric algorithms are allowed
// here; HS256 is enabled per issuer by [WithHMACSecret].
// ES384 verifies about ten times slower than ES256 on amd64: avoid it on hot
// paths.
func WithAlgorithms(algs ...string) Option {
	return func(c *config) {
		if len(algs) == 0 {
			c.fail("empty algorithm list")
		}
		for _, a := range algs {
			if !jose.Asymmetric(a) {
				c.fail("algorithm %q is not an allowed asymmetric algorithm", a)
			}
		}
		c.algorithms = algs
		c.algsSet = true
	}
}

// WithHMACSecret lets one issuer sign tokens with HS256 and a shared secret,
// as Auth0 allows for an API. Tokens from every other issuer stay limited to
// asymmetric algorithms, so a public key can never be used as an HMAC
// secret. The secret must be at least 32 bytes.
func WithHMACSecret(issuer string, secret []byte) Option {
	return func(c *config) {
		if issuer == "" {
			c.fail("HMAC secret for an empty issuer")
		}
		if len(secret) < 32 {
			c.fail("HMAC secret for %q is shorter than 32 bytes", issuer)
		}
		if c.hmac == nil {
			c.hmac = map[string][]byte{}
		}
		c.hmac[issuer] = slices.Clone(secret)
	}
}

// WithLeeway sets the clock leeway for exp, nbf and iat. Default 30s; at
// most 5 minutes.
func WithLeeway(d time.Duration) Option {
	return func(c *config) {
		if d < 0 || d > 5*time.Minute {
			c.fail("leeway %v outside [0, 5m]", d)
		}
		c.leeway = d
	}
}

// WithRFC9068 requires the JWT access token profile of RFC 9068: header typ
// "at+jwt" (or "application/at+jwt"), which stops an ID token from being
// used as an access token, and the claims sub, client_id, jti and iat. Off
// by default, so that Auth0's default token dialect works.
func WithRFC9068() Option { return func(c *config) { c.requireATJWT = true } }

// WithRealm sets the realm attribute of challenges.
func WithRealm(realm string) Option { return func(c *config) { c.realm = realm } }

// WithMaxTokenSize sets the largest access token accepted, in bytes, checked
// before any parsing. Default 16 KiB.
func WithMaxTokenSize(n int) Option {
	return func(c *config) {
		if n < 256 || n > 1<<20 {
			c.fail("max token size %d outside [256, 1 MiB]", n)
		}
		c.maxTokenSize = n
	}
}

// WithMaxClaimsDepth sets how deeply the token's JSON header and claims may
// nest objects and arrays, checked before decoding. Default 16.
func WithMaxClaimsDepth(n int) Option {
	return func(c *config) {
		if n < 2 || n > 1000 {
			c.fail("max claims depth %d outside [2, 1000]", n)
		}
		c.maxDepth = n
	}
}

// WithFormToken accepts the access_token form parameter of
// application/x-www-form-urlencoded POST bodies (RFC 6750 §2.2). Off by
// default. The body is read, up to the token size limit plus 1 KiB, only
// when the request has no Authorization header: a request that
// authenticates by header keeps its body intact, whatever its size.
func WithFormToken() Option { return func(c *config) { c.formTokens = true } }

// WithQueryToken accepts the access_token query parameter (RFC 6750 §2.3).
// Off by default: URLs end up in logs, and FAPI profiles forbid it.
func WithQueryToken() Option { return func(c *config) { c.queryTokens = true } }

// WithErrorHandler replaces how [Guard.Handler] and [Guard.Require]
// write a rejection, for example to add a JSON body. The handler gets the
// *Error with its status and code, and can call [Guard.WriteError] for the
// standard answer.
func WithErrorHandler(h func(http.ResponseWriter, *http.Request, *Error)) Option {
	return func(c *config) {
		if h == nil {
			c.fail("nil error handler")
		}
		c.errorHandler = h
	}
}

// WithLogger logs each rejection of [Guard.Handler] and of [Guard.Require]
// / [Guard.RequireScopes] on one line: status, code, cause (a stable name),
// reason, issuer, kid, client_id, method, path and remote address, and
// computed_htu for an htu mismatch (never a token, a proof or the query).
// A request without credentials and a use_dpop_nonce answer (a normal
// nonce round trip) are Debug, a fail-closed 503 is Error, every other
// rejection Info. Default: rejections are not logged; the warning of [New]
// about a missing public URL goes to slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l == nil {
			c.fail("nil logger")
		}
		c.logger = l
	}
}

// WithProofOfPossession sets the sender-constraining policy, mirroring
// Auth0's proof_of_possession object: a mechanism, and whether it is
// required. With MechanismMTLS it is always required; MechanismNone cannot
// be required (New refuses it: it would refuse every unbound token while the
// metadata says bound tokens are not required). Whatever the policy, a
// token that carries a binding (cnf) is only accepted with that binding
// proven. See the policy table in the package documentation.
func WithProofOfPossession(m Mechanism, required bool) Option {
	return func(c *config) {
		if m < MechanismNone || m > MechanismMTLS {
			c.fail("unknown mechanism %v", m)
		}
		c.mechanism = m
		c.required = required || m == MechanismMTLS
		c.popSet = true
	}
}

// WithDPoPRequiredFor decides per request whether an unbound token must be
// refused, for "DPoP required for public clients only": the token does not
// say whether its client is public, so the API decides from the claims (for
// example from a set of client IDs). It applies with mechanism DPoP when
// required is false.
func WithDPoPRequiredFor(required func(*Claims) bool) Option {
	return func(c *config) {
		if required == nil {
			c.fail("nil DPoPRequiredFor function")
		}
		c.dpopRequiredFn = required
	}
}

// WithDPoP sets the DPoP proof verifier (its algorithms, replay cache,
// nonces, time window). Default: dpop.NewVerifier() with an in-memory
// replay cache, which is right for a single instance; a fleet shares a
// replay cache (see dpop/dpopredis).
func WithDPoP(v *dpop.Verifier) Option {
	return func(c *config) {
		if v == nil {
			c.fail("nil DPoP verifier")
		}
		c.dpopVerifier = v
	}
}

// WithPublicURL sets the external base URL of the API (scheme, host, port)
// used to check a DPoP proof's htu in [Guard.Handler] and [Guard.Check]
// ([Guard.Verify] takes the URL from its Request). Without it, or trusted
// proxies, htu is checked against the request's own Host, so a proof made
// for another deployment reached under the same host name is accepted; New
// logs a warning when such a Guard can check DPoP proofs (every mechanism
// but mTLS).
func WithPublicURL(raw string) Option {
	return func(c *config) {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			c.fail("public URL %q is not an absolute http(s) URL", raw)
			return
		}
		c.urls.PublicURL = u
	}
}

// WithTrustedProxies lets X-Forwarded-Proto, X-Forwarded-Host and Forwarded
// decide the request's external URL (for htu) when the request comes from
// one of these addresses. By default no proxy is trusted. A prefix that
// holds every address (0.0.0.0/0, ::/0, or every IPv4-mapped address,
// ::ffff:0:0/96) would let any client forge these headers and is refused.
// Forwarded client certificates are configured on the [mtls.Source] (see
// [WithCertificateSource]).
func WithTrustedProxies(prefixes ...netip.Prefix) Option {
	return func(c *config) {
		for _, p := range prefixes {
			switch {
			case !p.IsValid():
				c.fail("trusted proxy prefix %v is not valid", p)
			case everyAddress(p):
				c.fail("trusted proxy prefix %v holds every client address, so any client could forge forwarded headers; list the proxies' own addresses", p)
			}
		}
		c.urls.TrustedProxies = append(c.urls.TrustedProxies, prefixes...)
	}
}

// everyAddress reports whether p holds every IPv4 or every IPv6 address:
// a prefix of length 0, or an IPv6 prefix holding all of ::ffff:0:0/96
// (the IPv4-mapped addresses).
func everyAddress(p netip.Prefix) bool {
	mapped := netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff}) // ::ffff:0.0.0.0
	return p.Bits() == 0 || (p.Addr().Is6() && p.Bits() <= 96 && p.Contains(mapped))
}

// WithCertificateSource sets where client certificates come from for
// certificate-bound tokens. Default: the TLS connection only.
func WithCertificateSource(s *mtls.Source) Option {
	return func(c *config) {
		if s == nil {
			c.fail("nil certificate source")
		}
		c.certs = s
	}
}

// WithClock sets the clock (for tests).
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now == nil {
			c.fail("nil clock")
		}
		c.now = now
	}
}

func (c *config) validate() error {
	if len(c.audiences) == 0 {
		c.fail("no audience: WithAudience is required")
	}
	// WithFAPI2 with both mechanisms sets exactly this pair, meaning "bound
	// either way"; only a caller's own WithProofOfPossession can be wrong.
	if c.mechanism == MechanismNone && c.required && c.fapi == nil {
		c.fail("mechanism none cannot be required: use WithProofOfPossession(MechanismDPoP, true) or (MechanismMTLS, true)")
	}
	if c.mechanism != MechanismDPoP && c.dpopRequiredFn != nil {
		c.fail("WithDPoPRequiredFor needs mechanism DPoP")
	}
	return errors.Join(c.errs...)
}

var defaultAlgorithms = []string{"RS256", "PS256", "ES256", "EdDSA", "Ed25519"}

func (c *config) acceptsAlg(alg string) bool {
	return slices.Contains(c.algorithms, alg)
}

func joinAlgs(algs []string) string { return strings.Join(algs, " ") }

// WithDecryptionKeys accepts encrypted access tokens (a signed JWT nested in
// a compact JWE, as Auth0 issues for APIs with token encryption on), keyed
// by the JWE kid. Give several keys to add a new one before retiring the old.
// The inner JWT is then verified like any other token. The DPoP ath claim
// is computed over the token as sent: the JWE string, not the inner JWT.
func WithDecryptionKeys(keys map[string]*rsa.PrivateKey) Option {
	return func(c *config) {
		if len(keys) == 0 {
			c.fail("no decryption keys")
		}
		c.decryptKeys = keys
	}
}

// WithJWEAlgorithms sets the JWE key-management algorithms and content
// encryptions accepted with [WithDecryptionKeys]. Default: RSA-OAEP-256,
// RSA-OAEP-384, RSA-OAEP-512; A256GCM, A128CBC-HS256.
func WithJWEAlgorithms(keyAlgorithms, contentEncryptions []string) Option {
	return func(c *config) {
		c.jweKeyAlgs, c.jweEncs = keyAlgorithms, contentEncryptions
	}
}

// WithJWEContentTypeOptional accepts encrypted tokens whose JWE header has
// no cty. RFC 7519 §5.2 requires cty "JWT" on a nested JWT, and that is the
// default; Auth0 documents its JWE header as alg, enc and (optionally) kid,
// so turn this on if your tenant's tokens omit cty. The inner payload must
// still be a signed JWT that verifies with the issuer's keys, and a cty with
// any other value is always refused.
func WithJWEContentTypeOptional() Option { return func(c *config) { c.jweNoCty = true } }

// WithResourceMetadata adds resource_metadata="url" to every challenge
// (RFC 9728 §5.1), pointing clients to the document that
// [MetadataHandler] serves.
func WithResourceMetadata(url string) Option {
	return func(c *config) { c.metadataURL = url }
}
