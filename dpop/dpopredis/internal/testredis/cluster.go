package testredis

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// clusterNodeTimeout is how long a node may be unreachable before the
	// others consider it failed and promote a replica: short, so that tests
	// of failover do not wait long, but not so short that a loaded CI
	// machine stalling a process triggers one.
	clusterNodeTimeout = 2 * time.Second
	createTimeout      = 60 * time.Second // redis-cli polls the join once a second
	healthyTimeout     = 60 * time.Second // a failover takes a few node timeouts
	clusterSlots       = 16384
)

// Cluster is a Redis Cluster of redis-server processes on loopback, owned by
// one test: masters, each with the same number of replicas, persistence
// off. It is safe for concurrent use.
type Cluster struct {
	tb    testing.TB
	nodes []*Server

	mu     sync.Mutex
	client *redis.ClusterClient
}

// StartCluster starts masters·(1+replicas) redis-server processes in
// cluster mode, joins them with `redis-cli --cluster create`, and waits
// until every node reports cluster_state:ok and agrees who serves every
// slot. The cluster is stopped when the test ends. Like [Start], it skips tb
// when redis-server or redis-cli is missing, and fails it when CI is set.
//
// The nodes run with cluster-require-full-coverage no, so that the masters
// still up keep serving their slots while one is down, as a replay cache's
// cluster should.
func StartCluster(tb testing.TB, masters, replicas int) *Cluster {
	tb.Helper()
	if masters < 3 {
		tb.Fatalf("testredis: a Redis Cluster needs at least 3 masters, not %d", masters)
	}
	server, cli := lookPath(tb, "redis-server"), lookPath(tb, "redis-cli")
	c := &Cluster{tb: tb}
	tb.Cleanup(c.cleanup) // registered first, so it runs last, once the nodes are stopped

	addrs := make([]string, 0, masters*(1+replicas))
	for range masters * (1 + replicas) {
		n := start(tb, server, true,
			"--cluster-node-timeout", strconv.Itoa(int(clusterNodeTimeout/time.Millisecond)),
			"--cluster-require-full-coverage", "no",
			// A replica may take over however long it was cut off: the
			// tests kill masters on purpose.
			"--cluster-replica-validity-factor", "0",
		)
		c.nodes = append(c.nodes, n)
		addrs = append(addrs, n.Addr())
	}

	ctx, cancel := context.WithTimeout(context.Background(), createTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		tb.Fatalf("testredis: redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitHealthy()
	return c
}

// Nodes returns every node of the cluster, masters and replicas, in the
// order they were started (redis-cli makes the first ones masters).
func (c *Cluster) Nodes() []*Server { return c.nodes }

// Client returns a cluster client that knows every node, created on first
// use and closed when the test ends. It honours context deadlines
// (ContextTimeoutEnabled).
func (c *Cluster) Client() *redis.ClusterClient {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client == nil {
		c.client = c.newClient()
	}
	return c.client
}

// NewClient returns a new cluster client, as another API instance would
// have, closed when the test ends.
func (c *Cluster) NewClient() *redis.ClusterClient {
	cc := c.newClient()
	c.tb.Cleanup(func() { _ = cc.Close() })
	return cc
}

func (c *Cluster) newClient() *redis.ClusterClient {
	addrs := make([]string, 0, len(c.nodes))
	for _, n := range c.nodes {
		addrs = append(addrs, n.Addr())
	}
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
}

// MasterFor returns the node that serves key's slot, as a running node of
// the cluster sees it.
func (c *Cluster) MasterFor(key string) *Server {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, n := range c.nodes {
		if !n.Running() {
			continue
		}
		slot, err := n.Client().ClusterKeySlot(ctx, key).Result()
		if err != nil {
			c.tb.Fatalf("testredis: CLUSTER KEYSLOT: %v", err)
		}
		owners, err := c.slotOwners(ctx, n)
		if err != nil {
			c.tb.Fatalf("testredis: %v", err)
		}
		for _, m := range c.nodes {
			if m.Addr() == owners[slot] {
				return m
			}
		}
		c.tb.Fatalf("testredis: slot %d of the key is served by %q, not a node of this cluster", slot, owners[slot])
	}
	c.tb.Fatalf("testredis: no node of the cluster is running")
	return nil
}

// WaitHealthy waits until every running node reports cluster_state:ok and
// they all agree that every slot is served by a running master: after
// [StartCluster], after a master's [Server.Restart], or after a replica
// took over a killed master.
func (c *Cluster) WaitHealthy() {
	c.tb.Helper()
	waitFor(c.tb, healthyTimeout, "healthy Redis Cluster", func(ctx context.Context) bool {
		return c.healthy(ctx) == nil
	})
}

func (c *Cluster) healthy(ctx context.Context) error {
	running := map[string]bool{}
	for _, n := range c.nodes {
		if n.Running() {
			running[n.Addr()] = true
		}
	}
	var first []string
	for _, n := range c.nodes {
		if !n.Running() {
			continue
		}
		info, err := n.Client().ClusterInfo(ctx).Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("%s: cluster state not ok", n.Addr())
		}
		owners, err := c.slotOwners(ctx, n)
		if err != nil {
			return err
		}
		for slot, addr := range owners {
			if !running[addr] {
				return fmt.Errorf("%s: slot %d served by %q, not running", n.Addr(), slot, addr)
			}
			if first != nil && first[slot] != addr {
				return fmt.Errorf("nodes disagree on slot %d", slot)
			}
		}
		first = owners
	}
	return nil
}

// slotOwners returns the address of the master serving each slot as n sees
// it ("" for a slot no master serves).
func (c *Cluster) slotOwners(ctx context.Context, n *Server) ([]string, error) {
	shards, err := n.Client().ClusterShards(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("CLUSTER SHARDS on %s: %w", n.Addr(), err)
	}
	owners := make([]string, clusterSlots)
	for _, sh := range shards {
		master := ""
		for _, node := range sh.Nodes {
			if node.Role == "master" {
				master = net.JoinHostPort(node.IP, strconv.FormatInt(node.Port, 10))
			}
		}
		for _, r := range sh.Slots {
			for s := max(r.Start, 0); s <= min(r.End, clusterSlots-1); s++ {
				owners[s] = master
			}
		}
	}
	return owners, nil
}

func (c *Cluster) cleanup() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		_ = c.client.Close()
		c.client = nil
	}
}
