package middleware_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/internal/jose"
	"github.com/senderbound/senderbound/jwks"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
)

func TestFAPI2RefusesWeakerOptions(t *testing.T) {
	iss := newIssuer(t)
	keys := newKeys(t, iss)
	rs256Proofs, err := dpop.NewVerifier(dpop.WithAlgorithms("ES256", "RS256"))
	require.NoError(t, err)
	defaultProofs, err := dpop.NewVerifier()
	require.NoError(t, err)
	es256Proofs, err := dpop.NewVerifier(dpop.WithAlgorithms("ES256", "PS256"))
	require.NoError(t, err)
	secret := []byte(strings.Repeat("s", 32))

	for _, tc := range []struct {
		name string
		opts []middleware.Option
		want string // in the error; empty: New succeeds
	}{
		{"query tokens", []middleware.Option{middleware.WithQueryToken()}, "WithQueryToken"},
		{"form tokens", []middleware.Option{middleware.WithFormToken()}, "WithFormToken"},
		{"RS256 tokens", []middleware.Option{middleware.WithAlgorithms("PS256", "RS256")}, `"RS256"`},
		{"ES384 tokens", []middleware.Option{middleware.WithAlgorithms("ES384")}, `"ES384"`},
		{"HMAC secret", []middleware.Option{middleware.WithHMACSecret("https://hs.example.com/", secret)}, "WithHMACSecret"},
		{"bearer tokens accepted", []middleware.Option{middleware.WithProofOfPossession(middleware.MechanismNone, false)}, "WithProofOfPossession"},
		{"DPoP not required", []middleware.Option{middleware.WithProofOfPossession(middleware.MechanismDPoP, false)}, "WithProofOfPossession"},
		{"another mechanism", []middleware.Option{middleware.WithProofOfPossession(middleware.MechanismMTLS, true)}, "WithProofOfPossession"},
		{"DPoP per client", []middleware.Option{middleware.WithDPoPRequiredFor(func(*middleware.Claims) bool { return true })}, "WithDPoPRequiredFor"},
		{"RS256 proofs", []middleware.Option{middleware.WithDPoP(rs256Proofs)}, `proof algorithm "RS256"`},
		{"the dpop package's default proof algorithms", []middleware.Option{middleware.WithDPoP(defaultProofs)}, `proof algorithm "RS256"`},

		{"the same policy", []middleware.Option{middleware.WithProofOfPossession(middleware.MechanismDPoP, true)}, ""},
		{"FAPI algorithms", []middleware.Option{middleware.WithAlgorithms("PS256", "ES256")}, ""},
		{"FAPI proof algorithms", []middleware.Option{middleware.WithDPoP(es256Proofs)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, order := range []string{"FAPI first", "FAPI last"} {
				opts := append([]middleware.Option{middleware.WithAudience(audience), middleware.WithFAPI2(middleware.MechanismDPoP)}, tc.opts...)
				if order == "FAPI last" {
					opts = append(append([]middleware.Option{middleware.WithAudience(audience)}, tc.opts...), middleware.WithFAPI2(middleware.MechanismDPoP))
				}
				_, err := middleware.New(keys, opts...)
				if tc.want == "" {
					require.NoError(t, err, order)
					continue
				}
				require.Error(t, err, order)
				assert.Contains(t, err.Error(), tc.want, order)
			}
		})
	}

	t.Run("every problem at once", func(t *testing.T) {
		_, err := middleware.New(keys, middleware.WithAudience(audience), middleware.WithFAPI2(middleware.MechanismMTLS),
			middleware.WithQueryToken(), middleware.WithAlgorithms("RS256"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "WithQueryToken")
		assert.Contains(t, err.Error(), `"RS256"`)
	})
	t.Run("mechanisms", func(t *testing.T) {
		for _, ms := range [][]middleware.Mechanism{nil, {middleware.MechanismNone}, {middleware.MechanismDPoP, middleware.Mechanism(7)}} {
			_, err := middleware.New(keys, middleware.WithAudience(audience), middleware.WithFAPI2(ms...))
			require.Error(t, err, "%v", ms)
		}
	})
}

func TestFAPI2Enforced(t *testing.T) {
	iss := newIssuer(t, oauthtest.WithAlgorithm("PS256"))
	client := newSigner(t)
	cert, _ := clientCert(t, "client")
	g := newGuard(t, iss, middleware.WithFAPI2(middleware.MechanismDPoP), middleware.WithPublicURL("https://api.example.com"))
	dpopTok := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint()})

	t.Run("a DPoP-bound PS256 token with an ES256 proof", func(t *testing.T) {
		assert.Equal(t, http.StatusOK, serve(g, dpopRequest(t, dpopTok, proof(t, client, "GET", resource, dpopTok, ""))).status)
	})
	t.Run("token only in the Authorization header", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, resource+"?access_token="+url.QueryEscape(dpopTok), nil)
		r.Header.Set("DPoP", proof(t, client, "GET", resource, dpopTok, ""))
		a := serve(g, r)
		assert.Equal(t, http.StatusUnauthorized, a.status)
		assert.NotContains(t, strings.Join(a.challenge, " "), "error=", "the query is not read: no credentials")

		r = httptest.NewRequest(http.MethodPost, resource, strings.NewReader("access_token="+url.QueryEscape(dpopTok)))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		assert.Equal(t, http.StatusUnauthorized, serve(g, r).status)
	})
	t.Run("sender-constrained tokens only", func(t *testing.T) {
		_, err := g.Check(bearer(mint(t, iss, oauthtest.Token{})))
		require.ErrorIs(t, err, middleware.ErrBindingRequired)
		r := bearer(mint(t, iss, oauthtest.Token{X5TS256: mtls.Thumbprint(cert)}))
		r.TLS = tlsState(cert)
		_, err = g.Check(r)
		require.ErrorIs(t, err, middleware.ErrBindingNotAllowed, "DPoP chosen, so no certificate-bound tokens")
		a := serve(g, bearer(mint(t, iss, oauthtest.Token{})))
		assert.Equal(t, http.StatusUnauthorized, a.status)
		assert.Len(t, a.challenge, 1, "only the DPoP scheme is offered")
		assert.True(t, strings.HasPrefix(a.challenge[0], "DPoP "))
		assert.Contains(t, a.challenge[0], `algs="`+strings.Join(fapiAlgs(), " ")+`"`)
	})
	t.Run("token algorithms", func(t *testing.T) {
		for _, alg := range []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"} {
			other := newIssuer(t, oauthtest.WithAlgorithm(alg))
			g := newGuard(t, other, middleware.WithFAPI2(middleware.MechanismDPoP), middleware.WithPublicURL("https://api.example.com"))
			tok := mint(t, other, oauthtest.Token{JKT: client.Thumbprint()})
			_, err := g.Check(dpopRequest(t, tok, proof(t, client, "GET", resource, tok, "")))
			if alg == "RS256" || alg == "ES384" {
				require.ErrorIs(t, err, middleware.ErrAlgorithm, alg)
			} else {
				require.NoError(t, err, alg)
			}
		}
	})
	t.Run("proof algorithms", func(t *testing.T) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		for _, alg := range []string{"RS256", "PS256"} {
			s, err := dpop.NewSigner(key, dpop.WithSignerAlgorithm(alg))
			require.NoError(t, err)
			tok := mint(t, iss, oauthtest.Token{JKT: s.Thumbprint()})
			_, err = g.Check(dpopRequest(t, tok, proof(t, s, "GET", resource, tok, "")))
			if alg == "RS256" {
				require.ErrorIs(t, err, middleware.ErrInvalidProof)
			} else {
				require.NoError(t, err)
			}
		}
	})
	t.Run("RSA keys of at least 2048 bits", func(t *testing.T) {
		small, err := rsa.GenerateKey(rand.Reader, 1024)
		require.NoError(t, err)
		g, err := middleware.New(oneKey{&small.PublicKey}, middleware.WithAudience(audience),
			middleware.WithFAPI2(middleware.MechanismDPoP), middleware.WithPublicURL("https://api.example.com"))
		require.NoError(t, err)
		claims := goodClaims(iss)
		claims["cnf"] = map[string]any{"jkt": client.Thumbprint()}
		tok := handMade(t, jwt.SigningMethodPS256, small, map[string]any{"kid": "k"}, claims)
		_, err = g.Check(dpopRequest(t, tok, proof(t, client, "GET", resource, tok, "")))
		require.ErrorIs(t, err, jose.ErrRSAKeyTooSmall)
	})
}

