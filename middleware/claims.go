package middleware

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"

	"github.com/senderbound/senderbound/internal/jsonobj"
)

// Claims are the verified claims of an access token. A Claims value is
// immutable once verified and safe for concurrent use: the accessors that
// return slices return copies, so one verified token can be shared between
// requests (see [WithTokenCache]).
type Claims struct {
	issuer, subject, id, clientID string
	audience                      []string
	expiresAt, notBefore, issued  time.Time
	scopes, permissions           []string
	cnf                           Confirmation
	ext                           *extClaims // nil unless the token has one of them
	raw                           []byte
}

// extClaims are the claims of step-up authentication (RFC 9470: acr, amr,
// auth_time) and rich authorization requests (RFC 9396:
// authorization_details), kept apart so that tokens without them cost
// nothing more to verify and cache.
type extClaims struct {
	acr      string
	amr      []string
	authTime time.Time
	details  []AuthorizationDetail
}

// size estimates the bytes that e holds beyond the token's payload, for the
// token cache's byte bound: parsed strings are copies, and a list of short
// strings takes more memory than its JSON.
func (e *extClaims) size() int {
	if e == nil {
		return 0
	}
	n := int(unsafe.Sizeof(*e)) + len(e.acr) + stringsSize(e.amr)
	for _, d := range e.details {
		n += int(unsafe.Sizeof(d)) + len(d.Type) + len(d.Identifier) +
			stringsSize(d.Locations) + stringsSize(d.Actions) + stringsSize(d.Datatypes) + stringsSize(d.Privileges)
	}
	return n
}

func stringsSize(list []string) int {
	n := int(unsafe.Sizeof("")) * len(list)
	for _, s := range list {
		n += len(s)
	}
	return n
}

// Confirmation is the token's cnf claim (RFC 7800): the key or certificate
// the token is bound to. A cnf that holds neither of these two members (only
// jwk, kid, jku, or nothing) names a binding this package cannot prove, and
// the token is refused with [ErrUnsupportedBinding]; other members beside
// one of these two are ignored.
type Confirmation struct {
	// JKT is the RFC 7638 thumbprint of the DPoP key (RFC 9449 §6).
	JKT string
	// X5TS256 is the SHA-256 thumbprint of the client certificate
	// (RFC 8705 §3.1).
	X5TS256 string
}

// Bound reports whether the token is sender-constrained in any way.
func (c Confirmation) Bound() bool { return c.JKT != "" || c.X5TS256 != "" }

// Issuer returns iss.
func (c *Claims) Issuer() string { return c.issuer }

// Subject returns sub.
func (c *Claims) Subject() string { return c.subject }

// ID returns jti.
func (c *Claims) ID() string { return c.id }

// ClientID returns client_id (RFC 9068), or Auth0's azp when client_id is
// absent.
func (c *Claims) ClientID() string { return c.clientID }

// Audience returns a copy of aud.
func (c *Claims) Audience() []string { return slices.Clone(c.audience) }

// ExpiresAt returns exp.
func (c *Claims) ExpiresAt() time.Time { return c.expiresAt }

// NotBefore returns nbf, or the zero time.
func (c *Claims) NotBefore() time.Time { return c.notBefore }

// IssuedAt returns iat, or the zero time.
func (c *Claims) IssuedAt() time.Time { return c.issued }

// Scopes returns a copy of the scope claim split on the space character
// (%x20, RFC 6749 §3.3) alone, without empty elements: a tab or a no-break
// space is part of a scope, never a separator.
func (c *Claims) Scopes() []string { return slices.Clone(c.scopes) }

// HasScope reports whether scope is among the token's scopes.
func (c *Claims) HasScope(scope string) bool { return slices.Contains(c.scopes, scope) }

// Permissions returns a copy of Auth0's RBAC permissions claim.
func (c *Claims) Permissions() []string { return slices.Clone(c.permissions) }

// HasPermission reports whether permission is among Auth0's permissions.
func (c *Claims) HasPermission(permission string) bool {
	return slices.Contains(c.permissions, permission)
}

// Confirmation returns the token's cnf binding.
func (c *Claims) Confirmation() Confirmation { return c.cnf }

// Raw returns a copy of the token's JSON payload.
func (c *Claims) Raw() []byte { return slices.Clone(c.raw) }

