// Package testredis starts a real, private redis-server for tests.
//
// Tests that need Redis call [Start]; it runs redis-server from PATH on a free
// loopback port with persistence disabled and its working directory in
// t.TempDir(), and stops it when the test ends. The machine's own Redis
// service, if any, is never used. [StartReplica] adds a replica of such a
// server, and [StartCluster] a whole Redis Cluster (redis-server processes in
// cluster mode joined with redis-cli, both from the Debian package
// redis-server).
//
// When redis-server is not installed, [Start] skips the test, unless the
// environment variable CI is non-empty: then it fails the test, so that a CI
// machine without Redis cannot pass by skipping.
//
// This package is for tests only.
package testredis

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// InstallHint tells a developer how to get redis-server.
const InstallHint = "install it with: sudo apt-get update && sudo apt-get install -y redis-server"

const (
	startAttempts = 5                // free-port races before giving up
	readyTimeout  = 10 * time.Second // redis-server normally answers within milliseconds
	pollInterval  = 5 * time.Millisecond
	stopTimeout   = 10 * time.Second // after SIGTERM, before SIGKILL
)

// Server is a redis-server process owned by one test. It is safe for
// concurrent use.
type Server struct {
	tb    testing.TB
	path  string   // redis-server executable
	dir   string   // working directory of the server
	extra []string // further redis-server arguments (cluster mode, replication)

	mu      sync.Mutex
	port    int
	busPort int      // cluster bus port; 0 outside cluster mode
	proc    *process // nil while stopped
	client  *redis.Client
}

// process is one run of redis-server.
type process struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{} // closed when the process has exited
}

// Start starts a redis-server for tb and registers its shutdown with
// tb.Cleanup. It skips tb when redis-server is not on PATH (fails it when the
// environment variable CI is set).
func Start(tb testing.TB) *Server {
	tb.Helper()
	return start(tb, lookPath(tb, "redis-server"), false)
}

// StartReplica starts a redis-server for tb that replicates primary
// (--replicaof), and waits until the replication link is up.
func StartReplica(tb testing.TB, primary *Server) *Server {
	tb.Helper()
	host, port, err := net.SplitHostPort(primary.Addr())
	if err != nil {
		tb.Fatalf("testredis: %v", err)
	}
	s := start(tb, lookPath(tb, "redis-server"), false, "--replicaof", host, port)
	waitFor(tb, readyTimeout, "replication link to "+primary.Addr(), func(ctx context.Context) bool {
		info, err := s.Client().Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	return s
}

// lookPath finds a Redis executable, skipping tb when it is missing (failing
// it when the environment variable CI is set).
func lookPath(tb testing.TB, name string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("testredis: %s not found on PATH (CI is set, so this is a failure); %s", name, InstallHint)
		}
		tb.Skipf("%s not found; %s", name, InstallHint)
	}
	return path
}

// start runs redis-server with extra arguments on a free port (and, in
// cluster mode, a free cluster bus port).
func start(tb testing.TB, path string, cluster bool, extra ...string) *Server {
	tb.Helper()
	s := &Server{tb: tb, path: path, dir: tb.TempDir(), extra: extra}
	tb.Cleanup(s.cleanup)

	var errs []error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			tb.Fatalf("testredis: %v", err)
		}
		busPort := 0
		if cluster {
			// The default bus port, port+10000, may be taken or out of range.
			if busPort, err = freePort(); err != nil {
				tb.Fatalf("testredis: %v", err)
			}
		}
		if err := s.startOn(port, busPort); err != nil {
			errs = append(errs, err) // most likely another process took the port
			continue
		}
		return s
	}
	tb.Fatalf("testredis: could not start redis-server: %v", errors.Join(errs...))
	return nil
}

// Addr returns the server's "127.0.0.1:port" address. It stays the same
// across [Server.Stop] and [Server.Restart].
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrLocked()
}

func (s *Server) addrLocked() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Client returns a client connected to the server, created on first use and
// closed when the test ends. It honours context deadlines
// (ContextTimeoutEnabled), and reconnects after a [Server.Restart].
func (s *Server) Client() *redis.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		s.client = redis.NewClient(&redis.Options{
			Addr:                  s.addrLocked(),
			ContextTimeoutEnabled: true,
		})
	}
	return s.client
}

// Running reports whether the server is running (not stopped or killed).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

// Stop stops the server and waits until it has exited. Stopping a stopped
// server does nothing. Data is not kept: a restarted server is empty.
func (s *Server) Stop() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stopLocked(); err != nil {
		s.tb.Errorf("testredis: %v", err)
	}
}

// Kill kills the server with SIGKILL, as a crash would, and waits until it
// has exited. Killing a stopped server does nothing.
func (s *Server) Kill() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil {
		return
	}
	s.proc = nil
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.tb.Errorf("testredis: kill redis-server: %v", err)
	}
	<-p.done
}

