package middleware_test

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/middleware"
)

// TestNewRefusesContradictoryConfiguration: options that cannot
// mean what they say are refused by New, each with its own message, all at
// once.
func TestNewRefusesContradictoryConfiguration(t *testing.T) {
	iss := newIssuer(t)
	keys := newKeys(t, iss)
	tests := []struct {
		name string
		opts []middleware.Option
		msgs []string
	}{
		{"mechanism none, required", []middleware.Option{middleware.WithProofOfPossession(middleware.MechanismNone, true)},
			[]string{"mechanism none cannot be required"}},
		{"every IPv4 address trusted", []middleware.Option{middleware.WithTrustedProxies(netip.MustParsePrefix("0.0.0.0/0"))},
			[]string{"0.0.0.0/0"}},
		{"every IPv6 address trusted", []middleware.Option{middleware.WithTrustedProxies(netip.MustParsePrefix("::/0"))},
			[]string{"::/0"}},
		{"every IPv4-mapped address trusted", []middleware.Option{middleware.WithTrustedProxies(netip.MustParsePrefix("::ffff:0:0/96"))},
			[]string{"::ffff:0.0.0.0/96"}},
		{"a prefix holding every IPv4-mapped address", []middleware.Option{middleware.WithTrustedProxies(netip.MustParsePrefix("::/80"))},
			[]string{"::/80"}},
		{"invalid prefix", []middleware.Option{middleware.WithTrustedProxies(netip.Prefix{})},
			[]string{"not valid"}},
		{"all at once", []middleware.Option{
			middleware.WithProofOfPossession(middleware.MechanismNone, true),
			middleware.WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")),
		}, []string{"mechanism none cannot be required", "0.0.0.0/0", "::/0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := middleware.New(keys, append([]middleware.Option{middleware.WithAudience(audience)}, tc.opts...)...)
			require.Error(t, err)
			for _, m := range tc.msgs {
				assert.Contains(t, err.Error(), m)
			}
			assert.Len(t, strings.Split(err.Error(), "\n"), len(tc.msgs), "one line per problem")
		})
	}
	for _, ok := range []struct {
		name string
		opts []middleware.Option
	}{
		{"mechanism none, not required", []middleware.Option{middleware.WithProofOfPossession(middleware.MechanismNone, false)}},
		{"proxies in a private range", []middleware.Option{middleware.WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"))}},
		{"one mapped proxy", []middleware.Option{middleware.WithTrustedProxies(netip.MustParsePrefix("::ffff:10.0.0.1/128"))}},
	} {
		t.Run(ok.name, func(t *testing.T) {
			_, err := middleware.New(keys, append([]middleware.Option{middleware.WithAudience(audience)}, ok.opts...)...)
			require.NoError(t, err)
		})
	}
}

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

func (h *logRecorder) warnings() []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []slog.Record
	for _, r := range h.records {
		if r.Level == slog.LevelWarn {
			out = append(out, r)
		}
	}
	return out
}

// TestNewWarnsWithoutPublicURL: a Guard that can check DPoP proofs
// but has neither a public URL nor trusted proxies checks htu against the
// request's own Host; New says so once, with the fix.
func TestNewWarnsWithoutPublicURL(t *testing.T) {
	iss := newIssuer(t)
	keys := newKeys(t, iss)
	tests := []struct {
		name string
		opts []middleware.Option
		warn bool
	}{
		{"default (mechanism none also accepts DPoP-bound tokens)", nil, true},
		{"dpop", []middleware.Option{middleware.WithProofOfPossession(middleware.MechanismDPoP, false)}, true},
		{"dpop, required", []middleware.Option{middleware.WithProofOfPossession(middleware.MechanismDPoP, true)}, true},
		{"dpop with a public URL", []middleware.Option{middleware.WithProofOfPossession(middleware.MechanismDPoP, true),
			middleware.WithPublicURL("https://api.example.com")}, false},
		{"dpop with trusted proxies", []middleware.Option{middleware.WithProofOfPossession(middleware.MechanismDPoP, true),
			middleware.WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8"))}, false},
		{"mtls (no DPoP proof is ever checked)", []middleware.Option{middleware.WithProofOfPossession(middleware.MechanismMTLS, true)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &logRecorder{}
			opts := append([]middleware.Option{middleware.WithAudience(audience), middleware.WithLogger(slog.New(rec))}, tc.opts...)
			_, err := middleware.New(keys, opts...)
			require.NoError(t, err)
			warnings := rec.warnings()
			if !tc.warn {
				assert.Empty(t, warnings)
				return
			}
			require.Len(t, warnings, 1)
			msg := warnings[0].Message
			assert.Contains(t, msg, "Host")
			assert.Contains(t, msg, "another deployment")
			assert.Contains(t, msg, "WithPublicURL")
		})
	}
	t.Run("without a logger, to slog.Default", func(t *testing.T) {
		rec := &logRecorder{}
		prev := slog.Default()
		slog.SetDefault(slog.New(rec))
		t.Cleanup(func() { slog.SetDefault(prev) })
		_, err := middleware.New(keys, middleware.WithAudience(audience), middleware.WithProofOfPossession(middleware.MechanismDPoP, true))
		require.NoError(t, err)
		require.Len(t, rec.warnings(), 1)
		_, err = middleware.New(keys, middleware.WithAudience(audience), middleware.WithPublicURL("https://api.example.com"))
		require.NoError(t, err)
		require.Len(t, rec.warnings(), 1, "no second warning")
	})
	t.Run("a refused configuration does not warn", func(t *testing.T) {
		rec := &logRecorder{}
		_, err := middleware.New(keys, middleware.WithLogger(slog.New(rec)))
		require.Error(t, err)
		assert.Empty(t, rec.warnings())
	})
}
