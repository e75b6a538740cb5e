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

// detailTable reads one authorization detail: type is required, and the
// common fields of RFC 9396 §2.2 have their JSON types. Strings share the
// token payload's memory, which the Claims keep unmodified.
var detailTable = jsonobj.NewTable(jsonobj.IgnoreUnknown,
	detailMember("type", func(d *AuthorizationDetail, v []byte) (ok bool) { d.Type, ok = jsonobj.StringView(v); return }),
	detailMember("locations", func(d *AuthorizationDetail, v []byte) (ok bool) { d.Locations, ok = stringsView(v); return }),
	detailMember("actions", func(d *AuthorizationDetail, v []byte) (ok bool) { d.Actions, ok = stringsView(v); return }),
	detailMember("datatypes", func(d *AuthorizationDetail, v []byte) (ok bool) { d.Datatypes, ok = stringsView(v); return }),
	detailMember("identifier", func(d *AuthorizationDetail, v []byte) (ok bool) { d.Identifier, ok = jsonobj.StringView(v); return }),
	detailMember("privileges", func(d *AuthorizationDetail, v []byte) (ok bool) { d.Privileges, ok = stringsView(v); return }),
)

func detailMember(name string, read func(*AuthorizationDetail, []byte) bool) jsonobj.Member[AuthorizationDetail] {
	return jsonobj.Member[AuthorizationDetail]{Name: name, Read: read, Required: name == "type"}
}

func parseAuthorizationDetail(v []byte) (AuthorizationDetail, bool) {
	d := AuthorizationDetail{raw: v}
	if v[0] != '{' {
		return d, false
	}
	_, err := detailTable.Read(v, &d)
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
