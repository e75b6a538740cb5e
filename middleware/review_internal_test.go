package middleware

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/observe"
)

// TestForgedHMACKidNotObserved: with an HS256 issuer no key is looked up
// by kid, so the kid of a token whose signature fails is whatever its forger
// wrote; it must not reach the observer (metrics labels, span attributes),
// whose docs promise values bounded by configuration.
func TestForgedHMACKidNotObserved(t *testing.T) {
	secret := []byte(strings.Repeat("k", 32))
	var got observe.Request
	g, err := New(nil, WithAudience("api"), WithHMACSecret("https://hs.example/", secret),
		WithObserver(&observe.Observer{Request: func(_ context.Context, e observe.Request) { got = e }}))
	require.NoError(t, err)
	enc := base64.RawURLEncoding.EncodeToString
	kid := "attacker-" + strings.Repeat("x", 4000)
	in := enc([]byte(`{"alg":"HS256","kid":"`+kid+`"}`)) + "." + enc([]byte(`{"iss":"https://hs.example/","aud":"api","exp":9999999999}`))

	_, err = g.Verify(context.Background(), Request{Scheme: "Bearer", Token: in + "." + enc([]byte("forged-signature-bytes-000000000"))})
	require.ErrorIs(t, err, ErrSignature)
	assert.Empty(t, got.KeyID, "a forger's kid")

	m := hmac.New(sha256.New, secret)
	m.Write([]byte(in))
	_, err = g.Verify(context.Background(), Request{Scheme: "Bearer", Token: in + "." + enc(m.Sum(nil))})
	require.NoError(t, err)
	assert.Equal(t, kid, got.KeyID, "the kid of a token the secret signed")
}
