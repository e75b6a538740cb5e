package oauthtest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
)

// answer is a token endpoint's answer.
type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func postToken(t *testing.T, c *http.Client, tokenURL string, form url.Values, header http.Header) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, header: resp.Header}
	require.NoError(t, json.Unmarshal(raw, &a.body), "%s", raw)
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	return a
}

func secretForm(extra ...string) url.Values {
	f := url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {"secret"}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

func tokenIssuer(t *testing.T, opts ...oauthtest.Option) *oauthtest.Issuer {
	t.Helper()
	iss := newIssuer(t, opts...)
	require.NoError(t, iss.RegisterClient(oauthtest.Client{ID: "svc", Secret: "secret", Token: oauthtest.Token{
		Scope: "read:messages write:messages",
		Claims: map[string]any{
			"acr":       "http://schemas.openid.net/pape/policies/2007/06/multi-factor",
			"amr":       []string{"mfa"},
			"auth_time": int64(1_800_000_000),
		},
	}}))
	return iss
}

func dpopSigner(t *testing.T) *dpop.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	s, err := dpop.NewSigner(key)
	require.NoError(t, err)
	return s
}

func TestTokenEndpointDPoP(t *testing.T) {
	t.Parallel()
	iss := tokenIssuer(t)
	c := iss.Client()
	signer := dpopSigner(t)
	proof := func(htu, nonce string) http.Header {
		p, err := signer.Proof(http.MethodPost, htu, "", nonce)
		require.NoError(t, err)
		return http.Header{"DPoP": {p}}
	}

	// RFC 9449 §8: the first request is told to use a nonce.
	a := postToken(t, c, iss.TokenURL(), secretForm(), proof(iss.TokenURL(), ""))
	require.Equal(t, http.StatusBadRequest, a.status)
	assert.Equal(t, "use_dpop_nonce", a.body["error"])
	nonce := a.header.Get("DPoP-Nonce")
	require.NotEmpty(t, nonce)

	// A proof for another URL, or a second DPoP header, is refused.
	a = postToken(t, c, iss.TokenURL(), secretForm(), proof(iss.Issuer()+"other", nonce))
	assert.Equal(t, "invalid_dpop_proof", a.body["error"])
	two := proof(iss.TokenURL(), nonce)
	two.Add("DPoP", two.Get("DPoP"))
	a = postToken(t, c, iss.TokenURL(), secretForm(), two)
	assert.Equal(t, "invalid_dpop_proof", a.body["error"])

	a = postToken(t, c, iss.TokenURL(), secretForm("scope", "read:messages"), proof(iss.TokenURL(), nonce))
	require.Equal(t, http.StatusOK, a.status, "%v", a.body)
	assert.Equal(t, "DPoP", a.body["token_type"])
	assert.Equal(t, float64(3600), a.body["expires_in"])
	assert.Equal(t, "read:messages", a.body["scope"])
	_, claims := decode(t, iss, a.body["access_token"].(string), nil)
	assert.Equal(t, map[string]any{"jkt": signer.Thumbprint()}, claims["cnf"])
	assert.Equal(t, "svc@clients", claims["sub"])
	assert.Equal(t, "svc", claims["azp"])
	assert.Equal(t, "read:messages", claims["scope"])
	assert.Equal(t, []any{"mfa"}, claims["amr"], "the client's claims are issued")
	assert.Equal(t, "http://schemas.openid.net/pape/policies/2007/06/multi-factor", claims["acr"])
	assert.Equal(t, float64(1_800_000_000), claims["auth_time"])

	// The same proof again is a replay.
	replayed := proof(iss.TokenURL(), nonce)
	postToken(t, c, iss.TokenURL(), secretForm(), replayed)
	a = postToken(t, c, iss.TokenURL(), secretForm(), replayed)
	assert.Equal(t, "invalid_dpop_proof", a.body["error"])
}

