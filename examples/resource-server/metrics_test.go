package main

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/oauthtest"
)

// TestMetricsFlag: with -metrics, GET /metrics serves senderbound's
// request counter and verification histogram in the Prometheus format,
// counting what the API decided, and no token or subject shows in it;
// without the flag there is no /metrics.
func TestMetricsFlag(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	s := start(t, "-issuer", iss.Issuer(), "-metrics")
	base := "http://" + s.addr
	tok := mint(t, iss, oauthtest.Token{Subject: "metrics-user"})
	decodePrivate(t, do(t, plainClient, http.MethodGet, base+"/api/private", bearer(tok)))
	decodePrivate(t, do(t, plainClient, http.MethodGet, base+"/api/private", bearer(tok)))
	expired := mint(t, iss, oauthtest.Token{ExpiresIn: -time.Hour})
	assert.Equal(t, http.StatusUnauthorized, do(t, plainClient, http.MethodGet, base+"/api/private", bearer(expired)).status)

	r := do(t, plainClient, http.MethodGet, base+"/metrics", nil)
	require.Equal(t, http.StatusOK, r.status)
	body := string(r.body)
	requests := map[string]string{}
	for _, line := range strings.Split(body, "\n") {
		if name, rest, ok := strings.Cut(line, "{"); ok && name == "senderbound_requests_total" {
			labels, value, _ := strings.Cut(rest, "} ")
			requests[labels] = value
		}
	}
	var accepted, rejected string
	for labels, v := range requests {
		switch {
		case strings.Contains(labels, `senderbound_outcome="accepted"`):
			accepted = v
		case strings.Contains(labels, `senderbound_outcome="rejected"`) && strings.Contains(labels, `senderbound_reason="expired"`):
			rejected = v
		}
	}
	assert.Equal(t, "2", accepted, "%s", body)
	assert.Equal(t, "1", rejected, "%s", body)
	assert.Contains(t, body, "senderbound_verification_duration_seconds_bucket")
	assert.Contains(t, body, "senderbound_token_cache_lookups_total")
	assert.Contains(t, body, "senderbound_jwks_refreshes_total", "jwks reports its loads to the same observer")
	assert.Contains(t, body, "senderbound_jwks_last_success_age_seconds")
	for _, secret := range []string{"metrics-user", strings.Split(tok, ".")[1], strings.Split(expired, ".")[1]} {
		assert.NotContains(t, body, secret)
	}
	s.stop(t, os.Interrupt)

	off := start(t, "-issuer", iss.Issuer())
	assert.Equal(t, http.StatusNotFound, do(t, plainClient, http.MethodGet, "http://"+off.addr+"/metrics", nil).status)
	off.stop(t, os.Interrupt)
}
