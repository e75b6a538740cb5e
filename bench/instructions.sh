#!/usr/bin/env bash
# Counts the instructions per request of BenchmarkCost's rows (bench/cost_test.go:
# a fixed key and token, floors beside the middleware) with valgrind's
# callgrind. Unlike wall time, the counts do not depend on the load of a
# shared machine: two runs agree to within 0.05 %.
#
#   bench/instructions.sh                      # every row
#   ROWS='floor-RS256 handler-jwks-RS256-cold' bench/instructions.sh
#
# Each row runs twice (N1 and N2 iterations) and the difference of the
# program's totals over N2-N1 is the cost of one iteration, set-up
# excluded. GOMAXPROCS=1 and asyncpreemptoff keep callgrind's signal
# handling and the Go scheduler apart. Needs valgrind (apt-get install
# valgrind). Callgrind emulates a CPU without SHA-NI, so SHA-256 counts
# more here than on most servers; compare rows with each other, not with
# wall time.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rows=${ROWS:-floor-RS256 verify-fixedkey-RS256-cold handler-fixedkey-RS256-cold handler-jwks-RS256-cold handler-jwks-RS256-warm floor-ES256 handler-jwks-ES256-cold floor-EdDSA handler-jwks-EdDSA-cold handler-jwks-RS256-tls-plain-cold handler-jwks-RS256-tls-bound-cold}
bin=$(mktemp -d)/bench.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" ./bench

total() { # total ROW N: the program's instruction count for N iterations of ROW
	local out
	out=$(mktemp)
	(cd bench && GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file="$out" \
		"$bin" -test.run '^$' -test.bench "^BenchmarkCost\$/^$1\$" -test.benchtime "$2x" >/dev/null 2>&1)
	grep -m1 '^summary:\|^totals:' "$out" | awk '{print $2}'
	rm -f "$out"
}

echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (with uncommitted changes)')"
for row in $rows; do
	n1=20 n2=220
	[[ $row == *warm ]] && n1=100 n2=5100
	a=$(total "$row" $n1)
	b=$(total "$row" $n2)
	printf '%-32s %10d instructions/op\n' "$row" $(((b - a) / (n2 - n1)))
done
