// Package mcpguard protects Model Context Protocol servers built with the
// official Go SDK (github.com/modelcontextprotocol/go-sdk) with OAuth 2.0
// access tokens, DPoP-bound (RFC 9449) and certificate-bound (RFC 8705)
// ones included, as the MCP authorization specification asks of a remote
// MCP server: an OAuth resource server that checks the token was issued
// for it (aud, RFC 8707), serves protected resource metadata (RFC 9728)
// and points to it from its 401 and 403 challenges.
//
// It is a module of its own, so that programs which use senderbound
// without MCP never download the SDK.
//
// # Server
//
// A [Guard] wraps a [middleware.Guard]; [Guard.Handler] goes in front of
// the SDK's streamable HTTP handler (the package Example shows it whole):
//
//	mux.Handle("/mcp", mg.Handler(mcp.NewStreamableHTTPHandler(getServer, nil)))
//
// Every request (POST, the GET of an SSE stream, DELETE) is verified by
// the middleware.Guard, with its policy, its challenges and its errors:
// Bearer, DPoP with a fresh proof per request (and server nonces), or a
// certificate-bound token on a connection with that certificate. A refused
// request never reaches the SDK.
//
// The verified token reaches the SDK as its auth.TokenInfo, in the request
// context under the SDK's own key, where [auth.TokenInfoFromContext] and a
// tool's [mcp.RequestExtra] find it: UserID is sub, Scopes the scope claim
// and Auth0's permissions, Expiration exp, Extra every claim. That key is
// unexported, and the SDK's [auth.RequireBearerToken] is the only way to
// it, so the Guard calls RequireBearerToken with a verifier that returns
// the TokenInfo the Guard made and nothing else: RequireBearerToken sees a
// fixed placeholder instead of the request's Authorization header (it
// accepts only the Bearer scheme, and must neither take a DPoP-bound token
// for a bearer token nor refuse it), and the MCP server gets the real
// header back. The SDK's own expiry check then runs with a skew of five
// minutes, the largest leeway a middleware.Guard allows, so that it never
// refuses what the Guard accepted. A token without sub is refused (401
// invalid_token): the SDK would bind its session to nobody.
//
// # Sessions
//
// The SDK binds a session (Mcp-Session-Id, protocol versions up to
// 2025-11-25) to the UserID of the request that opened it and answers 403
// to a request of that session with another UserID. So a session opened
// with one subject's token cannot be continued with another's, and a
// session lives on while its client presents fresh proofs and renewed
// tokens for the same subject. When the Guard trusts several issuers whose
// subjects could collide, [WithUserID] puts the issuer into the UserID.
//
// # Tools that need more
//
// [WithTool] makes a tool require scopes or any other
// [middleware.Requirement]. The Guard reads the JSON-RPC message of each
// POST (exact member names; a message that could be read two ways is
// refused with 400) and holds a tools/call of that tool to its
// requirements before the SDK sees it. A token that does not meet them
// gets what [middleware.Guard.Require] answers over plain HTTP:
//
//	HTTP/1.1 403 Forbidden
//	WWW-Authenticate: Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
//	  error="insufficient_scope", error_description="insufficient scope", scope="read:messages"
//	Content-Type: application/json
//
//	{"jsonrpc":"2.0","id":7,"error":{"code":-32003,"message":"insufficient_scope (scope: read:messages)"}}
//
// This is the step-up answer of the MCP authorization specification (a
// client asks for the scope and retries), given for a call inside an
// established session too: each POST carries its own token. The body is a
// JSON-RPC error for the call's id ([CodeForbidden]), so a go-sdk client
// returns it from CallTool and its session goes on, where a bare 403 would
// break the session's connection. The tool never runs. A tool's
// requirements are not in the SDK's tools/list: list them in the tool's
// description if clients should know beforehand.
//
// # Metadata
//
// [MetadataURL] gives where the protected resource metadata of a resource
// is served (the well-known path inserted before the resource's path, RFC
// 9728 §3.1), for [middleware.WithResourceMetadata]; [MetadataHandler]
// serves [middleware.Guard.Metadata] with the CORS headers that browser
// clients need. resource is the MCP server's canonical URI
// ("https://mcp.example.com/mcp"): MCP clients check it against the URL
// they connect to.
//
// # Client
//
// An agent needs no code from this package: a go-sdk client whose
// http.Client has a [dpop.Transport] with a [dpop.ClientCredentials] token
// source obtains DPoP-bound tokens, signs a proof for every request
// (the POSTs and the SSE stream's GET) and answers the server's nonce
// demands.
package mcpguard
