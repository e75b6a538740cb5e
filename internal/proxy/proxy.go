// Package proxy decides whether a request came from a trusted proxy, so that
// forwarded headers (certificates, scheme, host) are honoured only from the
// addresses an operator configured.
package proxy

import (
	"net/netip"
)

// Trusted reports whether remoteAddr (an http.Request.RemoteAddr,
// "host:port" or a bare address) lies in one of the prefixes. An empty list,
// or an address that does not parse, is never trusted.
func Trusted(remoteAddr string, prefixes []netip.Prefix) bool {
	if len(prefixes) == 0 {
		return false
	}
	addr, err := netip.ParseAddrPort(remoteAddr)
	var ip netip.Addr
	if err == nil {
		ip = addr.Addr()
	} else if ip, err = netip.ParseAddr(remoteAddr); err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
