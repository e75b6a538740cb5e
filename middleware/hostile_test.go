package middleware_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/dpop"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/mtls"
	"github.com/senderbound/senderbound/oauthtest"
)

// settableClock is a clock that tests move by hand, safe for concurrent use.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *settableClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// jwkOf is the public JWK of key, built by hand (not by the package).
func jwkOf(t testing.TB, pub crypto.PublicKey) map[string]any {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		point, err := k.Bytes() // 0x04 || X || Y
		require.NoError(t, err)
		return map[string]any{"kty": "EC", "crv": "P-256", "x": enc(point[1:33]), "y": enc(point[33:])}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": enc(k)}
	}
	t.Fatalf("jwkOf: %T", pub)
	return nil
}

// handProof signs a DPoP proof by hand with priv; mod may rewrite the header
// and claims (a nil value deletes a member).
func handProof(t testing.TB, priv *ecdsa.PrivateKey, now time.Time, token string, mod func(h, c map[string]any)) string {
	t.Helper()
	sum := sha256.Sum256([]byte(token))
	h := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jwkOf(t, priv.Public())}
	c := map[string]any{"jti": rand.Text(), "htm": "GET", "htu": resource, "iat": now.Unix(),
		"ath": base64.RawURLEncoding.EncodeToString(sum[:])}
	if mod != nil {
		mod(h, c)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{})
	tok.Header = map[string]any{}
	for k, v := range h {
		if v != nil {
			tok.Header[k] = v
		}
	}
	for k, v := range c {
		if v != nil {
			tok.Claims.(jwt.MapClaims)[k] = v
		}
	}
	s, err := tok.SignedString(priv)
	require.NoError(t, err)
	return s
}

// rawSigned signs header and payload JSON given verbatim, so that rows can
// hold duplicate members and numbers that no encoder would write.
func rawSigned(t testing.TB, method jwt.SigningMethod, key any, header, payload string) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	in := enc([]byte(header)) + "." + enc([]byte(payload))
	sig, err := method.Sign(in, key)
	require.NoError(t, err)
	return in + "." + enc(sig)
}

