#!/usr/bin/env bash
# Load benchmark of the HookBus server with wrk on loopback (release build).
#   (a) durable accepts per second and p50/p99 latency, no matching trigger, at 32 and 128 connections;
#   (b) completed runs per second for a trivial bash trigger, and accepted vs executed at the end.
# Usage: Scripts/load-benchmark.sh [seconds per wrk run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
bin=.build-release/release/hookbus
work=$(mktemp -d)
trap '[ -f "$work/server.pid" ] && kill -CONT "$(cat "$work/server.pid")" 2>/dev/null && kill "$(cat "$work/server.pid")" 2>/dev/null; rm -rf "$work"' EXIT
for product in hookbus hookbus-bench; do
  swift build -c release --product "$product" --scratch-path .build-release > "$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
done

source Scripts/bench-lib.sh
start_server() {  # $1 = hooks folder; prints the port
  "$bin" serve --hooks "$1" --config "$work/hookbus.yaml" --port 0 --log-level error > "$work/server.log" 2>&1 &
  echo $! > "$work/server.pid"
  await_port "$work/server.log"
}

write_accept_lua "$work/post.lua"
cat >> "$work/post.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("    p50 %.2f ms, p99 %.2f ms, non-2xx %d\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status))
end
LUA

# (a) approveTask: no shipped trigger listens to it, so this measures accept + durable store.
printf 'data_dir: %s/a\nserver: {backlog_limit: 100000000, hook_token: {env: HOOKBUS_BENCH_TOKEN}, tokens: [{name: bench, role: metrics, secret: {env: HOOKBUS_BENCH_METRICS_TOKEN}}]}\n' "$work" > "$work/hookbus.yaml"
port=$(start_server Hooks)
echo "(a) durable accepts, no matching trigger, ${duration}s each:"
# The server's CPU time per request (utime + stime from /proc) is steadier than the rate on a
# shared machine, and says what the accept path costs whatever wrk takes of the same cores.
server_cpu() { awk '{print $14 + $15}' "/proc/$(cat "$work/server.pid")/stat"; }
for connections in 32 128; do
  echo "  $connections connections:"
  before=$(server_cpu); machine_before=$(head -1 /proc/stat)
  out=$(wrk -t2 -c"$connections" -d"${duration}s" -s "$work/post.lua" "http://127.0.0.1:$port/api/v1/hooks/approveTask")
  after=$(server_cpu); machine_after=$(head -1 /proc/stat)
  echo "$out" | grep -E "Requests/sec|p50" | sed 's/^/    /'
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  awk -v a="$before" -v b="$after" -v n="$requests" -v tk="$(getconf CLK_TCK)" -v steal="$(steal_percent "$machine_before" "$machine_after")" \
    'BEGIN { printf "    server CPU %.0f µs per request; machine steal %s%%\n", (b - a) / tk * 1e6 / n, steal }'
done
accepted=$(curl -s -H "$metrics_header" "http://127.0.0.1:$port/metrics" | awk '/^hookbus_events_accepted_total/ {print $2}')
echo "  accepted and stored: $accepted events"
kill "$(cat "$work/server.pid")"; sleep 1

