package middleware

import (
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
	Audience    []string
	ExpiresAt   numericDate
	NotBefore   numericDate
	IssuedAt    numericDate
	ID          string
	Scope       string
	Permissions []string
	ClientID    string
	AZP         string
	Cnf         confirmationJSON // Cnf.present says whether the token has cnf
	Ext         *extClaims
}

// ext returns p.Ext, allocated on first use.
func (p *payload) ext() *extClaims {
	if p.Ext == nil {
		p.Ext = &extClaims{}
	}
	return p.Ext
}

// confirmationJSON is cnf as read: each member with whether it was present.
type confirmationJSON struct {
	present         bool
	JKT, X5TS256    string
	hasJKT, hasX5TS bool
}

// payloadTable reads the claims this package uses. Every claim it knows
// must have its JSON type, a known claim may appear only once, and names
// match exactly (RFC 7519 §4: "Exp" is not "exp"). Other claims are left for
// [Claims.Decode]. Strings share the payload's memory, which the Claims keep
// unmodified (raw).
var payloadTable = jsonobj.NewTable(jsonobj.IgnoreUnknown,
	claim("iss", func(p *payload, v []byte) (ok bool) { p.Issuer, ok = jsonobj.StringView(v); return }),
	claim("sub", func(p *payload, v []byte) (ok bool) { p.Subject, ok = jsonobj.StringView(v); return }),
	claim("aud", func(p *payload, v []byte) (ok bool) { p.Audience, ok = parseAudience(v); return }),
	claim("exp", func(p *payload, v []byte) bool { return p.ExpiresAt.parse(v) }),
	claim("nbf", func(p *payload, v []byte) bool { return p.NotBefore.parse(v) }),
	claim("iat", func(p *payload, v []byte) bool { return p.IssuedAt.parse(v) }),
	claim("jti", func(p *payload, v []byte) (ok bool) { p.ID, ok = jsonobj.StringView(v); return }),
	claim("scope", func(p *payload, v []byte) (ok bool) { p.Scope, ok = jsonobj.StringView(v); return }),
	claim("permissions", func(p *payload, v []byte) (ok bool) { p.Permissions, ok = stringsView(v); return }),
	claim("client_id", func(p *payload, v []byte) (ok bool) { p.ClientID, ok = jsonobj.StringView(v); return }),
	claim("azp", func(p *payload, v []byte) (ok bool) { p.AZP, ok = jsonobj.StringView(v); return }),
	claim("cnf", func(p *payload, v []byte) bool { return p.Cnf.parse(v) }),
	// RFC 9470 §6.1 (RFC 9068 §2.2.1)
	claim("acr", func(p *payload, v []byte) (ok bool) { p.ext().acr, ok = jsonobj.StringView(v); return }),
	claim("amr", func(p *payload, v []byte) (ok bool) { p.ext().amr, ok = stringsView(v); return }),
	claim("auth_time", func(p *payload, v []byte) bool {
		var d numericDate
		if !d.parse(v) {
			return false
		}
		p.ext().authTime = d.Time
		return true
	}),
	// RFC 9396 §9.1
	claim("authorization_details", func(p *payload, v []byte) (ok bool) {
		p.ext().details, ok = parseAuthorizationDetails(v)
		return
	}),
)

func claim(name string, read func(*payload, []byte) bool) jsonobj.Member[payload] {
	return jsonobj.Member[payload]{Name: name, Read: read}
}

// parsePayload reads a token's claims with payloadTable.
func parsePayload(data []byte) (payload, error) {
	var p payload
	if _, err := payloadTable.Read(data, &p); err != nil {
		return payload{}, ErrClaims
	}
	return p, nil
}

// stringsView reads a JSON array of strings, sharing v's memory (see
// jsonobj.StringView). v is a member value that a table's Read received,
// already validated with its object.
func stringsView(v []byte) ([]string, bool) {
	if len(v) == 0 || v[0] != '[' {
		return nil, false
	}
	list := []string{}
	err := jsonobj.MemberElements(v, func(e []byte) error {
		s, ok := jsonobj.StringView(e)
		if !ok {
			return ErrClaims
		}
		list = append(list, s)
		return nil
	})
	return list, err == nil
}