// TestHostileInputCatalogue walks the classes of attack on a token verifier,
// one row per attack, through the whole net/http middleware. Each row says
// what it attacks and the answer it must get: the status a client sees and
// the sentinel the cause wraps. Several rows repeat cases that other tests
// cover in depth; they are here so that this table is the whole catalogue.
func TestHostileInputCatalogue(t *testing.T) {
	iss := newIssuer(t)
	attacker := newIssuer(t)
	clk := &settableClock{t: time.Now()}
	v, err := dpop.NewVerifier(dpop.WithClock(clk.Now))
	require.NoError(t, err)
	g := newGuard(t, iss, middleware.WithClock(clk.Now), middleware.WithDPoP(v), middleware.WithLeeway(time.Second),
		middleware.WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8")))

	kid := iss.CurrentKeyID()
	rsaKey := iss.PrivateKey(kid)
	rsaPub := iss.PublicKey(kid).(*rsa.PublicKey)
	der, err := x509.MarshalPKIXPublicKey(rsaPub)
	require.NoError(t, err)
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	ecKid, err := iss.AddKey("ES256")
	require.NoError(t, err)
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)

	client, thief := hzECKey(t), hzECKey(t)
	clientSigner, err := dpop.NewSigner(client, dpop.WithSignerClock(clk.Now))
	require.NoError(t, err)
	jkt := clientSigner.Thumbprint()
	bound := mint(t, iss, oauthtest.Token{JKT: jkt})
	otherBound := mint(t, iss, oauthtest.Token{JKT: jkt, Subject: "other"})
	unbound := mint(t, iss, oauthtest.Token{})
	cert, _ := clientCert(t, "client")
	certBound := mint(t, iss, oauthtest.Token{X5TS256: mtls.Thumbprint(cert)})

	now := clk.Now()
	exp := strconv.FormatInt(now.Add(time.Hour).Unix(), 10)
	claimsJSON := func(extra string) string {
		return `{"iss":"` + iss.Issuer() + `","sub":"u","aud":"` + audience + `","iat":` +
			strconv.FormatInt(now.Unix(), 10) + `,"exp":` + exp + extra + `}`
	}
	rsHeader := `{"alg":"RS256","kid":"` + kid + `"}`
	signedClaims := func(extra string) string {
		return rawSigned(t, jwt.SigningMethodRS256, rsaKey, rsHeader, claimsJSON(extra))
	}
	withHeader := func(h map[string]any) string { return mint(t, iss, oauthtest.Token{Header: h}) }

	get := func(auth ...string) func() *http.Request {
		return func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, resource, nil)
			for _, a := range auth {
				r.Header.Add("Authorization", a)
			}
			return r
		}
	}
	withDPoP := func(token string, proof func() string) func() *http.Request {
		return func() *http.Request {
			r := get("DPoP " + token)()
			r.Header.Set("DPoP", proof())
			return r
		}
	}
	hp := func(token string, mod func(h, c map[string]any)) func() string {
		return func() string { return handProof(t, client, clk.Now(), token, mod) }
	}

	type row struct {
		class, attacks string
		req            func() *http.Request
		status         int
		want           error // nil: accepted
	}
	rows := []row{
		// Signature stripping and "none".
		{"signature stripping", "alg none with a signature", get("Bearer " + unsigned(t, map[string]any{"alg": "none", "kid": kid}, goodClaims(iss), "c2ln")), 401, middleware.ErrAlgorithm},
		{"signature stripping", "alg none, empty signature", get("Bearer " + unsigned(t, map[string]any{"alg": "none", "kid": kid}, goodClaims(iss), "")), 401, middleware.ErrMalformedToken},
		{"signature stripping", "alg NONE (case variant)", get("Bearer " + unsigned(t, map[string]any{"alg": "NONE", "kid": kid}, goodClaims(iss), "c2ln")), 401, middleware.ErrAlgorithm},
		{"signature stripping", "signature segment removed", get("Bearer " + strings.Join(strings.Split(unbound, ".")[:2], ".")), 401, middleware.ErrMalformedToken},
		{"signature stripping", "signature of another token", get("Bearer " + strings.Join(strings.Split(unbound, ".")[:2], ".") + "." + strings.Split(bound, ".")[2]), 401, middleware.ErrSignature},

		// Algorithm confusion.
		{"algorithm confusion", "HS256 keyed with the issuer's RSA public key (PEM)", get("Bearer " + handMade(t, jwt.SigningMethodHS256, rsaPEM, map[string]any{"kid": kid}, goodClaims(iss))), 401, middleware.ErrAlgorithm},
		{"algorithm confusion", "HS256 keyed with the RSA modulus bytes", get("Bearer " + handMade(t, jwt.SigningMethodHS256, rsaPub.N.Bytes(), map[string]any{"kid": kid}, goodClaims(iss))), 401, middleware.ErrAlgorithm},
		{"algorithm confusion", "RSA key named by kid, alg ES256", get("Bearer " + handMade(t, jwt.SigningMethodES256, iss.PrivateKey(ecKid), map[string]any{"kid": kid}, goodClaims(iss))), 401, middleware.ErrAlgorithm},
		{"algorithm confusion", "P-256 key named by kid, alg EdDSA", get("Bearer " + handMade(t, jwt.SigningMethodEdDSA, edPriv, map[string]any{"kid": ecKid}, goodClaims(iss))), 401, middleware.ErrAlgorithm},
		{"algorithm confusion", "P-256 key named by kid, alg RS256", get("Bearer " + handMade(t, jwt.SigningMethodRS256, rsaKey, map[string]any{"kid": ecKid}, goodClaims(iss))), 401, middleware.ErrAlgorithm},
		{"algorithm confusion", "alg not in the allow-list (RS512)", get("Bearer " + handMade(t, jwt.SigningMethodRS512, rsaKey, map[string]any{"kid": kid}, goodClaims(iss))), 401, middleware.ErrAlgorithm},
		{"algorithm confusion", "duplicate alg member (RS256, then HS256): refused as malformed", get("Bearer " + rawSigned(t, jwt.SigningMethodHS256, rsaPEM, `{"alg":"RS256","alg":"HS256","kid":"`+kid+`"}`, claimsJSON(""))), 401, middleware.ErrMalformedToken},

		// Key injection through the header.
		{"key injection", "jwk: attacker's key embedded", get("Bearer " + handMade(t, jwt.SigningMethodES256, thief, map[string]any{"kid": kid, "jwk": jwkOf(t, thief.Public())}, goodClaims(iss))), 401, middleware.ErrAlgorithm},
		{"key injection", "jku: attacker's JWKS URL", get("Bearer " + handMade(t, jwt.SigningMethodRS256, attacker.PrivateKey(attacker.CurrentKeyID()), map[string]any{"kid": attacker.CurrentKeyID(), "jku": attacker.JWKSURL()}, goodClaims(iss))), 401, middleware.ErrUnknownKey},
		{"key injection", "x5u: attacker's certificate URL", get("Bearer " + handMade(t, jwt.SigningMethodRS256, attacker.PrivateKey(attacker.CurrentKeyID()), map[string]any{"kid": attacker.CurrentKeyID(), "x5u": attacker.JWKSURL()}, goodClaims(iss))), 401, middleware.ErrUnknownKey},
		{"key injection", "x5c: attacker's certificate chain", get("Bearer " + handMade(t, jwt.SigningMethodES256, thief, map[string]any{"kid": "x", "x5c": []string{base64.StdEncoding.EncodeToString(cert.Raw)}}, goodClaims(iss))), 401, middleware.ErrUnknownKey},
		{"key injection", "kid path traversal", get("Bearer " + handMade(t, jwt.SigningMethodRS256, rsaKey, map[string]any{"kid": "../../etc/passwd"}, goodClaims(iss))), 401, middleware.ErrUnknownKey},
		{"key injection", "kid SQL injection", get("Bearer " + handMade(t, jwt.SigningMethodRS256, rsaKey, map[string]any{"kid": "' OR 1=1 --"}, goodClaims(iss))), 401, middleware.ErrUnknownKey},
		{"key injection", "kid with NUL and newline", get("Bearer " + handMade(t, jwt.SigningMethodRS256, rsaKey, map[string]any{"kid": kid + "\x00\n"}, goodClaims(iss))), 401, middleware.ErrUnknownKey},
		{"key injection", "kid as a number", get("Bearer " + handMade(t, jwt.SigningMethodRS256, rsaKey, map[string]any{"kid": 1}, goodClaims(iss))), 401, middleware.ErrMalformedToken},
		{"key injection", "header key locations on a genuine token are ignored", get("Bearer " + withHeader(map[string]any{"jku": attacker.JWKSURL(), "x5u": attacker.JWKSURL(), "jwk": jwkOf(t, thief.Public())})), 200, nil},
		{"key injection", "iss of the trusted issuer, key of another", get("Bearer " + handMade(t, jwt.SigningMethodRS256, attacker.PrivateKey(attacker.CurrentKeyID()), map[string]any{"kid": attacker.CurrentKeyID()}, goodClaims(iss))), 401, middleware.ErrUnknownKey},

		// Claim type confusion.
		{"claim type confusion", "exp as a string", get("Bearer " + signedClaims(`,"exp":"`+exp+`"`)), 401, middleware.ErrClaims},
		{"claim type confusion", "exp 1e300 (huge number)", get("Bearer " + signedClaims(`,"exp":1e300`)), 401, middleware.ErrClaims},
		{"claim type confusion", "exp negative", get("Bearer " + signedClaims(`,"exp":-1`)), 401, middleware.ErrClaims},
		{"claim type confusion", "nbf 1e300", get("Bearer " + signedClaims(`,"nbf":1e300`)), 401, middleware.ErrClaims},
		{"claim type confusion", "iat as an object", get("Bearer " + signedClaims(`,"iat":{}`)), 401, middleware.ErrClaims},
		{"claim type confusion", "aud as an object", get("Bearer " + signedClaims(`,"aud":{"aud":"`+audience+`"}`)), 401, middleware.ErrClaims},
		{"claim type confusion", "aud array with a number", get("Bearer " + signedClaims(`,"aud":[1,"`+audience+`"]`)), 401, middleware.ErrClaims},
		{"claim type confusion", "iss as an array", get("Bearer " + signedClaims(`,"iss":["`+iss.Issuer()+`"]`)), 401, middleware.ErrClaims},
		{"claim type confusion", "cnf as an array", get("Bearer " + signedClaims(`,"cnf":["`+jkt+`"]`)), 401, middleware.ErrClaims},
		{"claim type confusion", "cnf.jkt as a number", get("Bearer " + signedClaims(`,"cnf":{"jkt":1}`)), 401, middleware.ErrClaims},
		{"claim type confusion", "payload is a JSON array", get("Bearer " + rawSigned(t, jwt.SigningMethodRS256, rsaKey, rsHeader, `[]`)), 401, middleware.ErrClaims},
		// Parsers disagree on duplicate members (first wins, last wins), so
		// a duplicated claim this package reads is refused outright: no
		// other component can read the token differently.
		{"claim type confusion", "duplicate exp: refused, neither value is trusted", get("Bearer " + signedClaims(`,"exp":1`)), 401, middleware.ErrClaims},
		{"claim type confusion", "duplicate aud: refused, neither value is trusted", get("Bearer " + signedClaims(`,"aud":"https://other.example.com"`)), 401, middleware.ErrClaims},

		// Binding bypasses.
		{"binding bypass", "DPoP-bound token sent as Bearer (downgrade)", get("Bearer " + bound), 401, middleware.ErrBoundTokenAsBearer},
		{"binding bypass", "certificate-bound token without a certificate", get("Bearer " + certBound), 401, middleware.ErrBindingMismatch},
		{"binding bypass", "cnf with both jkt and x5t#S256", get("Bearer " + mint(t, iss, oauthtest.Token{JKT: jkt, X5TS256: mtls.Thumbprint(cert)})), 401, middleware.ErrClaims},
		{"binding bypass", "empty jkt", get("Bearer " + mint(t, iss, oauthtest.Token{Claims: map[string]any{"cnf": map[string]any{"jkt": ""}}})), 401, middleware.ErrClaims},
		{"binding bypass", "empty x5t#S256", get("Bearer " + mint(t, iss, oauthtest.Token{Claims: map[string]any{"cnf": map[string]any{"x5t#S256": ""}}})), 401, middleware.ErrClaims},
		{"binding bypass", "jkt with base64 padding", withDPoP(mint(t, iss, oauthtest.Token{JKT: jkt + "="}), hp("", nil)), 401, middleware.ErrClaims},
		{"binding bypass", "jkt in standard base64", withDPoP(mint(t, iss, oauthtest.Token{JKT: stdB64Thumb(jkt)}), hp("", nil)), 401, middleware.ErrClaims},
		{"binding bypass", "unbound token sent with the DPoP scheme", withDPoP(unbound, hp(unbound, nil)), 401, middleware.ErrNoBinding},

		// DPoP proof forgery.
		{"DPoP forgery", "stolen token, thief's own proof", withDPoP(bound, func() string { return handProof(t, thief, clk.Now(), bound, nil) }), 401, dpop.ErrKeyMismatch},
		{"DPoP forgery", "client's jwk, thief's signature", withDPoP(bound, func() string {
			return handProof(t, thief, clk.Now(), bound, func(h, c map[string]any) { h["jwk"] = jwkOf(t, client.Public()) })
		}), 401, dpop.ErrSignature},
		{"DPoP forgery", "private key in the jwk", withDPoP(bound, hp(bound, func(h, c map[string]any) {
			h["jwk"].(map[string]any)["d"] = base64.RawURLEncoding.EncodeToString(must(client.Bytes()))
		})), 401, dpop.ErrPrivateKey},
		{"DPoP forgery", "typ missing", withDPoP(bound, hp(bound, func(h, c map[string]any) { h["typ"] = nil })), 401, dpop.ErrMalformed},
		{"DPoP forgery", "typ JWT", withDPoP(bound, hp(bound, func(h, c map[string]any) { h["typ"] = "JWT" })), 401, dpop.ErrType},
		{"DPoP forgery", "htu with userinfo", withDPoP(bound, hp(bound, func(h, c map[string]any) { c["htu"] = "https://user@api.example.com/r" })), 401, dpop.ErrURL},
		{"DPoP forgery", "htu with another port", withDPoP(bound, hp(bound, func(h, c map[string]any) { c["htu"] = "https://api.example.com:8443/r" })), 401, dpop.ErrURL},
		{"DPoP forgery", "htm lower-case", withDPoP(bound, hp(bound, func(h, c map[string]any) { c["htm"] = "get" })), 401, dpop.ErrMethod},
		{"DPoP forgery", "proof made for another token", withDPoP(bound, hp(otherBound, nil)), 401, dpop.ErrAccessTokenHash},
		{"DPoP forgery", "proof without ath", withDPoP(bound, hp(bound, func(h, c map[string]any) { c["ath"] = nil })), 401, dpop.ErrMalformed},
		{"DPoP forgery", "alg none proof", withDPoP(bound, hp(bound, func(h, c map[string]any) { h["alg"] = "none" })), 401, dpop.ErrAlgorithm},
		{"DPoP forgery", "iat an hour old", withDPoP(bound, hp(bound, func(h, c map[string]any) { c["iat"] = clk.Now().Add(-time.Hour).Unix() })), 401, dpop.ErrIssuedAt},
		{"DPoP forgery", "control: a genuine proof", withDPoP(bound, hp(bound, nil)), 200, nil},

		// Header smuggling.
		{"header smuggling", "two Authorization headers", get("Bearer "+unbound, "Bearer "+unbound), 400, middleware.ErrMultipleCredentials},
		{"header smuggling", "Bearer and DPoP headers together", get("Bearer "+unbound, "DPoP "+bound), 400, middleware.ErrMultipleCredentials},
		{"header smuggling", "two credentials in one header", get("Bearer " + unbound + ", DPoP " + bound), 400, middleware.ErrMalformedRequest},
		{"header smuggling", "tab after the scheme", get("Bearer\t" + unbound), 401, middleware.ErrNoCredentials},
		{"header smuggling", "two spaces after the scheme (1*SP, RFC 9110 §11.4)", get("Bearer  " + unbound), 200, nil},
		{"header smuggling", "space and tab after the scheme", get("Bearer \t" + unbound), 400, middleware.ErrMalformedRequest},
		{"header smuggling", "leading space", get(" Bearer " + unbound), 401, middleware.ErrNoCredentials},
		{"header smuggling", "non-ASCII in the token", get("Bearer " + unbound + "\u00e9"), 400, middleware.ErrMalformedRequest},
		{"header smuggling", "homoglyph scheme (Cyrillic e)", get("B\u0435arer " + unbound), 401, middleware.ErrNoCredentials},
		{"header smuggling", "CR LF inside the value", get("Bearer " + unbound + "\r\nX-Admin: 1"), 400, middleware.ErrMalformedRequest},
		{"header smuggling", "two DPoP headers", func() *http.Request {
			r := withDPoP(bound, hp(bound, nil))()
			r.Header.Add("DPoP", handProof(t, client, clk.Now(), bound, nil))
			return r
		}, 401, middleware.ErrMultipleProofs},
		{"header smuggling", "control: mixed-case scheme", get("bEaReR " + unbound), 200, nil},

		// Forwarded headers from untrusted addresses.
		{"forwarded spoofing", "X-Forwarded-Host from an untrusted address moves htu", func() *http.Request {
			r := withDPoP(bound, hp(bound, func(h, c map[string]any) { c["htu"] = "https://evil.example/r" }))()
			r.Header.Set("X-Forwarded-Host", "evil.example")
			return r
		}, 401, dpop.ErrURL},
		{"forwarded spoofing", "Forwarded host from an untrusted address moves htu", func() *http.Request {
			r := withDPoP(bound, hp(bound, func(h, c map[string]any) { c["htu"] = "http://evil.example/r" }))()
			r.Header.Set("Forwarded", "proto=http;host=evil.example")
			return r
		}, 401, dpop.ErrURL},
		{"forwarded spoofing", "control: same header from the trusted proxy", func() *http.Request {
			r := withDPoP(bound, hp(bound, func(h, c map[string]any) { c["htu"] = "https://proxy.example/r" }))()
			r.Header.Set("X-Forwarded-Host", "proxy.example")
			r.RemoteAddr = "10.0.0.1:5555"
			return r
		}, 200, nil},
		{"forwarded spoofing", "forwarded client certificate from an untrusted address", func() *http.Request {
			r := get("Bearer " + certBound)()
			r.Header.Set("X-Client-Cert", url.QueryEscape(string(pemOf(cert))))
			return r
		}, 401, mtls.ErrNoCertificate},
	}
	for _, tc := range rows {
		t.Run(tc.class+"/"+tc.attacks, func(t *testing.T) {
			if tc.want == nil {
				assert.Equal(t, tc.status, serve(g, tc.req()).status)
				return
			}
			_, err := g.Check(tc.req())
			require.ErrorIs(t, err, tc.want)
			var e *middleware.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.status, e.Status)
			a := serve(g, tc.req())
			assert.Equal(t, tc.status, a.status)
			assert.NotEmpty(t, a.challenge)
			assert.NotEqual(t, "u", a.body, "the handler never runs")
		})
	}

	t.Run("replay/within the window", func(t *testing.T) {
		p := handProof(t, client, clk.Now(), bound, nil)
		r := func() *http.Request { rr := get("DPoP " + bound)(); rr.Header.Set("DPoP", p); return rr }
		require.Equal(t, 200, serve(g, r()).status)
		_, err := g.Check(r())
		require.ErrorIs(t, err, dpop.ErrReplayed)
		assert.Equal(t, 401, serve(g, r()).status)
	})
	t.Run("replay/after the window", func(t *testing.T) {
		p := handProof(t, client, clk.Now(), bound, nil)
		r := func() *http.Request { rr := get("DPoP " + bound)(); rr.Header.Set("DPoP", p); return rr }
		require.Equal(t, 200, serve(g, r()).status)
		clk.Add(2 * time.Minute) // past iat window + skew; the cache may forget it now
		_, err := g.Check(r())
		require.ErrorIs(t, err, dpop.ErrIssuedAt)
		assert.Equal(t, 401, serve(g, r()).status)
	})
}

// stdB64Thumb rewrites a base64url thumbprint in the standard alphabet, with
// padding, forcing at least one character that differs.
func stdB64Thumb(jkt string) string {
	b, _ := base64.RawURLEncoding.DecodeString(jkt)
	s := base64.StdEncoding.EncodeToString(b)
	if !strings.ContainsAny(s, "+/") {
		s = "+" + s[1:]
	}
	return s
}
