package oauthtest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// IntrospectionPath is the path of the introspection endpoint (RFC 7662),
// relative to the issuer's base URL; it is advertised as
// introspection_endpoint in the discovery metadata.
const IntrospectionPath = "/oauth/introspect"

// introspectionJWT is RFC 9701's media type of a signed answer.
const introspectionJWT = "application/token-introspection+jwt"

// opaqueToken is what the issuer knows about one opaque token it minted.
type opaqueToken struct {
	claims    jwt.MapClaims
	tokenType string
	expires   time.Time
	revoked   bool
}

// IntrospectionURL returns the URL of the introspection endpoint.
func (i *Issuer) IntrospectionURL() string { return i.srv.URL + IntrospectionPath }

// MintOpaque returns a new opaque (reference) access token: 256 random
// bits, meaningless without the issuer, whose claims are those [Issuer.Mint]
// would sign for t (exp included). Its introspection answer holds them
// with active true while it is neither expired (by the issuer's clock) nor
// revoked ([Issuer.RevokeToken]), and token_type DPoP when t.JKT is set,
// else Bearer (RFC 9449 §6.2).
func (i *Issuer) MintOpaque(t Token) (string, error) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	token := "ot_" + base64.RawURLEncoding.EncodeToString(b)
	claims := i.claims(t)
	rec := &opaqueToken{claims: claims, tokenType: "Bearer"}
	if t.JKT != "" {
		rec.tokenType = "DPoP"
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		rec.expires = exp.Time
	}
	i.tokens.mu.Lock()
	i.tokens.opaque[token] = rec
	i.tokens.mu.Unlock()
	return token, nil
}

// RevokeToken revokes an opaque token (RFC 7009's effect): from now on its
// introspection answer is active false. Unknown tokens are ignored.
func (i *Issuer) RevokeToken(token string) {
	i.tokens.mu.Lock()
	defer i.tokens.mu.Unlock()
	if rec, ok := i.tokens.opaque[token]; ok {
		rec.revoked = true
	}
}

// IntrospectionRequests returns how many requests the introspection
// endpoint received, refused ones included.
func (i *Issuer) IntrospectionRequests() int {
	return int(i.introspections.Load())
}

// SetIntrospectionFault changes how introspection requests are answered
// from now on: Delay, Down, Status, Garbage and Oversized as for discovery
// (Oversized pads the real answer), and the faults that only an
// introspection answer can have: ActiveAsString, WrongIssuer,
// WrongAudience. The zero Fault means normal service.
func (i *Issuer) SetIntrospectionFault(f Fault) {
	i.mu.Lock()
	i.introspectionFault = f
	i.mu.Unlock()
}

// serveIntrospection answers an RFC 7662 §2.1 request from a registered
// client (authenticated as at the token endpoint): active true with the
// token's claims, token_type and cnf; active false for a token that is
// unknown, expired or revoked. With Accept: application/token-introspection+jwt
// the answer is an RFC 9701 JWT signed with the current key: typ
// token-introspection+jwt, iss the issuer, aud the client's ID, iat, and
// token_introspection the answer.
func (i *Issuer) serveIntrospection(w http.ResponseWriter, r *http.Request) {
	i.introspections.Add(1)
	w.Header().Set("Cache-Control", "no-store")
	fail := func(e *oauthError) {
		if e.status == http.StatusUnauthorized && strings.HasPrefix(r.Header.Get("Authorization"), "Basic ") {
			w.Header().Set("WWW-Authenticate", `Basic realm="introspection"`)
		}
		body, _ := json.Marshal(map[string]string{"error": e.code, "error_description": e.description})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(e.status)
		_, _ = w.Write(body)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenRequest)
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		fail(&oauthError{http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded"})
		return
	}
	if err := r.ParseForm(); err != nil {
		fail(&oauthError{http.StatusBadRequest, "invalid_request", "unreadable form"})
		return
	}
	form := r.PostForm
	for name, v := range form {
		if len(v) > 1 {
			fail(&oauthError{http.StatusBadRequest, "invalid_request", "parameter " + name + " repeated"})
			return
		}
	}
	client, e := i.authenticate(r, form)
	if e != nil {
		fail(e)
		return
	}
	token := form.Get("token")
	if token == "" {
		fail(&oauthError{http.StatusBadRequest, "invalid_request", "no token"})
		return
	}
	i.mu.RLock()
	f := i.introspectionFault
	i.mu.RUnlock()

	answer := map[string]any{"active": false}
	i.tokens.mu.Lock()
	rec, ok := i.tokens.opaque[token]
	if ok && !rec.revoked && (rec.expires.IsZero() || i.now().Before(rec.expires)) {
		answer = cloneClaims(rec.claims)
		answer["active"] = true
		if _, set := answer["token_type"]; !set { // Token.Claims may set it
			answer["token_type"] = rec.tokenType
		}
	}
	i.tokens.mu.Unlock()
	if f.ActiveAsString {
		if answer["active"] == true {
			answer["active"] = "true"
		} else {
			answer["active"] = "false"
		}
	}
	object, err := json.Marshal(answer)
	if err != nil {
		fail(&oauthError{http.StatusInternalServerError, "server_error", "cannot marshal"})
		return
	}
	body, contentType := object, "application/json"
	if acceptsJWT(r.Header.Get("Accept")) {
		iss, aud := i.iss, client.ID
		if f.WrongIssuer {
			iss = "https://attacker.example/"
		}
		if f.WrongAudience {
			aud = "another-resource-server"
		}
		signed, err := i.signIntrospection(iss, aud, answer)
		if err != nil {
			fail(&oauthError{http.StatusInternalServerError, "server_error", "cannot sign"})
			return
		}
		body, contentType = []byte(signed), introspectionJWT
	}
	if i.faultResponse(w, r, body, f) {
		return
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(body)
}

// acceptsJWT reports whether an Accept header asks for RFC 9701 answers.
func acceptsJWT(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == introspectionJWT {
			return true
		}
	}
	return false
}

// signIntrospection signs an RFC 9701 §5 answer with the current key.
func (i *Issuer) signIntrospection(iss, aud string, answer map[string]any) (string, error) {
	kid := i.CurrentKeyID()
	i.mu.RLock()
	k, ok := i.keys[kid]
	i.mu.RUnlock()
	if !ok {
		return "", errors.New("oauthtest: no current key")
	}
	tok := jwt.NewWithClaims(signingMethod(k.alg), jwt.MapClaims{
		"iss":                 iss,
		"aud":                 aud,
		"iat":                 i.now().Unix(),
		"token_introspection": answer,
	})
	tok.Header["typ"] = "token-introspection+jwt"
	tok.Header["kid"] = k.kid
	return tok.SignedString(k.priv)
}
