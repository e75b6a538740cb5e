package middleware_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// TestRejectionLogNeverHoldsTheToken: the log says why, for which issuer
// and key, and never contains the token or the proof.
func TestRejectionLogNeverHoldsTheToken(t *testing.T) {
	iss := newIssuer(t)
	var buf bytes.Buffer
	g := newGuard(t, iss, middleware.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	expired := mint(t, iss, oauthtest.Token{IssuedAt: time.Now().Add(-3 * time.Hour), ExpiresIn: time.Hour})
	client := newSigner(t)
	bound := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint()})
	p := proof(t, client, "POST", resource, bound, "")

	assert.Equal(t, http.StatusUnauthorized, serve(g, bearer(expired)).status)
	assert.Equal(t, http.StatusUnauthorized, serve(g, dpopRequest(t, bound, p)).status)

	out := buf.String()
	assert.Contains(t, out, "token expired")
	assert.Contains(t, out, "issuer="+iss.Issuer())
	assert.Contains(t, out, "kid="+iss.CurrentKeyID())
	for _, secret := range []string{expired, bound, p} {
		for _, part := range strings.Split(secret, ".") {
			assert.NotContains(t, out, part)
		}
	}
}

func TestMetadata(t *testing.T) {
	iss := newIssuer(t)
	g := newGuard(t, iss, middleware.WithProofOfPossession(middleware.MechanismDPoP, true))
	m := g.Metadata("https://api.example.com", []string{iss.Issuer()}, []string{"read:messages"})
	assert.Equal(t, "https://api.example.com", m.Resource)
	assert.True(t, m.DPoPBoundAccessTokensRequired)
	assert.False(t, m.TLSClientCertificateBoundAccessTokens)
	assert.Contains(t, m.DPoPSigningAlgValuesSupported, "ES256")
	assert.Equal(t, []string{"read:messages"}, m.ScopesSupported)

	mt := newGuard(t, iss, middleware.WithProofOfPossession(middleware.MechanismMTLS, true)).
		Metadata("https://api.example.com", nil, nil)
	assert.True(t, mt.TLSClientCertificateBoundAccessTokens)
	assert.Empty(t, mt.DPoPSigningAlgValuesSupported, "DPoP is not offered under mTLS")
}
