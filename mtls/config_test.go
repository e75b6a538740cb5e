package mtls_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/mtls"
)

// TestNewSourceRefusesContradictoryConfiguration: a forwarded
// certificate header that no proxy is trusted to send, and a trusted prefix
// that holds every client, are refused by NewSource, each with its own
// message, all at once.
func TestNewSourceRefusesContradictoryConfiguration(t *testing.T) {
	header := mtls.WithForwardedHeader("X-Client-Cert", mtls.EscapedPEM)
	proxies := mtls.WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8"))
	tests := []struct {
		name string
		opts []mtls.Option
		msgs []string
	}{
		{"forwarded header, no trusted proxies", []mtls.Option{header}, []string{"WithForwardedHeader without WithTrustedProxies"}},
		{"forwarded header, empty proxy list", []mtls.Option{header, mtls.WithTrustedProxies()}, []string{"WithForwardedHeader without WithTrustedProxies"}},
		{"every IPv4 address", []mtls.Option{header, mtls.WithTrustedProxies(netip.MustParsePrefix("0.0.0.0/0"))}, []string{"0.0.0.0/0"}},
		{"every IPv6 address", []mtls.Option{header, mtls.WithTrustedProxies(netip.MustParsePrefix("::/0"))}, []string{"::/0"}},
		{"every IPv4-mapped address", []mtls.Option{header, mtls.WithTrustedProxies(netip.MustParsePrefix("::ffff:0:0/96"))}, []string{"::ffff:0.0.0.0/96"}},
		{"a prefix holding every IPv4-mapped address", []mtls.Option{header, mtls.WithTrustedProxies(netip.MustParsePrefix("::/64"))}, []string{"::/64"}},
		{"all at once", []mtls.Option{header, mtls.WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0"))},
			[]string{"0.0.0.0/0", "::/0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mtls.NewSource(tc.opts...)
			require.ErrorIs(t, err, mtls.ErrInvalidOption)
			for _, m := range tc.msgs {
				assert.Contains(t, err.Error(), m)
			}
			assert.Len(t, strings.Split(err.Error(), "\n"), len(tc.msgs), "one line per problem")
		})
	}
	for _, ok := range []struct {
		name string
		opts []mtls.Option
	}{
		{"header and proxies", []mtls.Option{header, proxies}},
		{"proxies before header", []mtls.Option{proxies, header}},
		{"one mapped proxy", []mtls.Option{header, mtls.WithTrustedProxies(netip.MustParsePrefix("::ffff:10.0.0.1/128"))}},
		{"no options", nil},
	} {
		t.Run(ok.name, func(t *testing.T) {
			_, err := mtls.NewSource(ok.opts...)
			require.NoError(t, err)
		})
	}
}
