package grpcguard

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/metadata"

	"github.com/senderbound/senderbound/middleware"
)

func TestExtract(t *testing.T) {
	const tok = "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"
	tests := []struct {
		name   string
		md     metadata.MD
		want   credential
		code   middleware.ErrorCode
		reason error
	}{
		{"bearer", metadata.MD{"authorization": {"Bearer " + tok}}, credential{scheme: "Bearer", token: tok}, "", nil},
		{"dpop with proof", metadata.MD{"authorization": {"DPoP " + tok}, "dpop": {"p.r.f"}}, credential{scheme: "DPoP", token: tok, proof: "p.r.f"}, "", nil},
		{"scheme case-insensitive", metadata.MD{"authorization": {"dPoP " + tok}}, credential{scheme: "DPoP", token: tok}, "", nil},
		{"several spaces", metadata.MD{"authorization": {"Bearer    " + tok}}, credential{scheme: "Bearer", token: tok}, "", nil},
		{"padding", metadata.MD{"authorization": {"Bearer abc=="}}, credential{scheme: "Bearer", token: "abc=="}, "", nil},
		{"nothing", metadata.MD{}, credential{}, middleware.CodeNone, middleware.ErrNoCredentials},
		{"other scheme", metadata.MD{"authorization": {"Basic " + tok}}, credential{}, middleware.CodeNone, middleware.ErrNoCredentials},
		{"proof without token", metadata.MD{"dpop": {"p.r.f"}}, credential{}, middleware.CodeNone, middleware.ErrNoCredentials},
		{"tab", metadata.MD{"authorization": {"Bearer\t" + tok}}, credential{}, middleware.CodeNone, middleware.ErrNoCredentials},
		{"space then tab", metadata.MD{"authorization": {"Bearer \t" + tok}}, credential{}, middleware.CodeInvalidRequest, middleware.ErrMalformedRequest},
		{"scheme only", metadata.MD{"authorization": {"Bearer"}}, credential{}, middleware.CodeInvalidRequest, middleware.ErrMalformedRequest},
		{"scheme and spaces", metadata.MD{"authorization": {"Bearer   "}}, credential{}, middleware.CodeInvalidRequest, middleware.ErrMalformedRequest},
		{"trailing space", metadata.MD{"authorization": {"Bearer " + tok + " "}}, credential{}, middleware.CodeInvalidRequest, middleware.ErrMalformedRequest},
		{"not token68", metadata.MD{"authorization": {"Bearer a=b"}}, credential{}, middleware.CodeInvalidRequest, middleware.ErrMalformedRequest},
		{"two values", metadata.MD{"authorization": {"Bearer " + tok, "Bearer " + tok}}, credential{}, middleware.CodeInvalidRequest, middleware.ErrMultipleCredentials},
		{"two proofs", metadata.MD{"authorization": {"DPoP " + tok}, "dpop": {"a", "b"}}, credential{}, middleware.CodeInvalidDPoPProof, middleware.ErrMultipleProofs},
		{"too large", metadata.MD{"authorization": {"Bearer " + strings.Repeat("a", 300)}}, credential{}, middleware.CodeInvalidToken, middleware.ErrTokenTooLarge},
		{"too large with spaces", metadata.MD{"authorization": {"Bearer" + strings.Repeat(" ", 100) + strings.Repeat("a", 250)}}, credential{}, middleware.CodeInvalidToken, middleware.ErrTokenTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, e := extract(tt.md["authorization"], tt.md["dpop"], 256)
			if tt.reason == nil {
				require.Nil(t, e)
				assert.Equal(t, tt.want, got)
				return
			}
			require.NotNil(t, e)
			assert.ErrorIs(t, e, tt.reason)
			assert.Equal(t, tt.code, e.Code)
			assert.Equal(t, credential{}, got)
		})
	}
}

