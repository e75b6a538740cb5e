package middleware_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/senderbound/senderbound/middleware"
	"github.com/senderbound/senderbound/observe"
)

// counted is an observer that counts every decision it is told about.
func counted(n *atomic.Int64) *observe.Observer {
	return &observe.Observer{Request: func(context.Context, observe.Request) { n.Add(1) }}
}

// garbage is a flood request: a malformed bearer token, or one too large
// to parse, alternately (two causes).
func garbage(i int) *http.Request {
	if i%2 == 0 {
		return bearer("garbage-" + strings.Repeat("x", i%7))
	}
	return bearer(strings.Repeat("y", 17<<10))
}

// TestRejectionLogBoundedUnderFlood: a flood of garbage requests writes a
// bounded number of log lines (the first of each cause among them), while
// the observer still counts every request. The clock stands still, as it
// nearly does for a flood.
func TestRejectionLogBoundedUnderFlood(t *testing.T) {
	iss := newIssuer(t)
	logs := &capture{}
	var observed atomic.Int64
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	g := newGuard(t, iss, middleware.WithLogger(slog.New(logs)), middleware.WithPublicURL("https://api.example.com"),
		middleware.WithObserver(counted(&observed)), middleware.WithClock(func() time.Time { return now }))
	h := g.Handler(http.NotFoundHandler())
	const flood = 4000
	for i := range flood {
		h.ServeHTTP(httptest.NewRecorder(), garbage(i))
	}
	assert.Equal(t, int64(flood), observed.Load(), "the observer counts every request")
	logs.mu.Lock()
	defer logs.mu.Unlock()
	require.NotEmpty(t, logs.records)
	assert.LessOrEqual(t, len(logs.records), 40, "log lines for %d garbage requests", flood)
	causes := map[string]bool{}
	for _, l := range logs.records {
		causes[l.attrs["cause"]] = true
	}
	assert.Equal(t, map[string]bool{"malformed_token": true, "token_too_large": true}, causes,
		"the first rejection of each cause is logged")
}

// TestRejectionLogLimitPerCause: with WithLogLimit(3, time.Minute), each
// cause writes its first three lines in a minute; the rest are counted and
// the count is written once the minute is over, before the next line. A
// clock stepping backwards starts a new period rather than silencing the
// log until it catches up.
func TestRejectionLogLimitPerCause(t *testing.T) {
	iss := newIssuer(t)
	logs := &capture{}
	var observed atomic.Int64
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := start
	g := newGuard(t, iss, middleware.WithLogger(slog.New(logs)), middleware.WithPublicURL("https://api.example.com"),
		middleware.WithObserver(counted(&observed)), middleware.WithClock(func() time.Time { return now }),
		middleware.WithLogLimit(3, time.Minute))
	h := g.Handler(http.NotFoundHandler())
	send := func(n int, r func(int) *http.Request) {
		for i := range n {
			h.ServeHTTP(httptest.NewRecorder(), r(i))
		}
	}
	malformed := func(int) *http.Request { return garbage(0) }
	tooLarge := func(int) *http.Request { return garbage(1) }
	lines := func() []logLine {
		logs.mu.Lock()
		defer logs.mu.Unlock()
		l := logs.records
		logs.records = nil
		return l
	}
	causes := func(ls []logLine) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.msg+" "+l.attrs["cause"]+" "+l.attrs["suppressed"])
		}
		return out
	}

	send(10, malformed)
	send(1, tooLarge)
	assert.Equal(t, []string{
		"request rejected malformed_token ", "request rejected malformed_token ", "request rejected malformed_token ",
		"request rejected token_too_large ",
	}, causes(lines()), "three of a cause, and the first of another")

	now = start.Add(time.Minute - time.Nanosecond)
	send(2, malformed)
	assert.Empty(t, lines(), "still the same minute")

	now = start.Add(time.Minute)
	send(1, tooLarge)
	got := lines()
	assert.Equal(t, []string{"rejections suppressed malformed_token 9", "request rejected token_too_large "}, causes(got),
		"a new period of one cause reports what every ended period suppressed")
	assert.Equal(t, slog.LevelWarn, got[0].level)
	assert.Equal(t, start.String(), got[0].attrs["since"])

	send(4, malformed)
	assert.Equal(t, []string{"request rejected malformed_token ", "request rejected malformed_token ", "request rejected malformed_token "},
		causes(lines()), "the count was reported once; a new period for the cause")

	now = start.Add(-time.Hour)
	send(1, malformed)
	assert.Equal(t, []string{"rejections suppressed malformed_token 1", "request rejected malformed_token "}, causes(lines()),
		"the clock stepped backwards: a new period")
	assert.Equal(t, int64(10+1+2+1+4+1), observed.Load(), "the observer counts every request")
}