// confirmationTable reads cnf (RFC 7800): an object whose jkt and x5t#S256
// members, when present, are strings. Other members are ignored, except
// case variants of these two ("JKT"), which are refused.
var confirmationTable = jsonobj.NewTable(jsonobj.RejectCaseVariants,
	jsonobj.Member[confirmationJSON]{Name: "jkt", Read: func(c *confirmationJSON, v []byte) (ok bool) {
		c.JKT, ok = jsonobj.StringView(v)
		c.hasJKT = true
		return
	}},
	jsonobj.Member[confirmationJSON]{Name: "x5t#S256", Read: func(c *confirmationJSON, v []byte) (ok bool) {
		c.X5TS256, ok = jsonobj.StringView(v)
		c.hasX5TS = true
		return
	}},
)

func (c *confirmationJSON) parse(v []byte) bool {
	if v[0] != '{' {
		return false
	}
	c.present = true
	_, err := confirmationTable.ReadMember(v, c) // validated with the payload
	return err == nil
}

// jwt.Claims, so golang-jwt's Validator checks the registered claims.
func (p *payload) GetExpirationTime() (*jwt.NumericDate, error) { return p.ExpiresAt.jwt(), nil }
func (p *payload) GetIssuedAt() (*jwt.NumericDate, error)       { return p.IssuedAt.jwt(), nil }
func (p *payload) GetNotBefore() (*jwt.NumericDate, error)      { return p.NotBefore.jwt(), nil }
func (p *payload) GetIssuer() (string, error)                   { return p.Issuer, nil }
func (p *payload) GetSubject() (string, error)                  { return p.Subject, nil }
func (p *payload) GetAudience() (jwt.ClaimStrings, error)       { return jwt.ClaimStrings(p.Audience), nil }

// parseAudience reads aud: one string or an array of strings (RFC 7519
// §4.1.3).
func parseAudience(b []byte) ([]string, bool) {
	if s, ok := jsonobj.StringView(b); ok {
		return []string{s}, true
	}
	return stringsView(b)
}

// numericDate is an RFC 7519 NumericDate: a JSON number of seconds. Unlike
// jwt.NumericDate it refuses strings ("exp": "9999999999"), negative values
// and values past the year 9999 (1e300 would otherwise mean "never
// expires"). It is kept by value in payload (set says it was present), so
// reading one allocates nothing.
type numericDate struct {
	jwt.NumericDate
	set bool
}

// maxNumericDate is 9999-12-31T23:59:59Z.
const maxNumericDate = 253402300799

func (d *numericDate) parse(b []byte) bool {
	f, ok := jsonobj.Number(b)
	if !ok || f < 0 || f > maxNumericDate {
		return false
	}
	sec, frac := math.Modf(f)
	d.NumericDate.Time = time.Unix(int64(sec), int64(frac*1e9))
	d.set = true
	return true
}

// jwt returns d for golang-jwt's Validator, or nil when absent. The
// pointer is into the payload, which the Validator does not keep.
func (d *numericDate) jwt() *jwt.NumericDate {
	if !d.set {
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
	if p.ExpiresAt.set {
		c.expiresAt = p.ExpiresAt.Time
	}
	if p.NotBefore.set {
		c.notBefore = p.NotBefore.Time
	}
	if p.IssuedAt.set {
		c.issued = p.IssuedAt.Time
	}
	if cnf := &p.Cnf; cnf.present {
		// A cnf that names no method this package verifies (RFC 7800 jwk,
		// kid, jku, or an empty object) must not read as "not bound".
		if !cnf.hasJKT && !cnf.hasX5TS {
			return nil, ErrUnsupportedBinding
		}
		// A cnf member that is present must be a usable value: an empty
		// thumbprint would otherwise read as "not bound".
		if cnf.hasJKT {
			if !thumbprintSyntax(cnf.JKT) {
				return nil, ErrClaims
			}
			c.cnf.JKT = cnf.JKT
		}
		if cnf.hasX5TS {
			if !thumbprintSyntax(cnf.X5TS256) {
				return nil, ErrClaims
			}
			c.cnf.X5TS256 = cnf.X5TS256
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
