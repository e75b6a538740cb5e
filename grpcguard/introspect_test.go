package grpcguard_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/senderbound/senderbound/clientauth"
	"github.com/senderbound/senderbound/introspect"
	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/oauthtest"
)

// TestOpaqueDPoPBound: an opaque DPoP-bound token, introspected at the
// issuer, passes gRPC's Guard.Verify only with a proof by its key.
func TestOpaqueDPoPBound(t *testing.T) {
	e := newEnv(t, envConfig{guardFor: func(t testing.TB, iss *oauthtest.Issuer) []middleware.Option {
		require.NoError(t, iss.RegisterClient(oauthtest.Client{ID: "grpc-api", Secret: "s3cret"}))
		c, err := introspect.New(context.Background(), iss.Issuer(), introspect.WithClientAuth(clientauth.ClientSecretBasic("grpc-api", "s3cret")))
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return []middleware.Option{middleware.WithIntrospection(c)}
	}})
	alice, thief := newSigner(t), newSigner(t)
	tok, err := e.iss.MintOpaque(oauthtest.Token{Subject: "alice", Scope: "read:things", JKT: alice.Thumbprint()})
	require.NoError(t, err)
	conn := e.dial(t, nil)
	for _, stream := range []bool{false, true} {
		method := unaryMethod
		if stream {
			method = streamMethod
		}
		a := call(t, conn, stream, "authorization", "DPoP "+tok, "dpop", proof(t, alice, e.htu(method), tok, ""))
		require.Equal(t, codes.OK, a.code, a.msg)
		assert.Equal(t, "alice", a.subject)
		for _, tc := range []struct {
			name, scheme, err string
			md                []string
		}{
			{"as Bearer", "Bearer", "invalid_token", []string{"authorization", "Bearer " + tok}},
			{"no proof", "DPoP", "invalid_dpop_proof", []string{"authorization", "DPoP " + tok}},
			{"proof by another key", "DPoP", "invalid_token", []string{"authorization", "DPoP " + tok, "dpop", proof(t, thief, e.htu(method), tok, "")}},
		} {
			a := call(t, conn, stream, tc.md...)
			assert.Equal(t, codes.Unauthenticated, a.code, tc.name)
			assert.Equal(t, tc.err, challenge(a.md, tc.scheme, "error"), tc.name)
		}
	}
	assert.Equal(t, 1, e.iss.IntrospectionRequests(), "later calls were answered by the caches")
}
