// Package interop holds senderbound's interoperability tests: the Guard and
// the example resource server against a real, independent authorization
// server, panva's oidc-provider (see package [oidcprovider] for why that
// one), started by the tests on 127.0.0.1.
//
// It is a module of its own that nothing imports, so that users of the
// core never download what it needs. The tests need Node.js and the
// authorization server's npm packages:
//
//	npm ci --prefix interop/oidcprovider
//
// .ci/run does that; without them the tests skip, and fail when CI is set.
package interop
