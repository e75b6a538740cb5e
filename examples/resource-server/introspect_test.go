package main

import (
	"bytes"
	"crypto/rand"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/oauthtest"
)

func TestIntrospectionFlagsInvalid(t *testing.T) {
	t.Parallel()
	const iss = "https://issuer.example.com/"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"client id without -introspect", []string{"-client-id", "rs", "-client-secret", "s"}, "-client-id needs -introspect"},
		{"jwt without -introspect", []string{"-introspection-jwt"}, "-introspection-jwt needs -introspect"},
		{"cache without -introspect", []string{"-introspection-cache", "1s"}, "-introspection-cache needs -introspect"},
		{"no credentials with -issuer", []string{"-issuer", iss, "-introspect"}, "-introspect needs -client-id and -client-secret"},
		{"id without secret", []string{"-issuer", iss, "-introspect", "-client-id", "rs"}, "-client-id and -client-secret go together"},
		{"secret without id", []string{"-introspect", "-client-secret", "s"}, "-client-id and -client-secret go together"},
		{"negative cache", []string{"-introspect", "-introspection-cache", "-1s"}, "-introspection-cache -1s: negative"},
		{"not a duration", []string{"-introspect", "-introspection-cache", "soon"}, "invalid value \"soon\""},
		{"url without issuer", []string{"-introspection-url", "https://issuer.example.com/introspect"}, "-introspection-url needs -issuer"},
		{"http url off loopback", []string{"-issuer", iss, "-client-id", "rs", "-client-secret", "s",
			"-introspection-url", "http://issuer.example.com/introspect"}, "http is only accepted on loopback"},
		{"relative url", []string{"-issuer", iss, "-client-id", "rs", "-client-secret", "s",
			"-introspection-url", "/introspect"}, "-introspection-url \"/introspect\": not an absolute URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(binary, tt.args...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.Error(t, cmd.Run())
			assert.Equal(t, 2, cmd.ProcessState.ExitCode())
			assert.Contains(t, stderr.String(), tt.want)
			assert.NotContains(t, stdout.String(), "listening on")
		})
	}
}

// printedValue returns the value of the printed line "NAME=value".
func printedValue(t *testing.T, s *server, name string) string {
	t.Helper()
	for _, l := range s.before {
		if v, ok := strings.CutPrefix(l, name+"="); ok {
			return v
		}
	}
	t.Fatalf("no %s= line in %q", name, s.before)
	return ""
}

// printedIssuer is the embedded issuer that s printed.
func printedIssuer(t *testing.T, s *server) string {
	t.Helper()
	for _, l := range s.before {
		if v, ok := strings.CutPrefix(l, "embedded test issuer: "); ok {
			return strings.Fields(v)[0]
		}
	}
	t.Fatalf("no embedded issuer in %q", s.before)
	return ""
}

// TestIntrospectEmbeddedIssuer: with -introspect, the embedded issuer's
// opaque token gets the answers its JWT gets, the printed examples/client
// commands get opaque bearer and DPoP-bound tokens that work, JWTs still
// work, and the protected-resource metadata is unchanged.
func TestIntrospectEmbeddedIssuer(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-introspect"}, {"-introspect", "-introspection-jwt", "-introspection-cache", "0"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			s := start(t, args...)
			base := "http://" + s.addr
			jwt, opaque := printedValue(t, s, "TOKEN"), printedValue(t, s, "OPAQUE_TOKEN")
			require.NotContains(t, opaque, ".", "an opaque token is no JWT")
			assert.Contains(t, strings.Join(s.before, "\n"), "curl -H \"Authorization: Bearer $OPAQUE_TOKEN\" "+base+"/api/scoped")

			for _, path := range []string{"/api/private", "/api/scoped"} {
				fromJWT := decodePrivate(t, do(t, plainClient, http.MethodGet, base+path, bearer(jwt)))
				fromOpaque := decodePrivate(t, do(t, plainClient, http.MethodGet, base+path, bearer(opaque)))
				assert.Equal(t, fromJWT.Subject, fromOpaque.Subject, path)
				assert.Equal(t, "none", fromOpaque.Binding, path)
				for _, claim := range []string{"iss", "sub", "aud", "scope", "azp"} {
					assert.Equal(t, fromJWT.Claims[claim], fromOpaque.Claims[claim], "%s: claim %s", path, claim)
				}
			}
			r := do(t, plainClient, http.MethodGet, base+"/api/private", bearer(rand.Text()))
			assert.Equal(t, http.StatusUnauthorized, r.status, "an unknown opaque token")
			assert.Contains(t, r.challenges(), `error="invalid_token"`)

			cmds := printedCommands(t, s.before, "go run ./examples/client")
			for label, want := range map[string]string{"opaque bearer token": "none", "opaque DPoP-bound token": "dpop"} {
				out, ok := runClient(t, cmds[label].args)
				require.True(t, ok, "%s: %s", label, out)
				assert.Equal(t, want, binding(t, out), label)
			}
			assert.NotContains(t, cmds, "opaque certificate-bound token", "only over HTTPS")

			without := start(t)
			withMeta, withoutMeta := metadata(t, plainClient, base), metadata(t, plainClient, "http://"+without.addr)
			// Each run has its own embedded issuer and address; all else is equal.
			assert.Equal(t, base, withMeta["resource"])
			assert.Equal(t, []any{printedIssuer(t, s)}, withMeta["authorization_servers"])
			for _, m := range []map[string]any{withMeta, withoutMeta} {
				delete(m, "resource")
				delete(m, "authorization_servers")
			}
			assert.Equal(t, withoutMeta, withMeta)
			without.stop(t, syscall.SIGTERM)
			s.stop(t, syscall.SIGTERM)
		})
	}
}

