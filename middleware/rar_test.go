package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/internal/jsonobj"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// paymentInitiation is RFC 9396 §2's first example, with every common
// field of §2.2.
func paymentInitiation(amount string) map[string]any {
	return map[string]any{
		"type":       "payment_initiation",
		"locations":  []any{"https://example.com/payments"},
		"actions":    []any{"initiate", "status", "cancel"},
		"datatypes":  []any{"payment"},
		"identifier": "pmt-42",
		"privileges": []any{"owner"},
		"instructedAmount": map[string]any{
			"currency": "EUR",
			"amount":   amount,
		},
		"creditorName":    "Merchant A",
		"creditorAccount": map[string]any{"iban": "DE02100100109307118603"},
	}
}

// instructedAmount is the application's own type for the
// payment_initiation members, with RFC 9396's exact names.
type paymentDetail struct {
	InstructedAmount struct {
		Currency string `json:"currency"`
		Amount   string `json:"amount"`
	} `json:"instructedAmount"`
	CreditorName string `json:"creditorName"`
}

func withDetails(details ...any) oauthtest.Token {
	if details == nil {
		details = []any{}
	}
	return oauthtest.Token{Claims: map[string]any{"authorization_details": details}}
}

func TestAuthorizationDetailsTyped(t *testing.T) {
	iss := newIssuer(t)
	g := newGuard(t, iss)
	guardian := map[string]any{
		"type":        "urn:auth0:schemas:authorization-details:v1:user-profile",
		"instruction": "Please approve the request.",
		"properties": map[string]any{
			"email": map[string]any{"display": true, "name": "Email:", "display_order": "1", "value": "ann@example.com"},
		},
	}
	tok := mint(t, iss, withDetails(paymentInitiation("123.50"), guardian))

	check := func(t *testing.T, c *middleware.Claims) {
		details := c.AuthorizationDetails()
		require.Len(t, details, 2)
		d := details[0]
		assert.Equal(t, "payment_initiation", d.Type)
		assert.Equal(t, []string{"https://example.com/payments"}, d.Locations)
		assert.Equal(t, []string{"initiate", "status", "cancel"}, d.Actions)
		assert.Equal(t, []string{"payment"}, d.Datatypes)
		assert.Equal(t, "pmt-42", d.Identifier)
		assert.Equal(t, []string{"owner"}, d.Privileges)
		var p paymentDetail
		require.NoError(t, d.Decode(&p))
		assert.Equal(t, "EUR", p.InstructedAmount.Currency)
		assert.Equal(t, "123.50", p.InstructedAmount.Amount)
		assert.Equal(t, "Merchant A", p.CreditorName)
		assert.JSONEq(t, `{"iban":"DE02100100109307118603"}`, gjson(t, d.Raw(), "creditorAccount"))

		assert.Equal(t, "urn:auth0:schemas:authorization-details:v1:user-profile", details[1].Type)
		assert.Nil(t, details[1].Actions, "absent common fields stay nil")

		// Copies: changing what was returned changes nothing shared.
		details[0].Actions[0] = "changed"
		details[0].Raw()[0] = 'x'
		assert.Equal(t, "initiate", c.AuthorizationDetails()[0].Actions[0])
		assert.Equal(t, byte('{'), c.AuthorizationDetails()[0].Raw()[0])
	}
	t.Run("Check", func(t *testing.T) {
		got, err := g.Check(bearer(tok))
		require.NoError(t, err)
		check(t, got.Claims)
	})
	t.Run("Verify", func(t *testing.T) {
		got, err := g.Verify(context.Background(), middleware.Request{Scheme: "Bearer", Token: tok})
		require.NoError(t, err)
		check(t, got.Claims)
	})
	t.Run("cached token carries its details", func(t *testing.T) {
		for range 2 {
			got, err := g.Check(bearer(tok))
			require.NoError(t, err)
			check(t, got.Claims)
		}
	})
	t.Run("absent claim", func(t *testing.T) {
		got, err := g.Check(bearer(mint(t, iss, oauthtest.Token{})))
		require.NoError(t, err)
		assert.Nil(t, got.Claims.AuthorizationDetails())
	})
	t.Run("empty array", func(t *testing.T) {
		got, err := g.Check(bearer(mint(t, iss, withDetails())))
		require.NoError(t, err)
		assert.Empty(t, got.Claims.AuthorizationDetails())
	})
}

