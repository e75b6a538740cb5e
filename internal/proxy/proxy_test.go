package proxy_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/senderbound/senderbound/internal/proxy"
)

func TestTrusted(t *testing.T) {
	prefixes := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	for _, tc := range []struct {
		remote   string
		prefixes []netip.Prefix
		want     bool
	}{
		{"10.1.2.3:443", prefixes, true},
		{"10.1.2.3", prefixes, true},
		{"[::ffff:10.1.2.3]:443", prefixes, true},
		{"[2001:db8::1]:443", prefixes, true},
		{"11.0.0.1:443", prefixes, false},
		{"[fe80::1%eth0]:443", prefixes, false},
		{"not-an-address", prefixes, false},
		{"", prefixes, false},
		{"10.1.2.3:443", nil, false}, // by default nothing is trusted
	} {
		assert.Equal(t, tc.want, proxy.Trusted(tc.remote, tc.prefixes), tc.remote)
	}
}
