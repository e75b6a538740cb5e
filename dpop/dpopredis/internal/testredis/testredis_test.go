package testredis

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStartStopRestart(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	c := s.Client()
	require.NoError(t, c.Ping(ctx).Err())
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	addr := s.Addr()

	s.Stop()
	assert.False(t, ping(addr), "server still answers after Stop")
	s.Stop() // idempotent

	s.Restart()
	assert.Equal(t, addr, s.Addr(), "Restart keeps the address")
	require.NoError(t, c.Ping(ctx).Err(), "the same client reconnects")
	n, err := c.Exists(ctx, "k").Result()
	require.NoError(t, err)
	assert.Zero(t, n, "a restarted server starts empty (no persistence)")
}

func TestTwoServersAreIndependent(t *testing.T) {
	a, b := Start(t), Start(t)
	require.NotEqual(t, a.Addr(), b.Addr())
	ctx := context.Background()
	require.NoError(t, a.Client().Set(ctx, "k", "a", 0).Err())
	n, err := b.Client().Exists(ctx, "k").Result()
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestMissingRedisSkipsOutsideCI(t *testing.T) {
	var skipped bool
	t.Run("no redis-server", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		t.Setenv("CI", "")
		defer func() { skipped = t.Skipped() }()
		Start(t)
		t.Error("Start returned without redis-server on PATH")
	})
	assert.True(t, skipped, "Start must skip when redis-server is missing and CI is unset")
}

// TestMissingRedisFailsInCI runs this test binary again with CI set and an
// empty PATH; the child must fail, not skip, for a server, a replica and a
// cluster alike.
func TestMissingRedisFailsInCI(t *testing.T) {
	switch os.Getenv("TESTREDIS_CHILD") {
	case "":
	case "server":
		Start(t)
		return
	case "cluster":
		StartCluster(t, 3, 0)
		return
	case "replica":
		t.Setenv("PATH", os.Getenv("TESTREDIS_PATH")) // the primary starts
		p := Start(t)
		t.Setenv("PATH", "")
		StartReplica(t, p)
		return
	}
	// A PATH with redis-server but no redis-cli.
	serverOnly := t.TempDir()
	if server, err := exec.LookPath("redis-server"); err == nil {
		require.NoError(t, os.Symlink(server, serverOnly+"/redis-server"))
	}
	for _, tt := range []struct{ name, child, path, missing string }{
		{"server", "server", t.TempDir(), "redis-server"},
		{"cluster", "cluster", t.TempDir(), "redis-server"},
		{"cluster without redis-cli", "cluster", serverOnly, "redis-cli"},
		{"replica", "replica", t.TempDir(), "redis-server"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestMissingRedisFailsInCI$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "TESTREDIS_CHILD="+tt.child, "CI=true",
				"TESTREDIS_PATH="+os.Getenv("PATH"), "PATH="+tt.path)
			out, err := cmd.CombinedOutput()
			var exitErr *exec.ExitError
			require.ErrorAs(t, err, &exitErr, "child must fail in CI without redis-server; output:\n%s", out)
			assert.NotEqual(t, 0, exitErr.ExitCode())
			assert.Contains(t, string(out), tt.missing+" not found on PATH (CI is set, so this is a failure)")
			assert.NotContains(t, string(out), "--- SKIP")
		})
	}
}

func TestClusterKillRestart(t *testing.T) {
	c := StartCluster(t, 3, 0)
	ctx := context.Background()
	cc := c.Client()
	keys := []string{"a", "b", "c", "d", "e", "f"}
	masters := map[string]bool{}
	for _, k := range keys {
		require.NoError(t, cc.Set(ctx, k, "v", 0).Err())
		masters[c.MasterFor(k).Addr()] = true
	}
	assert.Len(t, masters, 3, "six keys spread over the three masters")

	m := c.MasterFor("a")
	m.Kill()
	assert.False(t, m.Running())
	assert.Error(t, c.healthy(ctx), "a killed master leaves its slots unserved")
	m.Restart()
	c.WaitHealthy()
	assert.Equal(t, m.Addr(), c.MasterFor("a").Addr(), "the restarted master serves its slots again")
	n, err := cc.Exists(ctx, "a").Result()
	require.NoError(t, err)
	assert.Zero(t, n, "a restarted node starts empty (no persistence)")
}

func TestClusterFailover(t *testing.T) {
	c := StartCluster(t, 3, 1)
	assert.Len(t, c.Nodes(), 6)
	m := c.MasterFor("a")
	m.Kill()
	c.WaitHealthy()
	assert.NotEqual(t, m.Addr(), c.MasterFor("a").Addr(), "a replica took over the killed master's slots")
}

func TestReplica(t *testing.T) {
	p := Start(t)
	r := StartReplica(t, p)
	ctx := context.Background()
	require.NoError(t, p.Client().Set(ctx, "k", "v", 0).Err())
	acked, err := p.Client().Wait(ctx, 1, 5*time.Second).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), acked)
	v, err := r.Client().Get(ctx, "k").Result()
	require.NoError(t, err)
	assert.Equal(t, "v", v)
}
