package middleware

import "context"

// NewContext returns a copy of ctx that carries tok, so that
// [TokenFromContext] and [ClaimsFromContext] find it. [Guard.Handler] does
// this for net/http; adapters for other transports (gRPC interceptors, a
// gateway) call it after [Guard.Verify] succeeded, so that handlers read the
// token through the same accessors whatever the transport.
func NewContext(ctx context.Context, tok *Token) context.Context {
	return context.WithValue(ctx, tokenKey{}, tok)
}
