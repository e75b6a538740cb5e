package middleware

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
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
	raw                           []byte
}

// Confirmation is the token's cnf claim (RFC 7800): the key or certificate
// the token is bound to. Members other than these two are ignored.
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

// Scopes returns a copy of the space-separated scope claim, split.
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
func (c *Claims) Decode(v any) error { return json.Unmarshal(c.raw, v) }

// payload is the wire form of the claims, decoded once per token. Every
// member has a concrete type: a claim of the wrong JSON type fails decoding.
type payload struct {
	Issuer      string            `json:"iss"`
	Subject     string            `json:"sub"`
	Audience    audience          `json:"aud"`
	ExpiresAt   *numericDate      `json:"exp"`
	NotBefore   *numericDate      `json:"nbf"`
	IssuedAt    *numericDate      `json:"iat"`
	ID          string            `json:"jti"`
	Scope       string            `json:"scope"`
	Permissions []string          `json:"permissions"`
	ClientID    string            `json:"client_id"`
	AZP         string            `json:"azp"`
	Cnf         *confirmationJSON `json:"cnf"`
}

type confirmationJSON struct {
	JKT     *string `json:"jkt"`
	X5TS256 *string `json:"x5t#S256"`
}

// jwt.Claims, so golang-jwt's Validator checks the registered claims.
func (p *payload) GetExpirationTime() (*jwt.NumericDate, error) { return p.ExpiresAt.jwt(), nil }
func (p *payload) GetIssuedAt() (*jwt.NumericDate, error)       { return p.IssuedAt.jwt(), nil }
func (p *payload) GetNotBefore() (*jwt.NumericDate, error)      { return p.NotBefore.jwt(), nil }
func (p *payload) GetIssuer() (string, error)                   { return p.Issuer, nil }
func (p *payload) GetSubject() (string, error)                  { return p.Subject, nil }
func (p *payload) GetAudience() (jwt.ClaimStrings, error)       { return jwt.ClaimStrings(p.Audience), nil }

// audience is aud: one string or an array of strings (RFC 7519 §4.1.3),
// decoded without going through []any.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return ErrClaims
	}
	*a = list
	return nil
}

// numericDate is an RFC 7519 NumericDate: a JSON number of seconds. Unlike
// jwt.NumericDate it refuses strings ("exp": "9999999999") and values
// outside years 0001-9999 (1e300 would otherwise mean "never expires").
type numericDate struct{ jwt.NumericDate }

// maxNumericDate is 9999-12-31T23:59:59Z.
const maxNumericDate = 253402300799

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || !(b[0] == '-' || b[0] >= '0' && b[0] <= '9') {
		return ErrClaims
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 || f > maxNumericDate {
		return ErrClaims
	}
	sec, frac := math.Modf(f)
	d.NumericDate.Time = time.Unix(int64(sec), int64(frac*1e9))
	return nil
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
		scopes:      strings.Fields(p.Scope),
		permissions: p.Permissions,
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
