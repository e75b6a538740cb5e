#!/usr/bin/env bash
# Runs every senderbound benchmark and summarises it with benchstat.
#
#   bench/run.sh            # everything, -count 6 (about 15-20 minutes on 2 cores)
#   COUNT=1 bench/run.sh    # a quick look
#   ONLY=ratio bench/run.sh # one group: micro, ratio, http, peer, memory
#
# Results go to bench/out/<UTC time>/ (and bench/out/latest): one raw file
# per group (*.txt, benchstat's input format), summary.txt (benchstat of
# each), machine.txt (commit, CPU, Go, load). BENCHMARKS.md explains which
# numbers answer which target.
#
# The working tree is measured as it is. To measure one commit exactly:
#   git archive HEAD | tar -x -C /tmp/sb && COMMIT=$(git rev-parse HEAD) /tmp/sb/bench/run.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
count=${COUNT:-6}
rounds=${ROUNDS:-10} # rounds per interleaved comparison (b.Loop iterations)
only=${ONLY:-}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/out/$stamp
mkdir -p "$out"
ln -sfn "$stamp" bench/out/latest
benchstat=(go run golang.org/x/perf/cmd/benchstat@latest)

{
	if [[ -n ${COMMIT:-} ]]; then
		echo "commit:   $COMMIT (exported tree)"
	else
		echo "commit:   $(git rev-parse HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (with uncommitted changes)')"
	fi
	echo "date:     $stamp"
	echo "go:       $(go version)"
	echo "nproc:    $(nproc)"
	echo "cpu:      $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //')"
	echo "load:     $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null) (1, 5, 15 min, at start)"
	echo "count:    $count, rounds per interleaved comparison: $rounds"
} | tee "$out/machine.txt"

want() { [[ -z $only || $only == "$1" ]]; }

# bench NAME DIR ARGS...: go test in DIR, raw output to $out/NAME.txt.
bench() {
	local name=$1 dir=$2
	shift 2
	echo "== $name: (cd $dir && go test $*)" | tee -a "$out/commands.txt"
	if ! (cd "$dir" && go test -run '^$' -benchmem -count "$count" "$@") | tee "$out/$name.txt"; then
		echo "FAILED: $name" | tee -a "$out/failures.txt"
	fi
}

if want micro; then
	# Per-package micro-benchmarks, each beside its floor in the same package.
	bench middleware . -bench '^Benchmark(Bearer|DPoP|MTLS|EncryptedBearer)$' ./middleware
	bench dpop . -bench . -skip '^BenchmarkMemoryReplayCache$' ./dpop
	# Its keys never expire, so stay well under the default capacity
	# (GOMAXPROCS × 1.4 million live entries) instead of letting -benchtime
	# fill it.
	bench dpop-replay . -bench '^BenchmarkMemoryReplayCache$' -benchtime 1000000x ./dpop
	bench dpopredis . -bench . ./dpop/dpopredis # skipped without redis-server
	bench jwks . -bench . ./jwks
	bench jwe . -bench . ./internal/jwe
	go test -count=1 -v -run 'BytesPerEntry' ./dpop | tee "$out/bytes-per-entry.txt" || true
fi
if want ratio; then
	# Every row of issue 7's table as a ratio to its floor, interleaved.
	bench ratio . -bench '^BenchmarkRatio$' -benchtime "${rounds}x" ./bench
fi
if want http; then
	# End to end over loopback: separate rows (b.N requests each) and the
	# interleaved comparisons (pct-of-floor).
	bench http . -bench '^BenchmarkHTTP$' ./bench
	bench http-ratio . -bench '^BenchmarkHTTPRatio$' -benchtime "${rounds}x" ./bench
fi
if want peer; then
	# bench/peer is a module of its own, outside the workspace (it pulls in
	# the peer library): build it with its own go.mod.
	GOWORK=off bench peer bench/peer -bench . -benchtime "${rounds}x" ./...
fi
if want memory; then
	# One long run (SENDERBOUND_SUSTAINED_REQUESTS, default 100,000), -v for
	# the samples.
	echo "== memory: go test -bench SustainedMemory -benchtime 1x -v ./bench" | tee -a "$out/commands.txt"
	go test -run '^$' -bench '^BenchmarkSustainedMemory$' -benchtime 1x -count 1 -v ./bench | tee "$out/memory.txt" ||
		echo "FAILED: memory" | tee -a "$out/failures.txt"
fi

for f in "$out"/*.txt; do
	case $(basename "$f") in machine.txt | commands.txt | bytes-per-entry.txt | summary.txt) continue ;; esac
	grep -q '^Benchmark' "$f" || continue
	echo "### $(basename "$f" .txt)"
	"${benchstat[@]}" "$f"
	echo
done >"$out/summary.txt"
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)" | tee -a "$out/machine.txt"
echo "summary: $out/summary.txt"
if [[ -s $out/failures.txt ]]; then
	cat "$out/failures.txt"
	exit 1
fi