// TestIntrospectEmbeddedIssuerOverTLS: over HTTPS the printed commands
// get a certificate-bound opaque token too, and its files go with the
// server.
func TestIntrospectEmbeddedIssuerOverTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, _ := serverCert(t)
	s := start(t, "-introspect", "-tls-cert", certFile, "-tls-key", keyFile)
	cmds := printedCommands(t, s.before, "go run ./examples/client")
	for label, want := range map[string]string{
		"opaque bearer token":            "none",
		"opaque DPoP-bound token":        "dpop",
		"opaque certificate-bound token": "mtls",
	} {
		out, ok := runClient(t, cmds[label].args)
		require.True(t, ok, "%s: %s", label, out)
		assert.Equal(t, want, binding(t, out), label)
	}
	var files []string
	for i, a := range cmds["opaque certificate-bound token"].args {
		if a == "-cert" || a == "-key" || a == "-ca" {
			files = append(files, cmds["opaque certificate-bound token"].args[i+1])
		}
	}
	require.Len(t, files, 3)
	s.stop(t, syscall.SIGTERM)
	for _, f := range files {
		_, err := os.Stat(f)
		assert.ErrorIs(t, err, os.ErrNotExist, f)
	}
}

// TestOpaqueTokenWithoutIntrospect: without -introspect an opaque token
// is refused as before.
func TestOpaqueTokenWithoutIntrospect(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	opaque, err := iss.MintOpaque(oauthtest.Token{Scope: "read:messages"})
	require.NoError(t, err)
	s := start(t, "-issuer", iss.Issuer())
	r := do(t, plainClient, http.MethodGet, "http://"+s.addr+"/api/private", bearer(opaque))
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Contains(t, r.challenges(), `error="invalid_token"`)
	assert.Zero(t, iss.IntrospectionRequests())
	s.stop(t, syscall.SIGTERM)
}

// TestIntrospectWithIssuer: -introspect with -issuer and the resource
// server's credentials, and -introspection-url, against the test issuer.
func TestIntrospectWithIssuer(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	secret := rand.Text()
	require.NoError(t, iss.RegisterClient(oauthtest.Client{ID: "api", Secret: secret}))
	creds := []string{"-issuer", iss.Issuer(), "-client-id", "api", "-client-secret", secret}
	dpopTok := newSigner(t)
	for _, args := range [][]string{{"-introspect"}, {"-introspection-url", iss.IntrospectionURL()}, {"-introspect", "-introspection-jwt"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			s := start(t, append(creds, args...)...)
			base := "http://" + s.addr
			read, err := iss.MintOpaque(oauthtest.Token{Subject: "u1", Scope: "read:messages"})
			require.NoError(t, err)
			p := decodePrivate(t, do(t, plainClient, http.MethodGet, base+"/api/scoped", bearer(read)))
			assert.Equal(t, "u1", p.Subject)

			none, err := iss.MintOpaque(oauthtest.Token{Subject: "u2", Scope: "profile"})
			require.NoError(t, err)
			r := do(t, plainClient, http.MethodGet, base+"/api/scoped", bearer(none))
			assert.Equal(t, http.StatusForbidden, r.status)
			assert.Contains(t, r.challenges(), `error="insufficient_scope"`)

			other, err := iss.MintOpaque(oauthtest.Token{Subject: "u3", Scope: "read:messages", Audience: []string{"https://other.example.com"}})
			require.NoError(t, err)
			r = do(t, plainClient, http.MethodGet, base+"/api/private", bearer(other))
			assert.Equal(t, http.StatusUnauthorized, r.status, "another audience")

			bound, err := iss.MintOpaque(oauthtest.Token{Subject: "u4", Scope: "read:messages", JKT: dpopTok.Thumbprint()})
			require.NoError(t, err)
			r = do(t, plainClient, http.MethodGet, base+"/api/private", bearer(bound))
			assert.Equal(t, http.StatusUnauthorized, r.status, "a DPoP-bound opaque token sent as Bearer")
			assert.Contains(t, r.challenges(), `error="invalid_token"`)
			proof, err := dpopTok.Proof(http.MethodGet, base+"/api/private", bound, "")
			require.NoError(t, err)
			p = decodePrivate(t, do(t, plainClient, http.MethodGet, base+"/api/private",
				http.Header{"Authorization": {"DPoP " + bound}, "DPoP": {proof}}))
			assert.Equal(t, "dpop", p.Binding)
			s.stop(t, syscall.SIGTERM)
		})
	}
}
