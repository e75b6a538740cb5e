package main

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// TestRegulatedEndpoints drives /api/transfers (RFC 9396) and /api/mfa
// (RFC 9470) of the running server.
func TestRegulatedEndpoints(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	s := start(t, "-issuer", iss.Issuer())
	base := "http://" + s.addr

	transfer := func(currency, amount string) oauthtest.Token {
		return oauthtest.Token{Subject: "payer", Claims: map[string]any{"authorization_details": []any{
			map[string]any{"type": "payment_initiation", "instructedAmount": map[string]any{"currency": "EUR", "amount": "1000000.00"}},
			map[string]any{"type": "money_transfer", "actions": []any{"initiate"},
				"instructedAmount": map[string]any{"currency": currency, "amount": amount}},
		}}}
	}
	tok := mint(t, iss, transfer("EUR", "250.00"))
	for _, tc := range []struct {
		name   string
		tok    string
		query  string
		status int
	}{
		{"covered", tok, "?amount=250.00", 200},
		{"covered, fewer decimals", tok, "?amount=99.5", 200},
		{"too much", tok, "?amount=250.01", 403},
		{"another currency", tok, "?amount=1&currency=USD", 403},
		{"no money_transfer detail", mint(t, iss, oauthtest.Token{Scope: "read:messages"}), "?amount=1", 403},
		{"USD detail for USD", mint(t, iss, transfer("USD", "5")), "?amount=5.00&currency=USD", 200},
		{"no amount", tok, "", 400},
		{"malformed amount", tok, "?amount=1e3", 400},
	} {
		t.Run("transfers/"+tc.name, func(t *testing.T) {
			r := do(t, plainClient, http.MethodPost, base+"/api/transfers"+tc.query, bearer(tc.tok))
			require.Equal(t, tc.status, r.status, "challenges: %s", r.challenges())
			switch tc.status {
			case 200:
				assert.NotEmpty(t, decodePrivate(t, r).Claims["authorization_details"])
			case 403:
				assert.Contains(t, bearerChallenge(t, r), `error="insufficient_scope"`)
			}
		})
	}
	r := do(t, plainClient, http.MethodPost, base+"/api/transfers?amount=1", nil)
	assert.Equal(t, http.StatusUnauthorized, r.status, "the token is verified first")

	now := time.Now()
	login := func(acr string, at time.Time, jkt string) oauthtest.Token {
		c := map[string]any{"amr": []any{"pwd", "mfa"}}
		if acr != "" {
			c["acr"] = acr
		}
		if !at.IsZero() {
			c["auth_time"] = at.Unix()
		}
		return oauthtest.Token{Subject: "mfa-user", JKT: jkt, Claims: c}
	}
	for _, tc := range []struct {
		name   string
		tok    oauthtest.Token
		status int
	}{
		{"MFA a minute ago", login(middleware.ACRAuth0MFA, now.Add(-time.Minute), ""), 200},
		{"MFA an hour ago", login(middleware.ACRAuth0MFA, now.Add(-time.Hour), ""), 401},
		{"MFA, no auth_time", login(middleware.ACRAuth0MFA, time.Time{}, ""), 401},
		{"password only", login("urn:example:pwd", now, ""), 401},
		{"no acr", login("", now, ""), 401},
	} {
		t.Run("mfa/"+tc.name, func(t *testing.T) {
			r := do(t, plainClient, http.MethodGet, base+"/api/mfa", bearer(mint(t, iss, tc.tok)))
			require.Equal(t, tc.status, r.status)
			if tc.status == 401 {
				ch := bearerChallenge(t, r)
				assert.Contains(t, ch, `error="insufficient_user_authentication"`)
				assert.Contains(t, ch, `acr_values="`+middleware.ACRAuth0MFA+`"`)
				assert.Contains(t, ch, `max_age="900"`)
			}
		})
	}
	t.Run("mfa/DPoP-bound: the DPoP challenge", func(t *testing.T) {
		signer := newSigner(t)
		c := &http.Client{Timeout: 10 * time.Second, Transport: &dpop.Transport{Signer: signer,
			Source: dpop.StaticToken(mint(t, iss, login("urn:example:pwd", now, signer.Thumbprint())))}}
		r := do(t, c, http.MethodGet, base+"/api/mfa", nil)
		require.Equal(t, http.StatusUnauthorized, r.status)
		assert.Contains(t, r.challenges(), `DPoP algs="`)
		assert.Contains(t, r.challenges(), `error="insufficient_user_authentication"`)
		assert.NotContains(t, r.header.Values("WWW-Authenticate")[0], "error=", "not on the Bearer challenge")

		c.Transport.(*dpop.Transport).Source = dpop.StaticToken(mint(t, iss, login(middleware.ACRAuth0MFA, now, signer.Thumbprint())))
		assert.Equal(t, "dpop", decodePrivate(t, do(t, c, http.MethodGet, base+"/api/mfa", nil)).Binding)
	})
	s.stop(t, syscall.SIGTERM)
}

// bearerChallenge returns the Bearer challenge of r.
func bearerChallenge(t *testing.T, r reply) string {
	t.Helper()
	for _, v := range r.header.Values("WWW-Authenticate") {
		if strings.HasPrefix(v, "Bearer ") {
			return v
		}
	}
	t.Fatalf("no Bearer challenge in %q", r.challenges())
	return ""
}