// Restart starts a stopped server again on the same port, or stops and
// starts a running one, and waits until it answers PING. A cluster node
// keeps its node ID and configuration (nodes.conf in its directory), not
// its data.
func (s *Server) Restart() {
	s.tb.Helper()
	s.mu.Lock()
	port, busPort := s.port, s.busPort
	err := s.stopLocked()
	s.mu.Unlock()
	if err != nil {
		s.tb.Fatalf("testredis: %v", err)
	}
	var errs []error
	// The port was ours a moment ago; retry briefly in case the kernel has
	// not released it yet.
	for range startAttempts {
		if err := s.startOn(port, busPort); err != nil {
			errs = append(errs, err)
			continue
		}
		return
	}
	s.tb.Fatalf("testredis: could not restart redis-server on port %d: %v", port, errors.Join(errs...))
}

// startOn runs redis-server on port (and, when busPort is not 0, in
// cluster mode with that bus port) and waits until it answers PING.
func (s *Server) startOn(port, busPort int) error {
	out := &lockedBuffer{}
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		// A replica's first sync starts at once, not after the default 5 s.
		"--repl-diskless-sync-delay", "0",
	}
	if busPort != 0 {
		args = append(args, "--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(busPort))
	}
	cmd := exec.Command(s.path, append(args, s.extra...)...)
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.path, err)
	}
	p := &process{cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()

	s.mu.Lock()
	s.port, s.busPort = port, busPort
	s.proc = p
	s.mu.Unlock()

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if ping(addr) {
			return nil
		}
		select {
		case <-p.done:
			s.mu.Lock()
			s.proc = nil
			s.mu.Unlock()
			return fmt.Errorf("redis-server on port %d exited early: %s", port, bytes.TrimSpace(out.Bytes()))
		case <-deadline.C:
			s.mu.Lock()
			err := s.stopLocked()
			s.mu.Unlock()
			return errors.Join(fmt.Errorf("redis-server on port %d did not answer PING within %v: %s",
				port, readyTimeout, bytes.TrimSpace(out.Bytes())), err)
		case <-tick.C:
		}
	}
}

// stopLocked sends SIGTERM, waits for the exit, and kills the process if it
// lingers. s.mu must be held.
func (s *Server) stopLocked() error {
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal redis-server: %w", err)
	}
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("redis-server did not exit within %v of SIGTERM; killed it", stopTimeout)
	}
}

func (s *Server) cleanup() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		_ = s.client.Close()
		s.client = nil
	}
	if err := s.stopLocked(); err != nil {
		s.tb.Errorf("testredis: %v", err)
	}
}

// ping reports whether a Redis server at addr answers PING, using a raw
// connection so that no client library retries or pools get in the way.
func ping(addr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	if err := conn.SetDeadline(dl); err != nil {
		return false
	}
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, fmt.Errorf("find a free port: unexpected address %v", l.Addr())
	}
	return addr.Port, nil
}

// lockedBuffer collects a process's output; the process writes while the
// test may read.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// waitFor polls cond until it holds, failing tb after timeout.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func(context.Context) bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		ok := cond(ctx)
		cancel()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("testredis: no %s within %v", what, timeout)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not an assertion
	}
}

// ErrNotInstalled is returned by [StartMain] when redis-server is not on
// PATH.
var ErrNotInstalled = errors.New("testredis: redis-server not found on PATH; " + InstallHint)

// StartMain starts a redis-server for a whole test binary, from a TestMain,
// where there is no testing.TB (for example for runnable Examples), and
// returns its address and a function that stops it and removes its working
// directory. When redis-server is missing it returns [ErrNotInstalled], and
// the caller decides whether that is a failure (under CI) or a skip.
func StartMain() (addr string, stop func(), err error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, ErrNotInstalled
	}
	dir, err := os.MkdirTemp("", "testredis-")
	if err != nil {
		return "", nil, fmt.Errorf("testredis: %w", err)
	}
	s := &Server{path: path, dir: dir}
	stop = func() {
		s.mu.Lock()
		err := s.stopLocked()
		s.mu.Unlock()
		if err != nil {
			fmt.Fprintln(os.Stderr, "testredis:", err)
		}
		_ = os.RemoveAll(dir)
	}
	var errs []error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			stop()
			return "", nil, fmt.Errorf("testredis: %w", err)
		}
		if err := s.startOn(port, 0); err != nil {
			errs = append(errs, err)
			continue
		}
		return s.Addr(), stop, nil
	}
	stop()
	return "", nil, fmt.Errorf("testredis: could not start redis-server: %w", errors.Join(errs...))
}
