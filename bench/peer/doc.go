// Package peer measures the same requests as senderbound's benchmarks
// through github.com/auth0/go-jwt-middleware (v2: v3, with DPoP, is not
// published on the Go module proxy at the time of writing), beside
// senderbound and the floor, in the same run. It is a separate module so that
// senderbound's go.mod never depends on the peer; it has no API.
package peer
