package main

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/senderbound/senderbound/middleware"
)

// mfaMaxAge is how recent the login behind a token must be on /api/mfa.
const mfaMaxAge = 15 * time.Minute

// mfa serves /api/mfa: a login with multi-factor authentication (Auth0's
// acr value) within the last 15 minutes (auth_time), else the RFC 9470
// step-up challenge 401 insufficient_user_authentication with acr_values
// and max_age.
func mfa(guard *middleware.Guard, next http.Handler) http.Handler {
	return guard.Require(middleware.StepUp{ACRValues: []string{middleware.ACRAuth0MFA}, MaxAge: mfaMaxAge})(next)
}

// transfers serves /api/transfers: the token must carry a money_transfer
// authorization detail (RFC 9396) whose instructedAmount covers the amount
// and currency query parameters (default currency EUR), else 403
// insufficient_scope.
func transfers(guard *middleware.Guard, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := middleware.TokenFromContext(r.Context())
		q := r.URL.Query()
		amount, ok := cents(q.Get("amount"))
		currency := q.Get("currency")
		if currency == "" {
			currency = "EUR"
		}
		covers := func(d middleware.AuthorizationDetail) bool {
			var t struct {
				InstructedAmount struct {
					Currency string `json:"currency"`
					Amount   string `json:"amount"`
				} `json:"instructedAmount"`
			}
			if d.Decode(&t) != nil || t.InstructedAmount.Currency != currency {
				return false
			}
			granted, ok := cents(t.InstructedAmount.Amount)
			return ok && granted >= amount
		}
		if !ok {
			http.Error(w, "amount: want a decimal like 100.00", http.StatusBadRequest)
			return
		}
		if err := guard.Authorize(tok, middleware.Details{Type: "money_transfer", Match: covers}); err != nil {
			guard.WriteError(w, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// cents reads a non-negative decimal amount with at most two decimals
// ("100", "100.5", "100.50") in hundredths.
func cents(s string) (int64, bool) {
	units, frac, dot := strings.Cut(s, ".")
	if units == "" || len(frac) > 2 || (dot && frac == "") || len(units) > 15 {
		return 0, false
	}
	for _, part := range []string{units, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return 0, false
			}
		}
	}
	u, err := strconv.ParseInt(units, 10, 64)
	if err != nil {
		return 0, false
	}
	f, _ := strconv.ParseInt((frac + "00")[:2], 10, 64)
	return u*100 + f, true
}
