package middleware

import (
	"errors"
	"slices"

	"github.com/senderbound/senderbound/internal/jsonobj"
)

// ErrAuthorizationDetails means that no authorization detail of the token
// grants the request ([Details]).
var ErrAuthorizationDetails = errors.New("middleware: no authorization detail grants the request")

// AuthorizationDetail is one element of the token's authorization_details
// claim (RFC 9396 §2, carried in a JWT access token as §9.1 says): its type,
// the common fields of §2.2, and the whole object for the members that its
// type defines, read with [AuthorizationDetail.Decode].
//
// The values that [Claims.AuthorizationDetails] returns and that a
// [Details] match function receives are copies: changing them changes
// nothing else.
type AuthorizationDetail struct {
	// Type is the type member, which RFC 9396 §2 requires: a token whose
	// authorization_details has an element without a string type is
	// refused as invalid.
	Type string
	// Locations, Actions, Datatypes, Identifier and Privileges are the
	// common fields of RFC 9396 §2.2; absent ones are nil or empty.
	Locations  []string
	Actions    []string
	Datatypes  []string
	Identifier string
	Privileges []string

	raw []byte // the JSON object, shared with the claims' payload
}

// Raw returns a copy of the detail's JSON object.
func (d AuthorizationDetail) Raw() []byte { return slices.Clone(d.raw) }

// Decode unmarshals the detail's JSON object into v, the application's
// type for this detail type. Member names must match v's field names
// exactly (json tags included), as for every claim: a member that matches a
// field only when case is ignored, or one given twice, fails.
func (d AuthorizationDetail) Decode(v any) error { return jsonobj.Decode(d.raw, v) }

// clone returns d with its own slices.
func (d AuthorizationDetail) clone() AuthorizationDetail {
	d.Locations = slices.Clone(d.Locations)
	d.Actions = slices.Clone(d.Actions)
	d.Datatypes = slices.Clone(d.Datatypes)
	d.Privileges = slices.Clone(d.Privileges)
	return d
}

// AuthorizationDetails returns copies of the token's authorization_details
// (RFC 9396 §9.1), in the token's order; nil when the claim is absent.
func (c *Claims) AuthorizationDetails() []AuthorizationDetail {
	if c.ext == nil || c.ext.details == nil {
		return nil
	}
	out := make([]AuthorizationDetail, len(c.ext.details))
	for i, d := range c.ext.details {
		out[i] = d.clone()
	}
	return out
}

// parseAuthorizationDetails reads authorization_details: an array of
// objects, each with a non-empty string type (RFC 9396 §2) and the common
// fields of §2.2, when present, of their JSON types. Any other shape makes
// the token invalid rather than leaving a detail half-read.
func parseAuthorizationDetails(v []byte) ([]AuthorizationDetail, bool) {
	if v[0] != '[' {
		return nil, false
	}
	details := []AuthorizationDetail{}
	err := jsonobj.Elements(v, func(elem []byte) error {
		d, ok := parseAuthorizationDetail(elem)
		if !ok {
			return ErrClaims
		}
		details = append(details, d)
		return nil
	})
	return details, err == nil
}

func parseAuthorizationDetail(v []byte) (AuthorizationDetail, bool) {
	d := AuthorizationDetail{raw: v}
	if v[0] != '{' {
		return d, false
	}
	var seen uint8
	err := jsonobj.Members(v, func(name string, v []byte) error {
		var bit uint8
		ok := true
		switch name {
		case "type":
			bit = 1 << 0
			d.Type, ok = jsonobj.String(v)
		case "locations":
			bit = 1 << 1
			d.Locations, ok = jsonobj.Strings(v)
		case "actions":
			bit = 1 << 2
			d.Actions, ok = jsonobj.Strings(v)
		case "datatypes":
			bit = 1 << 3
			d.Datatypes, ok = jsonobj.Strings(v)
		case "identifier":
			bit = 1 << 4
			d.Identifier, ok = jsonobj.String(v)
		case "privileges":
			bit = 1 << 5
			d.Privileges, ok = jsonobj.Strings(v)
		default:
			return nil
		}
		if !ok || seen&bit != 0 {
			return ErrClaims
		}
		seen |= bit
		return nil
	})
	return d, err == nil && d.Type != ""
}

// Details requires an authorization detail (RFC 9396) of a type that the
// application accepts for this request: the request passes when at least
// one of the token's authorization_details has type Type and satisfies
// Match. Otherwise the answer is 403 insufficient_scope, or Code.
//
// Use it with [Guard.Require] for net/http handlers, or [Guard.Authorize]
// with a token from [Guard.Verify].
type Details struct {
	// Type is the detail type required, compared exactly.
	Type string
	// Match decides whether a detail of that type grants this request, for
	// example whether a money transfer's instructed amount covers it. It
	// receives a copy of each detail of type Type in turn, until one
	// matches. Nil accepts any detail of the type.
	Match func(AuthorizationDetail) bool
	// Code is the error code of a refusal: CodeInsufficientScope (the
	// default, when empty) or CodeInsufficientAuthorizationDetails (a
	// draft; see its documentation). Other codes are answered as
	// CodeInsufficientScope.
	Code ErrorCode
}

func (r Details) check(tok *Token, _ *Guard) *Error {
	var details []AuthorizationDetail
	if ext := tok.Claims.ext; ext != nil {
		details = ext.details
	}
	for _, d := range details {
		if d.Type == r.Type && (r.Match == nil || r.Match(d.clone())) {
			return nil
		}
	}
	code := CodeInsufficientScope
	if r.Code == CodeInsufficientAuthorizationDetails {
		code = r.Code
	}
	return newError(code, "authorization details do not cover the request", ErrAuthorizationDetails)
}
