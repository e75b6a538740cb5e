package middleware_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/middleware"
)

// FuzzCheck drives a whole request through Guard.Check with a fuzzed
// Authorization value and DPoP header. Property: a request is accepted only
// when it carries exactly one of the credentials valid for this Guard (the
// unbound token as Bearer, or the bound token as DPoP with its proof), and
// every rejection is an *Error with a 4xx status that never echoes the token.
func FuzzCheck(f *testing.F) {
	w := newFixedWorld(f)
	f.Add("Bearer "+w.bearer, "")
	f.Add("bearer "+w.bearer, "")
	f.Add("DPoP "+w.bound, w.proof)
	f.Add("Bearer "+w.bound, "")
	f.Add("DPoP "+w.bearer, w.proof)
	f.Add("DPoP "+w.bound, w.proof+", "+w.proof)
	f.Add("Bearer  "+w.bearer, "")
	f.Add("Bearer\t"+w.bearer, "")
	f.Add("Bearer "+w.bearer+"=", "")
	f.Add("Basic dXNlcjpwYXNz", "")
	f.Add("", w.proof)
	f.Add("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "")
	f.Fuzz(func(t *testing.T, auth, proofHeader string) {
		r := httptest.NewRequest(http.MethodGet, resource, nil)
		if auth != "" {
			r.Header["Authorization"] = []string{auth}
		}
		if proofHeader != "" {
			r.Header["Dpop"] = []string{proofHeader}
		}
		tok, err := w.g.Check(r)
		scheme, token, _ := strings.Cut(auth, " ")
		token = strings.TrimLeft(token, " ") // 1*SP (RFC 9110 §11.4)
		if err == nil {
			switch {
			case strings.EqualFold(scheme, "Bearer") && sameJWS(token, w.bearer):
				require.Equal(t, middleware.MechanismNone, tok.Binding.Mechanism)
			case strings.EqualFold(scheme, "DPoP") && sameJWS(token, w.bound) && sameJWS(proofHeader, w.proof):
				require.Equal(t, middleware.MechanismDPoP, tok.Binding.Mechanism)
				require.Equal(t, w.signer.Thumbprint(), tok.Binding.Thumbprint)
			default:
				t.Fatalf("accepted a credential that was never issued: %q / %q", auth, proofHeader)
			}
			return
		}
		var e *middleware.Error
		require.ErrorAs(t, err, &e)
		require.True(t, e.Status == 400 || e.Status == 401, "status %d", e.Status)
		if len(token) >= 16 {
			require.NotContains(t, e.Description, token)
			require.NotContains(t, e.Error(), token)
		}
	})
}

// FuzzVerifyToken signs fuzzed JOSE headers and claims with the trusted
// issuer's key, so that the fuzzer reaches claim validation rather than
// failing at the signature. Property: a token is accepted only when an
// independent reading of its JSON says it should be: alg ES256, no crit,
// iss exact, aud containing the audience, exp in the future, nbf and iat not
// in the future, and no binding, since it is presented without a proof or a
// certificate (a bound token is never accepted as Bearer).
func FuzzVerifyToken(f *testing.F) {
	w := newFixedWorld(f)
	kid := w.iss.CurrentKeyID()
	key, ok := w.iss.PrivateKey(kid).(*ecdsa.PrivateKey)
	require.True(f, ok)
	iss := w.iss.Issuer()
	exp, iat := hzNow.Unix()+3600, hzNow.Unix()
	h := func(s string) []byte { return []byte(s) }
	claims := func(extra string) []byte {
		return []byte(`{"iss":"` + iss + `","sub":"u","aud":"` + audience + `","iat":` + itoa(iat) + `,"exp":` + itoa(exp) + extra + `}`)
	}
	hdr := h(`{"alg":"ES256","kid":"` + kid + `","typ":"JWT"}`)
	f.Add(hdr, claims(""), true)
	f.Add(hdr, claims(`,"cnf":{"jkt":"`+w.signer.Thumbprint()+`"}`), true)
	f.Add(hdr, claims(`,"cnf":{"x5t#S256":"`+w.signer.Thumbprint()+`"}`), true)
	f.Add(hdr, claims(`,"cnf":{"jkt":null}`), true)
	f.Add(hdr, claims(`,"cnf":[]`), true)
	f.Add(hdr, claims(`,"exp":"9999999999"`), true)
	f.Add(hdr, claims(`,"exp":1e300`), true)
	f.Add(hdr, claims(`,"aud":{"a":"b"}`), true)
	f.Add(hdr, claims(`,"aud":["x","`+audience+`"]`), true)
	f.Add(hdr, claims(`,"nbf":`+itoa(exp)), true)
	f.Add(hdr, claims(`,"EXP":1`), true)
	f.Add(h(`{"alg":"ES256","kid":"`+kid+`","crit":["x"],"x":1}`), claims(""), true)
	f.Add(h(`{"alg":"none","kid":"`+kid+`"}`), claims(""), false)
	f.Add(h(`{"alg":"ES256","alg":"HS256","kid":"`+kid+`"}`), claims(""), true)
	f.Add(h(`{"alg":"ES256","kid":"../../etc/passwd"}`), claims(""), true)
	f.Add(hdr, []byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`), true)
	enc := base64.RawURLEncoding.EncodeToString
	f.Fuzz(func(t *testing.T, header, payload []byte, asBearer bool) {
		input := enc(header) + "." + enc(payload)
		sig, err := jwt.SigningMethodES256.Sign(input, key)
		require.NoError(t, err)
		token := input + "." + enc(sig)
		scheme := middleware.SchemeBearer
		if !asBearer {
			scheme = middleware.SchemeDPoP
		}
		got, verr := w.g.Verify(context.Background(), middleware.Request{
			Scheme: scheme, Token: token, Method: http.MethodGet, URL: w.resource,
		})
		want := independentlyValid(header, payload, iss)
		if verr == nil {
			require.True(t, asBearer, "accepted as DPoP without a proof")
			require.NoError(t, want, "accepted a token that should be refused; header %q claims %q", header, payload)
			require.False(t, got.Claims.Confirmation().Bound(), "bound token accepted as Bearer")
			require.Equal(t, iss, got.Claims.Issuer())
			require.Contains(t, got.Claims.Audience(), audience)
			return
		}
		var e *middleware.Error
		require.ErrorAs(t, verr, &e)
		require.Equal(t, http.StatusUnauthorized, e.Status)
		require.NotContains(t, verr.Error(), token)
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

var errIndependent = errors.New("independent check failed")

// independentlyValid decides, without the package's code, whether a token
// with this header and these claims may be accepted as a plain Bearer token
// at hzNow with the default 30 s leeway. It reads JSON into maps (so
// duplicate members resolve to the last, as encoding/json does), and matches
// member names exactly (case-sensitively), as RFC 7519 requires.
func independentlyValid(header, payload []byte, iss string) error {
	var h, c map[string]any
	if json.Unmarshal(header, &h) != nil || json.Unmarshal(payload, &c) != nil || h == nil || c == nil {
		return errIndependent
	}
	if h["alg"] != "ES256" {
		return errIndependent
	}
	if _, ok := h["crit"]; ok {
		return errIndependent
	}
	if c["iss"] != iss {
		return errIndependent
	}
	now, leeway := float64(hzNow.Unix()), 30.0
	num := func(name string, required bool) (float64, bool) {
		v, present := c[name]
		if !present || v == nil {
			return 0, !required
		}
		n, ok := v.(float64)
		return n, ok
	}
	exp, ok := num("exp", true)
	if !ok || !(now < exp+leeway) {
		return errIndependent
	}
	if nbf, ok := num("nbf", false); !ok || nbf > now+leeway {
		return errIndependent
	}
	if iat, ok := num("iat", false); !ok || iat > now+leeway {
		return errIndependent
	}
	switch aud := c["aud"].(type) {
	case string:
		if aud != audience {
			return errIndependent
		}
	case []any:
		found := false
		for _, a := range aud {
			s, ok := a.(string)
			if !ok {
				return errIndependent
			}
			found = found || s == audience
		}
		if !found {
			return errIndependent
		}
	default:
		return errIndependent
	}
	if cnf, ok := c["cnf"].(map[string]any); ok {
		for _, m := range []string{"jkt", "x5t#S256"} {
			if v, present := cnf[m]; present && v != nil {
				return errIndependent // bound: never valid as Bearer
			}
		}
	}
	return nil
}

// FuzzChallenge drives Guard.WriteError with fuzzed description, scope and
// realm and parses every WWW-Authenticate value back with an independent
// RFC 7235 parser. Property: whatever the input, each header field is one
// challenge that parses, contains no control characters (so it can never
// split the response), and carries the same attributes, each value intact
// or with only the bytes removed that a quoted-string cannot hold.
func FuzzChallenge(f *testing.F) {
	w := newFixedWorld(f)
	f.Add("invalid token", "read:messages", "api", uint8(1))
	f.Add("line\r\nSet-Cookie: x=1", "a\"b", "re\"alm", uint8(2))
	f.Add(`back\slash "quoted"`, "é ü", "\x00\x7f", uint8(3))
	f.Add("", "", "", uint8(0))
	f.Add(", error=\"forged\"", "x\", error=\"y", "r\", Bearer realm=\"z", uint8(4))
	codes := []middleware.ErrorCode{middleware.CodeNone, middleware.CodeInvalidRequest, middleware.CodeInvalidToken,
		middleware.CodeInsufficientScope, middleware.CodeInvalidDPoPProof, middleware.CodeUseDPoPNonce}
	algs := strings.Join(dpopAlgs(w.g), " ")
	f.Fuzz(func(t *testing.T, desc, scope, realm string, code uint8) {
		opts := []middleware.Option{middleware.WithAudience(audience)}
		if realm != "" {
			opts = append(opts, middleware.WithRealm(realm))
		}
		g, err := middleware.New(newStaticKeys(w.iss), opts...)
		require.NoError(t, err)
		c := codes[int(code)%len(codes)]
		e := &middleware.Error{Status: 401, Code: c, Description: desc, Scope: scope, Err: middleware.ErrClaims}
		rec := httptest.NewRecorder()
		g.WriteError(rec, e)
		values := rec.Result().Header.Values("WWW-Authenticate")
		require.Len(t, values, 2, "one Bearer and one DPoP challenge")
		for i, v := range values {
			for j := 0; j < len(v); j++ {
				require.False(t, v[j] < 0x20 || v[j] == 0x7f, "control byte %#x in %q", v[j], v)
			}
			chs, err := parseChallenges(v)
			require.NoError(t, err, "%q", v)
			require.Len(t, chs, 1, "one challenge per field: %q", v)
			ch := chs[0]
			require.Equal(t, []string{"Bearer", "DPoP"}[i], ch.scheme)
			want := map[string]string{}
			if realm != "" {
				want["realm"] = quotedSafe(realm)
			}
			if ch.scheme == "DPoP" {
				want["algs"] = algs
			}
			if c != middleware.CodeNone {
				want["error"] = string(c)
				if desc != "" {
					want["error_description"] = quotedSafe(desc)
				}
				if scope != "" {
					want["scope"] = quotedSafe(scope)
				}
			}
			require.Equal(t, want, ch.params, "%q", v)
		}
	})
}

// dpopAlgs reads the algs a Guard advertises from its no-credentials answer.
func dpopAlgs(g *middleware.Guard) []string {
	rec := httptest.NewRecorder()
	g.WriteError(rec, &middleware.Error{Status: 401})
	for _, v := range rec.Result().Header.Values("WWW-Authenticate") {
		if chs, err := parseChallenges(v); err == nil && len(chs) == 1 && chs[0].scheme == "DPoP" {
			return strings.Fields(chs[0].params["algs"])
		}
	}
	return nil
}

// quotedSafe is what may survive of s in a quoted-string that a client will
// read back verbatim: printable ASCII without '"' and '\'.
func quotedSafe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// authChallenge is one parsed RFC 7235 challenge.
type authChallenge struct {
	scheme  string
	token68 string
	params  map[string]string
}

var errChallenge = errors.New("challenge does not parse")

// parseChallenges parses a WWW-Authenticate field value per RFC 7235 §2.1 and
// §4.1 (RFC 9110 §11.6.1):
//
//	challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//	auth-param = token BWS "=" BWS ( token / quoted-string )
//
// It is written independently of the package's writer.
func parseChallenges(s string) ([]authChallenge, error) {
	p := &chParser{s: s}
	var out []authChallenge
	p.ows()
	for !p.done() {
		if p.peek() == ',' { // empty list elements are allowed
			p.i++
			p.ows()
			continue
		}
		scheme := p.token()
		if scheme == "" {
			return nil, errChallenge
		}
		ch := authChallenge{scheme: scheme, params: map[string]string{}}
		if p.done() || p.peek() == ',' {
			out = append(out, ch)
			continue
		}
		if p.sp() == 0 {
			return nil, errChallenge
		}
		// token68 or auth-params: look ahead for token BWS "=" not followed by
		// more "=" / end (token68 may end in '=').
		save := p.i
		if t68 := p.token68(); t68 != "" {
			rest := p.i
			p.ows()
			if p.done() || p.peek() == ',' {
				if !strings.Contains(t68, "=") || !p.looksLikeParam(save) {
					ch.token68 = t68
					out = append(out, ch)
					continue
				}
			}
			_ = rest
		}
		p.i = save
		for {
			name := p.token()
			if name == "" {
				break
			}
			p.ows()
			if p.done() || p.peek() != '=' {
				// not a param: the start of the next challenge
				p.i -= len(name)
				break
			}
			p.i++
			p.ows()
			var val string
			if !p.done() && p.peek() == '"' {
				v, err := p.quoted()
				if err != nil {
					return nil, err
				}
				val = v
			} else {
				val = p.token()
				if val == "" {
					return nil, errChallenge
				}
			}
			lname := strings.ToLower(name)
			if _, dup := ch.params[lname]; dup {
				return nil, errChallenge // RFC 7235 §2.1: each name at most once
			}
			ch.params[lname] = val
			p.ows()
			if p.done() {
				break
			}
			if p.peek() != ',' {
				return nil, errChallenge
			}
			p.i++
			p.ows()
			for !p.done() && p.peek() == ',' {
				p.i++
				p.ows()
			}
			if p.done() {
				break
			}
			// next param, or the next challenge's scheme (token then SP)
			j := p.i
			if n := p.token(); n != "" {
				k := p.i
				p.ows()
				if !p.done() && p.peek() == '=' {
					p.i = j
					continue
				}
				_ = k
			}
			p.i = j
			break
		}
		out = append(out, ch)
	}
	return out, nil
}

type chParser struct {
	s string
	i int
}

func (p *chParser) done() bool { return p.i >= len(p.s) }
func (p *chParser) peek() byte { return p.s[p.i] }

func (p *chParser) ows() {
	for !p.done() && (p.peek() == ' ' || p.peek() == '\t') {
		p.i++
	}
}

func (p *chParser) sp() int {
	n := 0
	for !p.done() && p.peek() == ' ' {
		p.i++
		n++
	}
	return n
}

func isTchar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func (p *chParser) token() string {
	start := p.i
	for !p.done() && isTchar(p.peek()) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *chParser) token68() string {
	start := p.i
	for !p.done() {
		c := p.peek()
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", c) >= 0 {
			p.i++
			continue
		}
		break
	}
	for !p.done() && p.peek() == '=' {
		p.i++
	}
	return p.s[start:p.i]
}

// looksLikeParam reports whether a token followed by BWS "=" BWS and a value
// starts at from (then the text is an auth-param, not a token68).
func (p *chParser) looksLikeParam(from int) bool {
	q := &chParser{s: p.s, i: from}
	if q.token() == "" {
		return false
	}
	q.ows()
	if q.done() || q.peek() != '=' {
		return false
	}
	q.i++
	q.ows()
	return !q.done() && (q.peek() == '"' || isTchar(q.peek()))
}

// quoted reads a quoted-string (RFC 9110 §5.6.4), undoing quoted-pairs.
func (p *chParser) quoted() (string, error) {
	p.i++ // opening DQUOTE
	var b strings.Builder
	for !p.done() {
		c := p.peek()
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c == '\\':
			p.i++
			if p.done() {
				return "", errChallenge
			}
			q := p.peek()
			if !(q == '\t' || q >= 0x20 && q != 0x7f) {
				return "", errChallenge
			}
			b.WriteByte(q)
			p.i++
		case c == '\t' || c == ' ' || c == 0x21 || c >= 0x23 && c <= 0x5b || c >= 0x5d && c <= 0x7e || c >= 0x80:
			b.WriteByte(c)
			p.i++
		default:
			return "", errChallenge
		}
	}
	return "", errChallenge
}

// TestChallengeParser pins the independent parser on known values, so that
// FuzzChallenge's property rests on a parser that is itself right.
func TestChallengeParser(t *testing.T) {
	tests := []struct {
		in   string
		want []authChallenge
		bad  bool
	}{
		{in: `Bearer`, want: []authChallenge{{scheme: "Bearer", params: map[string]string{}}}},
		{in: `Bearer realm="api"`, want: []authChallenge{{scheme: "Bearer", params: map[string]string{"realm": "api"}}}},
		{in: `Bearer realm="a\"b", error=invalid_token`, want: []authChallenge{{scheme: "Bearer",
			params: map[string]string{"realm": `a"b`, "error": "invalid_token"}}}},
		{in: `Basic abc==`, want: []authChallenge{{scheme: "Basic", token68: "abc==", params: map[string]string{}}}},
		{in: `Bearer realm="a", DPoP algs="ES256"`, want: []authChallenge{
			{scheme: "Bearer", params: map[string]string{"realm": "a"}},
			{scheme: "DPoP", params: map[string]string{"algs": "ES256"}}}},
		{in: `Bearer realm="a`, bad: true},
		{in: `Bearer realm="a" error="b"`, bad: true},
		{in: `Bearer realm="a", realm="b"`, bad: true},
		{in: "Bearer realm=\"a\x01\"", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseChallenges(tc.in)
			if tc.bad {
				require.ErrorIs(t, err, errChallenge)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