// oneKey is a key source with one key for every issuer and kid.
type oneKey struct{ key crypto.PublicKey }

func (k oneKey) Key(context.Context, string, string, string) (crypto.PublicKey, error) {
	return k.key, nil
}

// unavailableKeys is a key source whose issuer cannot be reached.
type unavailableKeys struct{}

func (unavailableKeys) Key(context.Context, string, string, string) (crypto.PublicKey, error) {
	return nil, jwks.ErrUnavailable
}

// fapiAlgs are the FAPI 2.0 algorithms this module verifies.
func fapiAlgs() []string {
	var algs []string
	for _, a := range []string{"PS256", "ES256", "EdDSA", "Ed25519"} {
		if jose.Asymmetric(a) {
			algs = append(algs, a)
		}
	}
	return algs
}

func TestFAPI2Mechanisms(t *testing.T) {
	iss := newIssuer(t, oauthtest.WithAlgorithm("ES256"))
	client := newSigner(t)
	cert, _ := clientCert(t, "client")
	dpopTok := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint()})
	certTok := mint(t, iss, oauthtest.Token{X5TS256: mtls.Thumbprint(cert)})
	unbound := mint(t, iss, oauthtest.Token{})
	withDPoP := func() *http.Request { return dpopRequest(t, dpopTok, proof(t, client, "GET", resource, dpopTok, "")) }
	withCert := func() *http.Request { r := bearer(certTok); r.TLS = tlsState(cert); return r }
	asBearer := func() *http.Request { return bearer(unbound) }

	for _, tc := range []struct {
		name                 string
		mechanisms           []middleware.Mechanism
		dpop, cert, unbound_ int
	}{
		{"DPoP", []middleware.Mechanism{middleware.MechanismDPoP}, 200, 401, 401},
		{"mTLS", []middleware.Mechanism{middleware.MechanismMTLS}, 401, 200, 401},
		{"either", []middleware.Mechanism{middleware.MechanismDPoP, middleware.MechanismMTLS}, 200, 200, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGuard(t, iss, middleware.WithFAPI2(tc.mechanisms...), middleware.WithPublicURL("https://api.example.com"))
			assert.Equal(t, tc.dpop, serve(g, withDPoP()).status, "DPoP-bound")
			assert.Equal(t, tc.cert, serve(g, withCert()).status, "certificate-bound")
			assert.Equal(t, tc.unbound_, serve(g, asBearer()).status, "unbound")
		})
	}
}