// gjson returns the raw JSON of one member of obj.
func gjson(t *testing.T, obj []byte, name string) string {
	t.Helper()
	var out string
	require.NoError(t, jsonobj.Members(obj, func(n string, v []byte) error {
		if n == name {
			out = string(v)
		}
		return nil
	}))
	return out
}

// TestAuthorizationDetailsExactNames: member names are case-sensitive, in
// the common fields the middleware reads and in the application's struct.
func TestAuthorizationDetailsExactNames(t *testing.T) {
	iss := newIssuer(t)
	g := newGuard(t, iss)

	// Two names equal under case folding in one object: encoding/json
	// would fold them into one field, so verification refuses the token
	// (TestDecodeAgreesWithVerification) before anyone can read either.
	d := paymentInitiation("10.00")
	d["Actions"] = []any{"everything"} // beside "actions"
	_, err := g.Check(bearer(mint(t, iss, withDetails(d))))
	require.ErrorIs(t, err, middleware.ErrClaims)

	d = paymentInitiation("10.00")
	d["InstructedAmount"] = map[string]any{"currency": "EUR", "amount": "1000000.00"}
	_, err = g.Check(bearer(mint(t, iss, withDetails(d))))
	require.ErrorIs(t, err, middleware.ErrClaims)

	// A lone case variant is not the common field.
	d = paymentInitiation("10.00")
	delete(d, "actions")
	d["Actions"] = []any{"everything"}
	got, err := g.Check(bearer(mint(t, iss, withDetails(d))))
	require.NoError(t, err)
	assert.Nil(t, got.Claims.AuthorizationDetails()[0].Actions)
	var p paymentDetail

	d = paymentInitiation("10.00")
	d["instructedAmount"] = map[string]any{"currency": "EUR", "AMOUNT": "1000000.00"}
	got, err = g.Check(bearer(mint(t, iss, withDetails(d))))
	require.NoError(t, err)
	require.ErrorIs(t, got.Claims.AuthorizationDetails()[0].Decode(&p), jsonobj.ErrNameCase, "nested structs too")

	// The same rule for the rest of the claims.
	got, err = g.Check(bearer(mint(t, iss, oauthtest.Token{Claims: map[string]any{"Tenant": "evil"}})))
	require.NoError(t, err)
	var custom struct {
		Tenant string `json:"tenant"`
	}
	require.ErrorIs(t, got.Claims.Decode(&custom), jsonobj.ErrNameCase)
}

// TestAuthorizationDetailsMalformed: RFC 9396 §2 requires an array of
// objects with a string type; anything else refuses the token (401).
func TestAuthorizationDetailsMalformed(t *testing.T) {
	iss := newIssuer(t)
	g := newGuard(t, iss)
	with := func(name string, v any) map[string]any {
		d := paymentInitiation("1.00")
		if v == nil {
			delete(d, name)
		} else {
			d[name] = v
		}
		return d
	}
	for _, tc := range []struct {
		name  string
		claim any
	}{
		{"an object, not an array", paymentInitiation("1.00")},
		{"a string", "payment_initiation"},
		{"null", []any(nil)},
		{"an element that is a string", []any{"payment_initiation"}},
		{"an element that is null", []any{nil}},
		{"an element that is an array", []any{[]any{}}},
		{"no type", []any{with("type", nil)}},
		{"type only in another case", []any{with("type", nil), map[string]any{"Type": "payment_initiation"}}},
		{"type a number", []any{with("type", 42)}},
		{"type empty", []any{with("type", "")}},
		{"type null", []any{map[string]any{"type": nil}}},
		{"locations a string", []any{with("locations", "https://example.com")}},
		{"actions with a number", []any{with("actions", []any{"read", 1})}},
		{"datatypes an object", []any{with("datatypes", map[string]any{})}},
		{"identifier an array", []any{with("identifier", []any{"a"})}},
		{"privileges a string", []any{with("privileges", "admin")}},
		{"one good, one bad", []any{paymentInitiation("1.00"), with("type", false)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := mint(t, iss, oauthtest.Token{Claims: map[string]any{"authorization_details": tc.claim}})
			_, err := g.Check(bearer(tok))
			require.ErrorIs(t, err, middleware.ErrClaims)
			a := serve(g, bearer(tok))
			assert.Equal(t, http.StatusUnauthorized, a.status)
			assert.Contains(t, a.challenge[0], `error="invalid_token"`)
		})
	}
}