func TestTokenEndpointBearerAndParameters(t *testing.T) {
	t.Parallel()
	iss := tokenIssuer(t)
	c := iss.Client()
	a := postToken(t, c, iss.TokenURL(), secretForm("audience", "https://api.test",
		"authorization_details", `[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"12.00"}}]`), nil)
	require.Equal(t, http.StatusOK, a.status, "%v", a.body)
	assert.Equal(t, "Bearer", a.body["token_type"])
	_, claims := decode(t, iss, a.body["access_token"].(string), nil)
	assert.Nil(t, claims["cnf"])
	assert.Equal(t, []any{"https://api.test"}, claims["aud"])
	assert.Equal(t, "read:messages write:messages", claims["scope"], "no scope parameter: the client's scope")
	assert.Equal(t, []any{map[string]any{"type": "payment_initiation",
		"instructedAmount": map[string]any{"currency": "EUR", "amount": "12.00"}}}, claims["authorization_details"])

	basic := http.Header{"Authorization": {"Basic " + basicAuth("svc", "secret")}}
	a = postToken(t, c, iss.TokenURL(), url.Values{"grant_type": {"client_credentials"}}, basic)
	assert.Equal(t, http.StatusOK, a.status, "client_secret_basic")
}

func basicAuth(id, secret string) string {
	r, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

func TestTokenEndpointRefusals(t *testing.T) {
	t.Parallel()
	iss := tokenIssuer(t)
	c := iss.Client()
	tests := []struct {
		name   string
		form   url.Values
		header http.Header
		status int
		code   string
	}{
		{"wrong secret", secretForm("client_secret", "guess"), nil, 401, "invalid_client"},
		{"unknown client", secretForm("client_id", "nobody"), nil, 401, "invalid_client"},
		{"wrong basic secret", url.Values{"grant_type": {"client_credentials"}}, http.Header{"Authorization": {"Basic " + basicAuth("svc", "guess")}}, 401, "invalid_client"},
		{"no authentication", url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}}, nil, 400, "invalid_request"},
		{"two methods", secretForm(), http.Header{"Authorization": {"Basic " + basicAuth("svc", "secret")}}, 400, "invalid_request"},
		{"another grant", secretForm("grant_type", "password"), nil, 400, "unsupported_grant_type"},
		{"repeated parameter", url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {"secret", "secret"}}, nil, 400, "invalid_request"},
		{"scope not granted", secretForm("scope", "admin"), nil, 400, "invalid_scope"},
		{"details not an array", secretForm("authorization_details", `{"type":"x"}`), nil, 400, "invalid_authorization_details"},
		{"detail without type", secretForm("authorization_details", `[{"actions":["read"]}]`), nil, 400, "invalid_authorization_details"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := postToken(t, c, iss.TokenURL(), tt.form, tt.header)
			assert.Equal(t, tt.status, a.status)
			assert.Equal(t, tt.code, a.body["error"])
			assert.Nil(t, a.body["access_token"])
		})
	}
	assert.Zero(t, iss.TokensIssued())
}

func TestTokenEndpointMTLS(t *testing.T) {
	t.Parallel()
	iss := tokenIssuer(t, oauthtest.WithMTLSTokenEndpoint())
	require.NotEmpty(t, iss.MTLSTokenURL())
	cert := clientCertificate(t)

	a := postToken(t, iss.MTLSClient(&cert), iss.MTLSTokenURL(), secretForm(), nil)
	require.Equal(t, http.StatusOK, a.status, "%v", a.body)
	assert.Equal(t, "Bearer", a.body["token_type"])
	_, claims := decode(t, iss, a.body["access_token"].(string), nil)
	assert.Equal(t, map[string]any{"x5t#S256": mtls.Thumbprint(cert.Leaf)}, claims["cnf"])

	a = postToken(t, iss.MTLSClient(nil), iss.MTLSTokenURL(), secretForm(), nil)
	require.Equal(t, http.StatusOK, a.status)
	_, claims = decode(t, iss, a.body["access_token"].(string), nil)
	assert.Nil(t, claims["cnf"], "no certificate, no binding")

	// RFC 8705 §5: the alias is advertised.
	resp, err := iss.Client().Get(strings.TrimSuffix(iss.Issuer(), "/") + oauthtest.OAuthMetadataPath)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	assert.Equal(t, map[string]any{"token_endpoint": iss.MTLSTokenURL()}, m["mtls_endpoint_aliases"])
	assert.Equal(t, iss.TokenURL(), m["token_endpoint"])
}