# (b) a trivial bash trigger on approveTask: every accepted event must be executed. Each request
# is about a different task: runs about one task run one at a time, in order, by design, so a
# single task id would measure one slot, not the pool.
write_tasks_lua "$work/post-tasks.lua"
mkdir -p "$work/hooks"
printf "name: 'Bench'\nscript:\n  type: bash\nconfiguration:\n  data_attributes: {}\n" > "$work/hooks/i.yaml"
printf "integration: 'Bench'\nname: 'Trivial'\ntype: Trigger\nscript:\n  code: ':'\nhook: [approveTask]\n" > "$work/hooks/a.yaml"
printf 'data_dir: %s/b\nrunner: {concurrency: 2}\nserver: {backlog_limit: 100000000, hook_token: {env: HOOKBUS_BENCH_TOKEN}, tokens: [{name: bench, role: metrics, secret: {env: HOOKBUS_BENCH_METRICS_TOKEN}}]}\n' "$work" > "$work/hookbus.yaml"
# The reference: bash started the same way (two at a time, output captured, through
# swift-subprocess). This machine's speed drifts by up to ±20% within minutes, so the raw rate is
# measured between short windows of the server's own drain, with the server stopped (SIGSTOP)
# meanwhile, and each window is compared with the mean of the raw rates just before and just
# after it: a drift during the round cancels out. The median of eight rounds is the figure.
raw_rate() { .build-release/release/hookbus-bench runner --only bash --raw-only --runs "$1" | grep -o 'raw [0-9]*' | grep -o '[0-9]*'; }
port=$(start_server "$work/hooks")
pid=$(cat "$work/server.pid")
echo "(b) trivial bash trigger, 16 connections for ${duration}s, then until the backlog is empty:"
started=$(date +%s.%N)
wrk -t1 -c16 -d"${duration}s" -s "$work/post-tasks.lua" "http://127.0.0.1:$port/api/v1/hooks/approveTask" | grep -E "Requests/sec" | sed 's/^/    accept /'
runs_now() { curl -s -H "$metrics_header" "http://127.0.0.1:$port/metrics" | awk '/^hookbus_runs_total/ {sum += $2} END {print sum + 0}'; }
backlog_now() { curl -s "http://127.0.0.1:$port/healthz" | grep -o '"backlog":[0-9]*' | grep -o '[0-9]*$'; }
stopped=0
raw_while_stopped() {  # appends the raw rate to $work/raws; the server's stopped time is not counted end to end
  local s0 s1
  kill -STOP "$pid"; s0=$(date +%s.%N)
  raw_rate 1000 >> "$work/raws"
  kill -CONT "$pid"; s1=$(date +%s.%N)
  stopped=$(awk -v a="$stopped" -v s="$s0" -v e="$s1" 'BEGIN { print a + e - s }')
}
raw_while_stopped
for round in 1 2 3 4 5 6 7 8; do
  r0=$(runs_now); t0=$(date +%s.%N); machine_before=$(head -1 /proc/stat); sleep 3; r1=$(runs_now); t1=$(date +%s.%N); machine_after=$(head -1 /proc/stat)
  # A window in which the backlog ran out measured idle time too: the rounds end there.
  [ "$(backlog_now)" = "0" ] && break
  raw_while_stopped
  awk -v n="$((r1 - r0))" -v s="$t0" -v e="$t1" -v before="$(tail -2 "$work/raws" | head -1)" -v after="$(tail -1 "$work/raws")" -v k="$round" \
    -v steal="$(steal_percent "$machine_before" "$machine_after")" \
    'BEGIN { rate = n / (e - s); printf "    round %d: HookBus %.0f runs/s draining, raw %d before and %d after: %.0f%% (steal %s%%)\n", k, rate, before, after, 200 * rate / (before + after), steal }' | tee -a "$work/rounds"
done
while [ "$(backlog_now)" != "0" ]; do sleep 0.2; done
ended=$(date +%s.%N)
metrics=$(curl -s -H "$metrics_header" "http://127.0.0.1:$port/metrics")
accepted=$(echo "$metrics" | awk '/^hookbus_events_accepted_total/ {print $2}')
executed=$(echo "$metrics" | awk '/^hookbus_runs_total/ {sum += $2} END {print sum + 0}')
succeeded=$(echo "$metrics" | awk '/^hookbus_runs_total\{outcome="succeeded"/ {sum += $2} END {print sum + 0}')
echo "    accepted $accepted, executed $executed ($succeeded succeeded)"
# End to end: from the first request to the empty backlog, less the time the server was stopped.
raws=$(tr '\n' ' ' < "$work/raws")
awk -v n="$executed" -v s="$started" -v e="$ended" -v p="$stopped" -v raws="$raws" 'BEGIN {
  count = split(raws, r, " "); sum = 0; for (i = 1; i <= count; i++) sum += r[i]
  rate = n / (e - s - p)
  printf "    %.0f completed runs/s end to end over %.1f s (accepting included), %.0f%% of the mean raw rate\n", rate, e - s - p, count ? 100 * rate / (sum / count) : 0 }'
sort -t: -k3 -n "$work/rounds" | awk -F'[:%]' '{ ratios[NR] = $3 } END { if (NR) printf "    draining: median round %.0f%% of raw (%d rounds)\n", ratios[int((NR + 1) / 2)], NR }'
kill "$(cat "$work/server.pid")"; rm -f "$work/server.pid"