// covers is the application's predicate: a money transfer whose instructed
// amount (in cents, for the test) covers the request's.
func covers(cents int) func(middleware.AuthorizationDetail) bool {
	return func(d middleware.AuthorizationDetail) bool {
		var m struct {
			InstructedAmount struct {
				Currency string `json:"currency"`
				Cents    int    `json:"cents"`
			} `json:"instructedAmount"`
		}
		return d.Decode(&m) == nil && m.InstructedAmount.Currency == "EUR" && m.InstructedAmount.Cents >= cents
	}
}

func transfer(cents int) map[string]any {
	return map[string]any{
		"type":             "money_transfer",
		"actions":          []any{"initiate"},
		"instructedAmount": map[string]any{"currency": "EUR", "cents": cents},
	}
}

func TestDetailsRequirement(t *testing.T) {
	iss := newIssuer(t)
	g := newGuard(t, iss, middleware.WithPublicURL("https://api.example.com"))
	client := newSigner(t)
	want := middleware.Details{Type: "money_transfer", Match: covers(10_000)}
	srv := httptest.NewServer(g.Handler(g.Require(want)(ok200)))
	defer srv.Close()

	for _, tc := range []struct {
		name   string
		tok    oauthtest.Token
		status int
	}{
		{"a transfer that covers the request", withDetails(transfer(25_000)), 200},
		{"the second detail covers it", withDetails(transfer(500), transfer(10_000)), 200},
		{"a transfer too small", withDetails(transfer(9_999)), 403},
		{"only another type", withDetails(paymentInitiation("1000.00")), 403},
		{"no authorization_details", oauthtest.Token{Scope: "transfer"}, 403},
		{"an empty array", withDetails(), 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := mint(t, iss, tc.tok)
			resp := get(t, srv.URL, "Bearer "+tok, "")
			assert.Equal(t, tc.status, resp.StatusCode)
			if tc.status == 403 {
				ch := challenges(t, resp.Header)
				assert.Equal(t, "insufficient_scope", ch["Bearer"]["error"])
				assert.NotContains(t, ch["Bearer"], "scope", "no scope would help")
			}

			// The same through Verify and Authorize.
			vt, err := g.Verify(context.Background(), middleware.Request{Scheme: "Bearer", Token: tok})
			require.NoError(t, err)
			err = g.Authorize(vt, want)
			if tc.status == 200 {
				require.NoError(t, err)
				return
			}
			var e *middleware.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, http.StatusForbidden, e.Status)
			assert.Equal(t, middleware.CodeInsufficientScope, e.Code)
			require.ErrorIs(t, err, middleware.ErrAuthorizationDetails)
		})
	}

	t.Run("draft error code", func(t *testing.T) {
		g := newGuard(t, iss)
		draft := want
		draft.Code = middleware.CodeInsufficientAuthorizationDetails
		srv := httptest.NewServer(g.Handler(g.Require(draft)(ok200)))
		defer srv.Close()
		resp := get(t, srv.URL, "Bearer "+mint(t, iss, withDetails(transfer(1))), "")
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		assert.Equal(t, "insufficient_authorization_details", challenges(t, resp.Header)["Bearer"]["error"])
	})
	t.Run("nil Match accepts any detail of the type", func(t *testing.T) {
		vt, err := g.Check(bearer(mint(t, iss, withDetails(transfer(1)))))
		require.NoError(t, err)
		require.NoError(t, g.Authorize(vt, middleware.Details{Type: "money_transfer"}))
		require.Error(t, g.Authorize(vt, middleware.Details{Type: "Money_Transfer"}), "types compare exactly")
	})
	t.Run("Match cannot change the shared claims", func(t *testing.T) {
		vt, err := g.Check(bearer(mint(t, iss, withDetails(transfer(1)))))
		require.NoError(t, err)
		meddle := middleware.Details{Type: "money_transfer", Match: func(d middleware.AuthorizationDetail) bool {
			d.Actions[0] = "meddled"
			return false
		}}
		require.Error(t, g.Authorize(vt, meddle))
		assert.Equal(t, "initiate", vt.Claims.AuthorizationDetails()[0].Actions[0])
	})
	t.Run("DPoP-bound token: the DPoP challenge carries the error", func(t *testing.T) {
		tok := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint(), Claims: map[string]any{
			"authorization_details": []any{transfer(1)},
		}})
		assert.Equal(t, http.StatusOK, serve(g, dpopRequest(t, tok, proof(t, client, "GET", resource, tok, ""))).status)
		w := httptest.NewRecorder()
		r := dpopRequest(t, tok, proof(t, client, "GET", resource, tok, ""))
		g.Handler(g.Require(want)(ok200)).ServeHTTP(w, r)
		assert.Equal(t, http.StatusForbidden, w.Code)
		ch := challenges(t, w.Header())
		assert.Equal(t, "insufficient_scope", ch["DPoP"]["error"])
		assert.NotContains(t, ch["Bearer"], "error")
	})
	t.Run("behind no Handler: no credentials", func(t *testing.T) {
		w := httptest.NewRecorder()
		g.Require(want)(ok200).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		require.ErrorIs(t, g.Authorize(nil, want), middleware.ErrNoCredentials)
	})
}