// FuzzExtract: whatever the metadata, extraction never panics, and what it
// accepts obeys the rules: a known scheme, a token68 within the limit taken
// from the one authorization value, the single dpop value.
func FuzzExtract(f *testing.F) {
	f.Add("Bearer abc", "", "", false)
	f.Add("DPoP abc.def.ghi", "x.y.z", "", false)
	f.Add("bearer   abc==", "", "", false)
	f.Add("Bearer\tabc", "", "", false)
	f.Add("DPoP a", "p", "q", true)
	f.Add("Basic dXNlcg==", "", "", false)
	f.Fuzz(func(t *testing.T, auth, proof1, proof2 string, twoAuth bool) {
		md := metadata.MD{}
		if auth != "" {
			md["authorization"] = []string{auth}
			if twoAuth {
				md["authorization"] = append(md["authorization"], auth)
			}
		}
		if proof1 != "" {
			md["dpop"] = []string{proof1}
		}
		if proof2 != "" {
			md["dpop"] = append(md["dpop"], proof2)
		}
		c, e := extract(md["authorization"], md["dpop"], 256)
		if e != nil {
			var me *middleware.Error
			if !errors.As(error(e), &me) || (me.Status != http.StatusUnauthorized && me.Status != http.StatusBadRequest) {
				t.Fatalf("rejection %v with status %d", e, me.Status)
			}
			if c != (credential{}) {
				t.Fatalf("rejection returned credentials")
			}
			return
		}
		if twoAuth || len(md["dpop"]) > 1 {
			t.Fatalf("accepted several values")
		}
		if c.scheme != middleware.SchemeBearer && c.scheme != middleware.SchemeDPoP {
			t.Fatalf("scheme %q", c.scheme)
		}
		if !token68(c.token) || len(c.token) > 256 || !strings.HasSuffix(auth, " "+c.token) {
			t.Fatalf("token %q from %q", c.token, auth)
		}
		if !strings.EqualFold(strings.TrimRight(auth[:len(auth)-len(c.token)], " "), c.scheme) {
			t.Fatalf("scheme %q from %q", c.scheme, auth)
		}
		if want := md.Get("dpop"); (len(want) == 0 && c.proof != "") || (len(want) == 1 && c.proof != want[0]) {
			t.Fatalf("proof %q from %q", c.proof, want)
		}
	})
}

func TestChallengeParam(t *testing.T) {
	v := `Bearer realm="api", error="invalid_token", error_description="a \"quoted\" text", DPoP algs="ES256 PS256", error=use_dpop_nonce`
	for _, tt := range []struct {
		scheme, param, want string
		ok                  bool
	}{
		{"Bearer", "realm", "api", true},
		{"bearer", "ERROR", "invalid_token", true},
		{"Bearer", "error_description", `a "quoted" text`, true},
		{"DPoP", "algs", "ES256 PS256", true},
		{"DPoP", "error", "use_dpop_nonce", true},
		{"DPoP", "realm", "", false},
		{"Basic", "realm", "", false},
	} {
		got, ok := ChallengeParam(v, tt.scheme, tt.param)
		assert.Equal(t, tt.ok, ok, tt.scheme+" "+tt.param)
		assert.Equal(t, tt.want, got, tt.scheme+" "+tt.param)
	}
	_, ok := ChallengeParam(`DPoP error="unterminated`, "DPoP", "error")
	assert.False(t, ok)
}

// FuzzChallengeParam: the client reads server metadata with this parser;
// it must never panic or loop, and what it returns lies within the input.
func FuzzChallengeParam(f *testing.F) {
	f.Add(`DPoP algs="ES256", error="use_dpop_nonce"`, "DPoP", "error")
	f.Add(`Bearer realm="a\"b", DPoP error=x`, "Bearer", "realm")
	f.Add(`Basic abc==, DPoP error="x"`, "DPoP", "error")
	f.Fuzz(func(t *testing.T, v, scheme, param string) {
		got, ok := ChallengeParam(v, scheme, param)
		if !ok && got != "" {
			t.Fatalf("value %q without ok", got)
		}
		if len(got) > len(v) {
			t.Fatalf("value longer than the input")
		}
	})
}
