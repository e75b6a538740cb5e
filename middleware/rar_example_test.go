package middleware_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// This example reads rich authorization details (RFC 9396): an Auth0
// Guardian detail, which the Guardian app shows to the user for approval
// (type urn:auth0:schemas:authorization-details:v1:<name>, with instruction
// and properties), and a money_transfer that a payments API checks against
// each request with Details.
func ExampleDetails() {
	iss, _ := oauthtest.NewIssuer() // test-only issuer standing in for an Auth0 tenant
	defer iss.Close()
	keys, err := jwks.New(context.Background(), jwks.WithIssuer(iss.Issuer()))
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	guard, err := middleware.New(keys, middleware.WithAudience(oauthtest.DefaultAudience))
	if err != nil {
		log.Fatal(err)
	}

	// The application's types for its detail types, with exact member names.
	type guardianDetail struct {
		Instruction string `json:"instruction"`
		Properties  map[string]struct {
			Display      bool   `json:"display"`
			Name         string `json:"name"`
			DisplayOrder string `json:"display_order"`
			Value        string `json:"value"`
		} `json:"properties"`
	}
	type moneyTransfer struct {
		InstructedAmount struct {
			Currency string `json:"currency"`
			Amount   string `json:"amount"`
		} `json:"instructedAmount"`
	}

	// POST /transfers moves the amount in its "cents" query parameter: a
	// money_transfer detail must cover it.
	covers := func(r *http.Request) func(middleware.AuthorizationDetail) bool {
		want, _ := strconv.Atoi(r.URL.Query().Get("cents"))
		return func(d middleware.AuthorizationDetail) bool {
			var t moneyTransfer
			if d.Decode(&t) != nil || t.InstructedAmount.Currency != "EUR" {
				return false
			}
			units, frac, _ := strings.Cut(t.InstructedAmount.Amount, ".")
			u, err1 := strconv.Atoi(units)
			f, err2 := strconv.Atoi((frac + "00")[:2])
			return err1 == nil && err2 == nil && want > 0 && u*100+f >= want
		}
	}
	transfer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := middleware.TokenFromContext(r.Context())
		if err := guard.Authorize(tok, middleware.Details{Type: "money_transfer", Match: covers(r)}); err != nil {
			guard.WriteError(w, err)
			return
		}
		for _, d := range tok.Claims.AuthorizationDetails() {
			var g guardianDetail
			if strings.HasPrefix(d.Type, "urn:auth0:schemas:authorization-details:v1:") && d.Decode(&g) == nil {
				fmt.Printf("approved in Guardian: %q, amount %s\n", g.Instruction, g.Properties["amount"].Value)
			}
		}
		fmt.Fprint(w, "transferred")
	})
	h := guard.Handler(transfer)

	tok, _ := iss.Mint(oauthtest.Token{Claims: map[string]any{"authorization_details": []any{
		map[string]any{
			"type":        "urn:auth0:schemas:authorization-details:v1:payment",
			"instruction": "Approve the transfer of 250.00 EUR to Merchant A",
			"properties": map[string]any{
				"amount": map[string]any{"display": true, "name": "Amount:", "display_order": "1", "value": "250.00 EUR"},
			},
		},
		map[string]any{
			"type":             "money_transfer",
			"actions":          []any{"initiate"},
			"instructedAmount": map[string]any{"currency": "EUR", "amount": "250.00"},
		},
	}}})
	for _, cents := range []int{25000, 25001} {
		r := httptest.NewRequest(http.MethodPost, "https://api.example.com/transfers?cents="+strconv.Itoa(cents), nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(strings.TrimSpace(fmt.Sprint(cents, " ", w.Code, " ", w.Header().Get("WWW-Authenticate"))))
	}
	// Output:
	// approved in Guardian: "Approve the transfer of 250.00 EUR to Merchant A", amount 250.00 EUR
	// 25000 200
	// 25001 403 Bearer error="insufficient_scope", error_description="authorization details do not cover the request"
}

// This example requires a login with multi-factor authentication within
// the last ten minutes (RFC 9470). Auth0 sets acr to
// middleware.ACRAuth0MFA (and "mfa" in amr) for such a login; a token that
// does not meet the requirement gets the step-up challenge, which tells the
// client what to ask the authorization server for.
func ExampleStepUp() {
	iss, _ := oauthtest.NewIssuer()
	defer iss.Close()
	keys, err := jwks.New(context.Background(), jwks.WithIssuer(iss.Issuer()))
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	guard, err := middleware.New(keys, middleware.WithAudience(oauthtest.DefaultAudience))
	if err != nil {
		log.Fatal(err)
	}
	mfa := middleware.StepUp{ACRValues: []string{middleware.ACRAuth0MFA}, MaxAge: 10 * time.Minute}
	h := guard.Handler(guard.Require(mfa)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "account closed")
	})))

	now := time.Now()
	for _, claims := range []map[string]any{
		{"acr": middleware.ACRAuth0MFA, "amr": []any{"pwd", "mfa"}, "auth_time": now.Add(-time.Minute).Unix()},
		{"amr": []any{"pwd"}, "auth_time": now.Add(-time.Minute).Unix()},
	} {
		tok, _ := iss.Mint(oauthtest.Token{Claims: claims})
		r := httptest.NewRequest(http.MethodDelete, "https://api.example.com/account", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(strings.TrimSpace(fmt.Sprint(w.Code, " ", w.Header().Get("WWW-Authenticate"))))
	}
	// Output:
	// 200
	// 401 Bearer error="insufficient_user_authentication", error_description="a different authentication level is required", acr_values="http://schemas.openid.net/pape/policies/2007/06/multi-factor", max_age="600"
}

// This example applies the FAPI 2.0 Security Profile's resource-server
// settings with one option, here for DPoP-bound tokens. New refuses any
// option that would weaken them.
func ExampleWithFAPI2() {
	iss, _ := oauthtest.NewIssuer(oauthtest.WithAlgorithm("PS256"))
	defer iss.Close()
	keys, err := jwks.New(context.Background(), jwks.WithIssuer(iss.Issuer()))
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()

	_, err = middleware.New(keys, middleware.WithAudience(oauthtest.DefaultAudience),
		middleware.WithFAPI2(middleware.MechanismDPoP), middleware.WithQueryToken())
	fmt.Println(err)

	guard, err := middleware.New(keys, middleware.WithAudience(oauthtest.DefaultAudience),
		middleware.WithFAPI2(middleware.MechanismDPoP))
	if err != nil {
		log.Fatal(err)
	}
	tok, _ := iss.Mint(oauthtest.Token{}) // a bearer token: not sender-constrained
	r := httptest.NewRequest(http.MethodGet, "https://api.example.com/accounts", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	r.Header.Set("x-fapi-interaction-id", "c770aef3-6784-41f7-8e0e-ff5f97bddb3a")
	w := httptest.NewRecorder()
	guard.Handler(http.NotFoundHandler()).ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("x-fapi-interaction-id"))
	// Output:
	// middleware: WithFAPI2 refuses WithQueryToken: tokens only in the Authorization header (FAPI 2.0 §5.3.4 item 2)
	// 401 c770aef3-6784-41f7-8e0e-ff5f97bddb3a
}
