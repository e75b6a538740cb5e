package main

import (
	"bytes"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