func TestTokenEndpointOverTLS(t *testing.T) {
	t.Parallel()
	iss := tokenIssuer(t, oauthtest.WithTLS())
	cert := clientCertificate(t)
	a := postToken(t, iss.MTLSClient(&cert), iss.TokenURL(), secretForm(), nil)
	require.Equal(t, http.StatusOK, a.status, "%v", a.body)
	_, claims := decode(t, iss, a.body["access_token"].(string), nil)
	assert.Equal(t, map[string]any{"x5t#S256": mtls.Thumbprint(cert.Leaf)}, claims["cnf"])
	// Clients without certificates still connect.
	a = postToken(t, iss.Client(), iss.TokenURL(), secretForm(), nil)
	assert.Equal(t, http.StatusOK, a.status)
}

func clientCertificate(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "svc"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func TestTokenEndpointPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	now := time.Now()
	iss := newIssuer(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	require.NoError(t, iss.RegisterClient(oauthtest.Client{ID: "svc", PublicKey: key.Public()}))

	valid := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": "svc", "sub": "svc", "aud": iss.TokenURL(), "jti": rand.Text(),
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	}
	sign := func(c jwt.MapClaims, k *ecdsa.PrivateKey) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodES256, c).SignedString(k)
		require.NoError(t, err)
		return s
	}
	form := func(assertion string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_assertion": {assertion},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}}
	}
	with := func(name string, v any) string {
		c := valid()
		if v == nil {
			delete(c, name)
		} else {
			c[name] = v
		}
		return sign(c, key)
	}
	hs, err := jwt.NewWithClaims(jwt.SigningMethodHS256, valid()).SignedString([]byte("a secret"))
	require.NoError(t, err)

	ok := sign(valid(), key)
	a := postToken(t, iss.Client(), iss.TokenURL(), form(ok), nil)
	require.Equal(t, http.StatusOK, a.status, "%v", a.body)
	a = postToken(t, iss.Client(), iss.TokenURL(), form(with("aud", iss.Issuer())), nil)
	require.Equal(t, http.StatusOK, a.status, "the issuer identifier as aud, as Auth0 wants")

	tests := []struct {
		name      string
		assertion string
		form      func(url.Values)
	}{
		{"jti reused", ok, nil},
		{"wrong key", sign(valid(), other), nil},
		{"HS256 with a guessable secret", hs, nil},
		{"not a JWT", "abc", nil},
		{"sub is not the client", with("sub", "someone"), nil},
		{"iss unknown", with("iss", "nobody"), nil},
		{"aud elsewhere", with("aud", "https://other.example/oauth/token"), nil},
		{"no aud", with("aud", nil), nil},
		{"expired", with("exp", now.Add(-time.Minute).Unix()), nil},
		{"no exp", with("exp", nil), nil},
		{"exp too far", with("exp", now.Add(time.Hour).Unix()), nil},
		{"no jti", with("jti", nil), nil},
		{"client_id differs", sign(valid(), key), func(f url.Values) { f.Set("client_id", "another") }},
		{"wrong assertion type", sign(valid(), key), func(f url.Values) { f.Set("client_assertion_type", "jwt") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := form(tt.assertion)
			if tt.form != nil {
				tt.form(f)
			}
			a := postToken(t, iss.Client(), iss.TokenURL(), f, nil)
			assert.Equal(t, http.StatusUnauthorized, a.status)
			assert.Equal(t, "invalid_client", a.body["error"])
		})
	}
}

func TestRegisterClient(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	err := iss.RegisterClient(oauthtest.Client{PublicKey: "not a key"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "without an ID")
	assert.Contains(t, err.Error(), "unsupported public key type")
	err = iss.RegisterClient(oauthtest.Client{ID: "x"})
	assert.ErrorContains(t, err, "without a secret, a public key or a certificate")
	assert.Empty(t, iss.MTLSTokenURL())
	assert.Nil(t, iss.ServerCertificate())
}