// get sends one GET with an Authorization header (and a DPoP proof).
func get(t *testing.T, url, authorization, proof string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", authorization)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

// challenges parses the WWW-Authenticate values of h, one challenge per
// value as the Guard writes them, into scheme → parameter → value
// (quoted-string or token, RFC 9110 §11.2).
func challenges(t *testing.T, h http.Header) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, v := range h.Values("WWW-Authenticate") {
		scheme, rest, _ := cutSpace(v)
		params := map[string]string{}
		for rest != "" {
			name, after, ok := cutByte(rest, '=')
			require.True(t, ok, "parameter without '=' in %q", v)
			var val string
			if after != "" && after[0] == '"' {
				i := 1
				for ; i < len(after) && after[i] != '"'; i++ {
					if after[i] == '\\' {
						i++
					}
				}
				require.Less(t, i, len(after), "unterminated quoted string in %q", v)
				val, rest = unquote(t, after[:i+1]), after[i+1:]
			} else {
				val, rest, _ = cutByte(after, ',')
				rest = "," + rest
			}
			params[name] = val
			rest = trimLeft(rest, ", ")
		}
		out[scheme] = params
	}
	return out
}

func cutSpace(s string) (string, string, bool) { return cutByte(s, ' ') }

func cutByte(s string, c byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func trimLeft(s, cutset string) string {
	for s != "" && (s[0] == cutset[0] || s[0] == cutset[1]) {
		s = s[1:]
	}
	return s
}

func unquote(t *testing.T, q string) string {
	t.Helper()
	s, err := strconv.Unquote(q)
	require.NoError(t, err)
	return s
}
