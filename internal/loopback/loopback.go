// Package loopback holds the one rule every client in this module uses to
// decide whether a plaintext (http) URL stays on this machine.
package loopback

import (
	"net/netip"
	"net/url"
	"strings"
)

// Host reports whether host (a URL's Hostname, without port or brackets)
// names the loopback interface: the exact name "localhost" (any case), or
// an IP address in 127.0.0.0/8 or ::1. A name that merely starts like one
// ("127.0.0.1.example", "localhost.example.com") is not loopback: it
// resolves wherever its owner wants.
func Host(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback() && ip.Zone() == ""
}

// PlaintextAllowed reports whether u may be fetched over plaintext http:
// its scheme is http and its host is loopback. It is false for every other
// scheme, https included (which needs no such permission).
func PlaintextAllowed(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, "http") && Host(u.Hostname())
}
