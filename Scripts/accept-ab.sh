#!/usr/bin/env bash
# Interleaved A/B of durable accepts between HookBus builds (or settings), for a machine whose
# speed drifts: each round runs every variant once at 32 and 128 connections, and the medians over
# rounds are printed with the server's CPU per request and the machine's steal time.
# Usage: Scripts/accept-ab.sh ROUNDS SECONDS LABEL:ENV:BINARY ...
#   e.g. Scripts/accept-ab.sh 4 5 before::/tmp/hookbus-old now::.build-release/release/hookbus
#   ENV is empty or VAR=value (passed to the server).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=$1; seconds=$2; shift 2
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
source Scripts/bench-lib.sh
write_accept_lua "$work/post.lua"
cat >> "$work/post.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("P99 %.2f\n", latency:percentile(99) / 1000))
end
LUA
for _ in $(seq 1 "$rounds"); do
  for variant in "$@"; do
    label=${variant%%:*}; rest=${variant#*:}; environment=${rest%:*}; binary=${rest##*:}
    data=$(mktemp -d -p "$work")
    printf 'data_dir: %s\nserver: {backlog_limit: 100000000, hook_token: {env: HOOKBUS_BENCH_TOKEN}}\n' "$data" > "$data/hookbus.yaml"
    env $environment "$binary" serve --hooks Hooks --config "$data/hookbus.yaml" --port 0 --log-level error > "$data/log" 2>&1 &
    pid=$!
    port=$(await_port "$data/log")
    for connections in 32 128; do
      before=$(head -1 /proc/stat); cpu_before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
      out=$(wrk -t2 -c"$connections" -d"${seconds}s" -s "$work/post.lua" "http://127.0.0.1:$port/api/v1/hooks/approveTask")
      after=$(head -1 /proc/stat); cpu_after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
      requests=$(echo "$out" | awk '/requests in/ {print $1}')
      steal=$(steal_percent "$before" "$after")
      echo "$label $connections $(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}') $(echo "$out" | awk '/P99/ {print $2}') $(awk -v a="$cpu_before" -v b="$cpu_after" -v n="$requests" -v tk="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", (b - a) / tk * 1e6 / n }') $steal" >> "$work/results"
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
python3 - "$work/results" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    label, connections, rate, p99, cpu, steal = line.split()
    runs[(label, int(connections))].append((int(rate), float(p99), int(cpu), float(steal)))
for (label, connections), values in sorted(runs.items(), key=lambda item: (item[0][1], item[0][0])):
    rates = [v[0] for v in values]
    print(f"{label:10s} {connections:4d} connections: {statistics.median(rates):6.0f}/s median [{min(rates)}-{max(rates)}], "
          f"p99 {statistics.median(v[1] for v in values):5.1f} ms, server CPU {statistics.median(v[2] for v in values):4.0f} µs/request, "
          f"steal {statistics.mean(v[3] for v in values):.1f}%")
PY