// Decode unmarshals the token's JSON payload into v, for custom claims.
//
// Member names must match v's field names exactly, as for the claims above:
// a member that matches a field only when case is ignored, or one given
// twice, fails (encoding/json would fold case and keep the last). On top of
// that, verification already refused a payload in which any object, at any
// depth, holds two member names equal under encoding/json's case folding
// ("sub" and "SUB"), or a top-level case variant of a claim this package
// reads ("Sub", "Exp", "Cnf"): whatever an application decodes agrees with
// what was verified.
func (c *Claims) Decode(v any) error { return jsonobj.Decode(c.raw, v) }

// payload is the wire form of the claims, read once per token by
// parsePayload with exact, case-sensitive member names.
type payload struct {
	Issuer      string
	Subject     string
	Audience    audience
	ExpiresAt   *numericDate
	NotBefore   *numericDate
	IssuedAt    *numericDate
	ID          string
	Scope       string
	Permissions []string
	ClientID    string
	AZP         string
	Cnf         *confirmationJSON
	Ext         *extClaims
}

// ext returns p.Ext, allocated on first use.
func (p *payload) ext() *extClaims {
	if p.Ext == nil {
		p.Ext = &extClaims{}
	}
	return p.Ext
}

type confirmationJSON struct {
	JKT     *string
	X5TS256 *string
}

// parsePayload reads the claims this package uses. Every claim it knows must
// have its JSON type, a known claim may appear only once, and names match
// exactly (RFC 7519 §4: "Exp" is not "exp"). Other claims are left for
// [Claims.Decode].
func parsePayload(data []byte) (payload, error) {
	var p payload
	var seen uint32
	err := jsonobj.Members(data, func(name string, v []byte) error {
		var bit uint32
		ok := true
		switch name {
		case "iss":
			bit = 1 << 0
			p.Issuer, ok = jsonobj.String(v)
		case "sub":
			bit = 1 << 1
			p.Subject, ok = jsonobj.String(v)
		case "aud":
			bit = 1 << 2
			ok = p.Audience.UnmarshalJSON(v) == nil
		case "exp":
			bit = 1 << 3
			p.ExpiresAt, ok = parseNumericDate(v)
		case "nbf":
			bit = 1 << 4
			p.NotBefore, ok = parseNumericDate(v)
		case "iat":
			bit = 1 << 5
			p.IssuedAt, ok = parseNumericDate(v)
		case "jti":
			bit = 1 << 6
			p.ID, ok = jsonobj.String(v)
		case "scope":
			bit = 1 << 7
			p.Scope, ok = jsonobj.String(v)
		case "permissions":
			bit = 1 << 8
			ok = v[0] == '[' && json.Unmarshal(v, &p.Permissions) == nil
		case "client_id":
			bit = 1 << 9
			p.ClientID, ok = jsonobj.String(v)
		case "azp":
			bit = 1 << 10
			p.AZP, ok = jsonobj.String(v)
		case "cnf":
			bit = 1 << 11
			p.Cnf, ok = parseConfirmation(v)
		case "acr": // RFC 9470 §6.1 (RFC 9068 §2.2.1)
			bit = 1 << 12
			p.ext().acr, ok = jsonobj.String(v)
		case "amr":
			bit = 1 << 13
			p.ext().amr, ok = jsonobj.Strings(v)
		case "auth_time":
			bit = 1 << 14
			var d *numericDate
			if d, ok = parseNumericDate(v); ok {
				p.ext().authTime = d.Time
			}
		case "authorization_details": // RFC 9396 §9.1
			bit = 1 << 15
			p.ext().details, ok = parseAuthorizationDetails(v)
		default:
			return nil
		}
		if !ok || seen&bit != 0 {
			return ErrClaims
		}
		seen |= bit
		return nil
	})
	if err != nil {
		return payload{}, ErrClaims
	}
	return p, nil
}

// parseConfirmation reads cnf (RFC 7800): an object whose jkt and x5t#S256
// members, when present, are strings. Other members are ignored, except
// case variants of these two ("JKT"), which are refused.
func parseConfirmation(v []byte) (*confirmationJSON, bool) {
	if v[0] != '{' {
		return nil, false
	}
	var c confirmationJSON
	err := jsonobj.Members(v, func(name string, v []byte) error {
		var dst **string
		switch name {
		case "jkt":
			dst = &c.JKT
		case "x5t#S256":
			dst = &c.X5TS256
		default:
			if strings.EqualFold(name, "jkt") || strings.EqualFold(name, "x5t#S256") {
				return ErrClaims
			}
			return nil
		}
		s, ok := jsonobj.String(v)
		if !ok || *dst != nil {
			return ErrClaims
		}
		*dst = &s
		return nil
	})
	return &c, err == nil
}

