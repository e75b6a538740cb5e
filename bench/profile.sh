#!/usr/bin/env bash
# Profiles each request path of the cost budget (BENCHMARKS.md, "Cost
# budget"): a CPU and an allocation profile per path, and the top of each.
#
#   bench/profile.sh                  # every path, 3 s each
#   PATHS='Bearer/RS256/cold' bench/profile.sh
#   BENCHTIME=10s bench/profile.sh    # steadier profiles
#
# Results go to bench/out/profile-<UTC time>/ (and bench/out/profile-latest):
# per path <name>.cpu and <name>.mem (pprof), <name>.txt (benchmark line,
# top CPU by cumulative and flat time, top allocation sites by count) and
# the test binaries, so the profiles can be opened later with
#   go tool pprof -http=127.0.0.1:0 <dir>/middleware.test <dir>/<name>.cpu
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
benchtime=${BENCHTIME:-3s}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/out/profile-$stamp
mkdir -p "$out"
ln -sfn "profile-$stamp" bench/out/profile-latest

# path name -> package and benchmark (sub-benchmark patterns as go test -bench
# takes them, anchored per level).
declare -A pkg=(
	[Bearer/RS256/floor]=./middleware [Bearer/RS256/cold]=./middleware [Bearer/RS256/warm]=./middleware
	[Bearer/ES256/cold]=./middleware [Bearer/EdDSA/cold]=./middleware
	[DPoP/cold]=./middleware [DPoP/warm]=./middleware
	[MTLS/bearer]=./middleware [MTLS/mtls]=./middleware
	[grpc/unary-bearer-warm]=./grpcguard
	[dpop/Verify]=./dpop
	[jwks/KeyKnownKid]=./jwks
)
declare -A bench=(
	[Bearer/RS256/floor]='^BenchmarkBearer$/^RS256$/^floor$' [Bearer/RS256/cold]='^BenchmarkBearer$/^RS256$/^cold$'
	[Bearer/RS256/warm]='^BenchmarkBearer$/^RS256$/^warm$'
	[Bearer/ES256/cold]='^BenchmarkBearer$/^ES256$/^cold$' [Bearer/EdDSA/cold]='^BenchmarkBearer$/^EdDSA$/^cold$'
	[DPoP/cold]='^BenchmarkDPoP$/^cold$' [DPoP/warm]='^BenchmarkDPoP$/^warm$'
	[MTLS/bearer]='^BenchmarkMTLS$/^bearer$' [MTLS/mtls]='^BenchmarkMTLS$/^mtls$'
	[grpc/unary-bearer-warm]='^BenchmarkUnary$/^bearer-warm$'
	[dpop/Verify]='^BenchmarkVerify$'
	[jwks/KeyKnownKid]='^BenchmarkKeyKnownKid$'
)
paths=${PATHS:-Bearer/RS256/floor Bearer/RS256/cold Bearer/RS256/warm Bearer/ES256/cold Bearer/EdDSA/cold DPoP/cold DPoP/warm MTLS/bearer MTLS/mtls grpc/unary-bearer-warm dpop/Verify jwks/KeyKnownKid}

{
	echo "commit:   $(git rev-parse HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (with uncommitted changes)')"
	echo "go:       $(go version)"
	echo "cpu:      $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //')"
	echo "load:     $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
	echo "benchtime: $benchtime"
} | tee "$out/machine.txt"

for p in $paths; do
	name=${p//\//-}
	dir=${pkg[$p]}
	bin=$out/$(basename "$dir").test
	[[ -x $bin ]] || (cd "$root" && go test -c -o "$bin" "$dir")
	# Two runs: recording every allocation (memprofilerate 1) would distort
	# the CPU profile.
	(cd "$dir" && "$root/$bin" -test.run '^$' -test.bench "${bench[$p]}" -test.benchmem \
		-test.benchtime "$benchtime" -test.cpuprofile "$root/$out/$name.cpu") >"$out/$name.bench"
	(cd "$dir" && "$root/$bin" -test.run '^$' -test.bench "${bench[$p]}" -test.benchmem \
		-test.benchtime "$benchtime" -test.memprofile "$root/$out/$name.mem" -test.memprofilerate 1) >/dev/null
	{
		grep '^Benchmark' "$out/$name.bench"
		echo
		echo "## CPU, cumulative"
		go tool pprof -top -cum -nodecount 45 "$bin" "$out/$name.cpu" 2>/dev/null | sed -n '/flat%/,$p'
		echo
		echo "## CPU, flat"
		go tool pprof -top -nodecount 25 "$bin" "$out/$name.cpu" 2>/dev/null | sed -n '/flat%/,$p'
		echo
		echo "## allocations (count), cumulative"
		go tool pprof -sample_index=alloc_objects -top -cum -nodecount 45 "$bin" "$out/$name.mem" 2>/dev/null | sed -n '/flat%/,$p'
		echo
		echo "## allocations (count), flat"
		go tool pprof -sample_index=alloc_objects -top -nodecount 30 "$bin" "$out/$name.mem" 2>/dev/null | sed -n '/flat%/,$p'
	} >"$out/$name.txt"
	echo "$p: $(grep -m1 '^Benchmark' "$out/$name.bench" || echo 'no benchmark line')"
done
echo "profiles: $out"