// TestRejectionLogLimitConcurrent: concurrent rejections of one cause in
// one period write exactly the limit.
func TestRejectionLogLimitConcurrent(t *testing.T) {
	iss := newIssuer(t)
	logs := &capture{}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	g := newGuard(t, iss, middleware.WithLogger(slog.New(logs)), middleware.WithPublicURL("https://api.example.com"),
		middleware.WithClock(func() time.Time { return now }), middleware.WithLogLimit(5, time.Second))
	srv := httptest.NewServer(g.Handler(http.NotFoundHandler()))
	defer srv.Close()
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 25 {
				r, err := http.NewRequest(http.MethodGet, srv.URL, nil)
				if !assert.NoError(t, err) {
					return
				}
				r.Header.Set("Authorization", "Bearer garbage")
				resp, err := srv.Client().Do(r)
				if assert.NoError(t, err) {
					_ = resp.Body.Close()
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	assert.Len(t, logs.records, 5)
}

func TestWithLogLimitRefusesNonsense(t *testing.T) {
	iss := newIssuer(t)
	for _, tt := range []struct {
		lines  int
		period time.Duration
		want   string
	}{
		{0, time.Second, "want at least 1"},
		{-1, time.Second, "want at least 1"},
		{1, 0, "positive period"},
		{1, -time.Second, "positive period"},
	} {
		_, err := middleware.New(newKeys(t, iss), middleware.WithAudience(audience), middleware.WithLogLimit(tt.lines, tt.period))
		require.Error(t, err)
		assert.Contains(t, err.Error(), tt.want)
	}
}

// countingWriter counts the lines and bytes a log handler writes.
type countingWriter struct{ lines, bytes atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.lines.Add(int64(strings.Count(string(p), "\n")))
	w.bytes.Add(int64(len(p)))
	return len(p), nil
}

// BenchmarkRejectionLogFlood floods a Guard behind a loopback server with
// garbage (four causes) and reports the log lines and bytes written per
// request, by slog's JSON handler at Info: "unlimited" is the log before
// the limit existed, "default" the default limit. Compare with
// -benchtime=200000x.
func BenchmarkRejectionLogFlood(b *testing.B) {
	for _, bb := range []struct {
		name string
		opts []middleware.Option
	}{
		{"unlimited", []middleware.Option{middleware.WithLogLimit(1<<30, time.Hour)}},
		{"default", nil},
	} {
		b.Run(bb.name, func(b *testing.B) {
			iss := newIssuer(b)
			out := &countingWriter{}
			opts := append([]middleware.Option{middleware.WithPublicURL("https://api.example.com"),
				middleware.WithLogger(slog.New(slog.NewJSONHandler(out, nil)))}, bb.opts...)
			g := newGuard(b, iss, opts...)
			srv := httptest.NewServer(g.Handler(http.NotFoundHandler()))
			defer srv.Close()
			auth := []string{"Bearer garbage", "Bearer a.b.c", "Bearer " + strings.Repeat("y", 17<<10), "DPoP eyJhbGciOiJub25lIn0.e30."}
			var i atomic.Int64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r, _ := http.NewRequest(http.MethodGet, srv.URL+"/resource", nil)
					r.Header.Set("Authorization", auth[i.Add(1)%int64(len(auth))])
					resp, err := srv.Client().Do(r)
					if err != nil {
						b.Error(err)
						return
					}
					_ = resp.Body.Close()
				}
			})
			b.ReportMetric(float64(out.lines.Load())/float64(b.N), "log-lines/op")
			b.ReportMetric(float64(out.bytes.Load())/float64(b.N), "log-bytes/op")
		})
	}
}