// jwt.Claims, so golang-jwt's Validator checks the registered claims.
func (p *payload) GetExpirationTime() (*jwt.NumericDate, error) { return p.ExpiresAt.jwt(), nil }
func (p *payload) GetIssuedAt() (*jwt.NumericDate, error)       { return p.IssuedAt.jwt(), nil }
func (p *payload) GetNotBefore() (*jwt.NumericDate, error)      { return p.NotBefore.jwt(), nil }
func (p *payload) GetIssuer() (string, error)                   { return p.Issuer, nil }
func (p *payload) GetSubject() (string, error)                  { return p.Subject, nil }
func (p *payload) GetAudience() (jwt.ClaimStrings, error)       { return jwt.ClaimStrings(p.Audience), nil }

// audience is aud: one string or an array of strings (RFC 7519 §4.1.3).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if s, ok := jsonobj.String(b); ok {
		*a = audience{s}
		return nil
	}
	if b[0] != '[' {
		return ErrClaims
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return ErrClaims
	}
	*a = list
	return nil
}

// numericDate is an RFC 7519 NumericDate: a JSON number of seconds. Unlike
// jwt.NumericDate it refuses strings ("exp": "9999999999"), negative values
// and values past the year 9999 (1e300 would otherwise mean "never
// expires").
type numericDate struct{ jwt.NumericDate }

// maxNumericDate is 9999-12-31T23:59:59Z.
const maxNumericDate = 253402300799

func parseNumericDate(b []byte) (*numericDate, bool) {
	f, ok := jsonobj.Number(b)
	if !ok || f < 0 || f > maxNumericDate {
		return nil, false
	}
	sec, frac := math.Modf(f)
	d := &numericDate{}
	d.NumericDate.Time = time.Unix(int64(sec), int64(frac*1e9))
	return d, true
}

func (d *numericDate) jwt() *jwt.NumericDate {
	if d == nil {
		return nil
	}
	return &d.NumericDate
}

// claims turns the verified payload into Claims; raw is kept for Decode.
func (p *payload) claims(raw []byte) (*Claims, error) {
	c := &Claims{
		issuer:      p.Issuer,
		subject:     p.Subject,
		id:          p.ID,
		clientID:    p.ClientID,
		audience:    p.Audience,
		scopes:      splitScopes(p.Scope),
		permissions: p.Permissions,
		ext:         p.Ext,
		raw:         raw,
	}
	if c.clientID == "" {
		c.clientID = p.AZP
	}
	if p.ExpiresAt != nil {
		c.expiresAt = p.ExpiresAt.Time
	}
	if p.NotBefore != nil {
		c.notBefore = p.NotBefore.Time
	}
	if p.IssuedAt != nil {
		c.issued = p.IssuedAt.Time
	}
	if p.Cnf != nil {
		// A cnf that names no method this package verifies (RFC 7800 jwk,
		// kid, jku, or an empty object) must not read as "not bound".
		if p.Cnf.JKT == nil && p.Cnf.X5TS256 == nil {
			return nil, ErrUnsupportedBinding
		}
		// A cnf member that is present must be a usable value: an empty
		// thumbprint would otherwise read as "not bound".
		if p.Cnf.JKT != nil {
			if !thumbprintSyntax(*p.Cnf.JKT) {
				return nil, ErrClaims
			}
			c.cnf.JKT = *p.Cnf.JKT
		}
		if p.Cnf.X5TS256 != nil {
			if !thumbprintSyntax(*p.Cnf.X5TS256) {
				return nil, ErrClaims
			}
			c.cnf.X5TS256 = *p.Cnf.X5TS256
		}
	}
	return c, nil
}

// splitScopes splits a scope claim on the space character alone (RFC 6749
// §3.3: scope = scope-token *( SP scope-token )), skipping empty elements
// that doubled, leading or trailing spaces leave.
func splitScopes(s string) []string {
	out := make([]string, 0, strings.Count(s, " ")+1)
	for s != "" {
		var scope string
		scope, s, _ = strings.Cut(s, " ")
		if scope != "" {
			out = append(out, scope)
		}
	}
	return out
}

// thumbprintSyntax reports whether s is an unpadded base64url SHA-256
// digest: 43 characters of the base64url alphabet. Padded or standard-base64
// forms are refused rather than normalised, so they can never match.
func thumbprintSyntax(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
