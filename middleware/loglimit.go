package middleware

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Defaults of [WithLogLimit]: under a flood, each cause writes at most
// defaultLogLines lines every defaultLogPeriod.
const (
	defaultLogLines  = 10
	defaultLogPeriod = 10 * time.Second
)

// WithLogLimit bounds the rejection log of [WithLogger]'s logger under a
// flood: for each cause (the stable name in the line's cause attribute), at
// most lines lines are written in each period; the first rejection of a
// cause in a period is always written. The rejections not written are
// counted, and the count is written as one Warn line, "rejections
// suppressed", with the cause, the count and the start of the period, just
// before the next line written after that period ends (for any cause).
// Metrics and the observer still see every request. The default is 10
// lines per cause every 10 seconds: a flood of garbage writes about one
// line per second per cause instead of one per request. lines must be at
// least 1 and period positive; to write every line, give a lines larger
// than any rate the server can see. Periods follow [WithClock]; when the
// clock steps backwards, a new period starts.
func WithLogLimit(lines int, period time.Duration) Option {
	return func(c *config) {
		if lines < 1 {
			c.fail("log limit of %d lines: want at least 1", lines)
		}
		if period <= 0 {
			c.fail("log limit period %v: want a positive period", period)
		}
		c.logLines, c.logPeriod = lines, period
	}
}

// logLimiter decides which rejection lines are written, per cause.
type logLimiter struct {
	lines  int
	period time.Duration

	mu     sync.Mutex
	causes map[string]*logWindow // one entry per reason name: bounded
}

// logWindow is one cause's current period.
type logWindow struct {
	start      time.Time
	written    int
	suppressed int
}

// suppressedLines is the count of lines of one cause not written in the
// period that began at since.
type suppressedLines struct {
	cause string
	n     int
	since time.Time
}

func newLogLimiter(lines int, period time.Duration) *logLimiter {
	return &logLimiter{lines: lines, period: period, causes: make(map[string]*logWindow)}
}

// admit reports whether a line of cause may be written at now. When it
// starts a new period, it also returns the counts of every period that has
// ended with lines suppressed, to be written first.
func (l *logLimiter) admit(cause string, now time.Time) (bool, []suppressedLines) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.causes[cause]
	if w == nil {
		w = &logWindow{start: now}
		l.causes[cause] = w
	} else if l.ended(w, now) {
		var done []suppressedLines
		for c, o := range l.causes {
			if o.suppressed > 0 && l.ended(o, now) {
				done = append(done, suppressedLines{cause: c, n: o.suppressed, since: o.start})
				o.suppressed = 0
			}
		}
		*w = logWindow{start: now, written: 1}
		return true, done
	}
	if w.written < l.lines {
		w.written++
		return true, nil
	}
	w.suppressed++
	return false, nil
}

// ended reports whether w's period is over at now: later than its end, or
// before its start (the clock stepped backwards).
func (l *logLimiter) ended(w *logWindow, now time.Time) bool {
	return now.Before(w.start) || now.Sub(w.start) >= l.period
}

// logSuppressed writes the counts of lines not written.
func (g *Guard) logSuppressed(ctx context.Context, done []suppressedLines) {
	for _, s := range done {
		g.logger.LogAttrs(ctx, slog.LevelWarn, "rejections suppressed",
			slog.String("cause", s.cause),
			slog.Int("suppressed", s.n),
			slog.Time("since", s.since))
	}
}
