package dpopredis_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/senderbound/senderbound/dpop/dpopredis/internal/testredis"
)

// quietRedis drops go-redis's own log lines (a fault test makes it log every
// refused dial), so that a failing test's output shows the failure.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// TestMain starts the Redis that Example_fleet's instances share, and sets
// the environment the fleet snippet of docs/fleet.md reads: REDIS_ADDRS, a
// DPOP_NONCE_SECRET, and no DPOP_NONCE_SECRET_PREVIOUS (no rotation under
// way). Without redis-server, Example_fleet is skipped, saying so, unless CI
// is set: then the run fails, like every other Redis test.
func TestMain(m *testing.M) {
	flag.Parse()
	redis.SetLogger(quietRedis{})
	addr, stop, err := testredis.StartMain()
	switch {
	case err == nil:
	case errors.Is(err, testredis.ErrNotInstalled) && os.Getenv("CI") == "":
		fmt.Fprintln(os.Stderr, "skipping Example_fleet:", err)
		skip := "^Example_fleet$"
		if s := flag.Lookup("test.skip").Value.String(); s != "" {
			skip = s + "|" + skip
		}
		_ = flag.Set("test.skip", skip)
	default:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	os.Setenv("REDIS_ADDRS", addr)
	os.Setenv("DPOP_NONCE_SECRET", base64.RawURLEncoding.EncodeToString(secret))
	os.Unsetenv("DPOP_NONCE_SECRET_PREVIOUS")
	code := m.Run()
	if stop != nil {
		stop()
	}
	os.Exit(code)
}