func TestFAPI2InteractionID(t *testing.T) {
	iss := newIssuer(t, oauthtest.WithAlgorithm("ES256"))
	client := newSigner(t)
	g := newGuard(t, iss, middleware.WithFAPI2(middleware.MechanismDPoP))
	mux := http.NewServeMux()
	mux.Handle("/r", g.Handler(ok200))
	mux.Handle("/mfa", g.Handler(g.Require(middleware.StepUp{ACRValues: []string{middleware.ACRAuth0MFA}})(ok200)))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tok := mint(t, iss, oauthtest.Token{JKT: client.Thumbprint()})

	send := func(path string, ids []string, authorized bool) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		for _, id := range ids {
			req.Header.Add("x-fapi-interaction-id", id)
		}
		if authorized {
			req.Header.Set("Authorization", "DPoP "+tok)
			req.Header.Set("DPoP", proof(t, client, "GET", srv.URL+path, tok, ""))
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	const id = "c770aef3-6784-41f7-8e0e-ff5f97bddb3a"
	for _, tc := range []struct {
		name       string
		path       string
		authorized bool
		status     int
	}{
		{"accepted", "/r", true, 200},
		{"no credentials", "/r", false, 401},
		{"refused by a requirement", "/mfa", true, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := send(tc.path, []string{id}, tc.authorized)
			require.Equal(t, tc.status, resp.StatusCode)
			assert.Equal(t, id, resp.Header.Get("x-fapi-interaction-id"), "echoed")
			assert.Equal(t, strings.ToUpper(id), send(tc.path, []string{strings.ToUpper(id)}, tc.authorized).Header.Get("x-fapi-interaction-id"))

			fresh := map[string]bool{}
			for _, ids := range [][]string{
				nil,
				{""},
				{"not-a-uuid"},
				{"c770aef3678441f78e0eff5f97bddb3a"},     // no hyphens
				{"c770aef3-6784-41f7-8e0e-ff5f97bddb3g"}, // not hex
				{id + "0"},                               // one digit too many
				{id + strings.Repeat("0", 4096)},         // oversized
				{"<script>alert(1)</script>-0000-0000-000000"}, // 36 bytes of markup
				{id, "0b6f8f1e-4f55-4c47-9a36-1a0d2b3c4d5e"},   // two values
			} {
				got := send(tc.path, ids, tc.authorized).Header.Values("x-fapi-interaction-id")
				require.Len(t, got, 1, "%q", ids)
				assert.NotEqual(t, id, got[0])
				assertUUIDv4(t, got[0])
				assert.False(t, fresh[got[0]], "a new id each time")
				fresh[got[0]] = true
			}
		})
	}

	t.Run("on a 503 and through an error handler", func(t *testing.T) {
		down, err := middleware.New(unavailableKeys{}, middleware.WithAudience(audience), middleware.WithFAPI2(middleware.MechanismDPoP),
			middleware.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, e *middleware.Error) {
				w.WriteHeader(e.Status)
			}))
		require.NoError(t, err)
		w := httptest.NewRecorder()
		r := dpopRequest(t, tok, proof(t, client, "GET", resource, tok, ""))
		r.Header.Set("x-fapi-interaction-id", id)
		down.Handler(ok200).ServeHTTP(w, r)
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.Equal(t, id, w.Header().Get("x-fapi-interaction-id"))
	})
	t.Run("not without WithFAPI2", func(t *testing.T) {
		plain := newGuard(t, iss)
		w := httptest.NewRecorder()
		r := bearer(mint(t, iss, oauthtest.Token{}))
		r.Header.Set("x-fapi-interaction-id", id)
		plain.Handler(ok200).ServeHTTP(w, r)
		assert.Empty(t, w.Header().Get("x-fapi-interaction-id"))
	})
}

// assertUUIDv4 checks the RFC 9562 text form, version 4, variant 10.
func assertUUIDv4(t *testing.T, s string) {
	t.Helper()
	require.Len(t, s, 36)
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			require.Equal(t, '-', c, s)
		default:
			require.Contains(t, "0123456789abcdef", string(c), s)
		}
	}
	assert.Equal(t, byte('4'), s[14], "version 4: %s", s)
	assert.Contains(t, "89ab", string(s[19]), "RFC 9562 variant: %s", s)
}
