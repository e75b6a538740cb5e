package bench

import (
	"runtime"
	"slices"
	"testing"
	"time"
)

// A contender is one side of a comparison. prepare makes the inputs of n
// operations (outside the timed part); run performs them.
type contender struct {
	prepare func(n int)
	run     func(n int)
}

// sliceTarget is how long the floor's slice of operations should take in
// each round of an interleaved comparison.
const sliceTarget = 100 * time.Millisecond

// compare measures subject against floor in alternating slices of the same
// number of operations, one round per b.Loop iteration (so -benchtime 12x
// means 12 rounds), and reports the medians over rounds: ns/op and
// allocs/op (and B/op) of the subject, floor-ns/op, and x-floor, the median of the
// per-round ratios subject/floor. Because the two sides run moments apart,
// load from other processes on a shared machine touches both alike, which
// separate benchmarks run seconds apart cannot promise.
func compare(b *testing.B, floor, subject contender) (subjectNsPerOp, ratio float64) {
	// Size the slices so that the floor's takes about sliceTarget.
	const probe = 16
	floor.prepare(probe)
	start := time.Now()
	floor.run(probe)
	n := max(probe, int(sliceTarget/max(time.Since(start)/probe, 1)))

	var floorNs, subjectNs, ratios, allocs, bytes []float64
	var ms runtime.MemStats
	timed := func(c contender, countAllocs bool) float64 {
		c.prepare(n)
		var mallocs, total uint64
		if countAllocs {
			runtime.ReadMemStats(&ms)
			mallocs, total = ms.Mallocs, ms.TotalAlloc
		}
		b.StartTimer()
		t0 := time.Now()
		c.run(n)
		d := time.Since(t0)
		b.StopTimer()
		if countAllocs {
			runtime.ReadMemStats(&ms)
			allocs = append(allocs, float64(ms.Mallocs-mallocs)/float64(n))
			bytes = append(bytes, float64(ms.TotalAlloc-total)/float64(n))
		}
		return float64(d.Nanoseconds()) / float64(n)
	}
	round := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		var f, s float64
		if round%2 == 0 { // alternate who goes first
			f, s = timed(floor, false), timed(subject, true)
		} else {
			s, f = timed(subject, true), timed(floor, false)
		}
		b.StartTimer()
		floorNs, subjectNs, ratios = append(floorNs, f), append(subjectNs, s), append(ratios, s/f)
		round++
	}
	b.ReportMetric(median(subjectNs), "ns/op")
	b.ReportMetric(median(floorNs), "floor-ns/op")
	b.ReportMetric(median(ratios), "x-floor")
	// The testing package's own counts would cover both sides: override them.
	b.ReportMetric(median(allocs), "allocs/op")
	b.ReportMetric(median(bytes), "B/op")
	return median(subjectNs), median(ratios)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// repeat is a contender that needs no per-operation inputs.
func repeat(op func()) contender {
	return contender{
		prepare: func(int) {},
		run: func(n int) {
			for range n {
				op()
			}
		},
	}
}
