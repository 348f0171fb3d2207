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
trap '[ -f "$work/server.pid" ] && kill "$(cat "$work/server.pid")" 2>/dev/null; rm -rf "$work"' EXIT
for product in hookbus hookbus-bench; do
  swift build -c release --product "$product" --scratch-path .build-release > "$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
done

start_server() {  # $1 = hooks folder; prints the port
  "$bin" serve --hooks "$1" --config "$work/hookbus.yaml" --port 0 --log-level error > "$work/server.log" 2>&1 &
  echo $! > "$work/server.pid"
  for _ in $(seq 1 200); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/server.log" 2>/dev/null | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && { echo "$port"; return; }
    sleep 0.05
  done
  echo "server did not start" >&2; cat "$work/server.log" >&2; exit 1
}

cat > "$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"tasksDetail": {"id": 7, "status": "approved", "title": "Contain host", "assigned_to": "ann"}}'
done = function(summary, latency, requests)
  io.write(string.format("    p50 %.2f ms, p99 %.2f ms, non-2xx %d\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status))
end
LUA

# (a) approveTask: no shipped trigger listens to it, so this measures accept + durable store.
printf 'data_dir: %s/a\nserver: {backlog_limit: 100000000}\n' "$work" > "$work/hookbus.yaml"
port=$(start_server Hooks)
echo "(a) durable accepts, no matching trigger, ${duration}s each:"
# The server's CPU time per request (utime + stime from /proc) is steadier than the rate on a
# shared machine, and says what the accept path costs whatever wrk takes of the same cores.
server_cpu() { awk '{print $14 + $15}' "/proc/$(cat "$work/server.pid")/stat"; }
for connections in 32 128; do
  echo "  $connections connections:"
  before=$(server_cpu)
  out=$(wrk -t2 -c"$connections" -d"${duration}s" -s "$work/post.lua" "http://127.0.0.1:$port/api/v1/hooks/approveTask")
  after=$(server_cpu)
  echo "$out" | grep -E "Requests/sec|p50" | sed 's/^/    /'
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  awk -v a="$before" -v b="$after" -v n="$requests" -v tk="$(getconf CLK_TCK)" 'BEGIN { printf "    server CPU %.0f µs per request\n", (b - a) / tk * 1e6 / n }'
done
accepted=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^hookbus_events_accepted_total/ {print $2}')
echo "  accepted and stored: $accepted events"
kill "$(cat "$work/server.pid")"; sleep 1

# (b) a trivial bash trigger on approveTask: every accepted event must be executed. Each request
# is about a different task: runs about one task run one at a time, in order, by design, so a
# single task id would measure one slot, not the pool.
cat > "$work/post-tasks.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, string.format('{"tasksDetail": {"id": %d, "status": "approved", "title": "Contain host", "assigned_to": "ann"}}', counter))
end
LUA
mkdir -p "$work/hooks"
printf "name: 'Bench'\nscript:\n  type: bash\nconfiguration:\n  data_attributes: {}\n" > "$work/hooks/i.yaml"
printf "integration: 'Bench'\nname: 'Trivial'\ntype: Trigger\nscript:\n  code: ':'\nhook: [approveTask]\n" > "$work/hooks/a.yaml"
printf 'data_dir: %s/b\nrunner: {concurrency: 2}\nserver: {backlog_limit: 100000000}\n' "$work" > "$work/hookbus.yaml"
# The reference: starting bash the same way (two at a time, output captured), measured just
# before and just after, since this shared machine's speed drifts within minutes.
raw_rate() { .build-release/release/hookbus-bench runner --only bash --raw-only --runs 3000 | grep -o 'raw [0-9]*' | grep -o '[0-9]*'; }
raw_before=$(raw_rate)
port=$(start_server "$work/hooks")
echo "(b) trivial bash trigger, 16 connections for ${duration}s, then until the backlog is empty:"
started=$(date +%s.%N)
wrk -t1 -c16 -d"${duration}s" -s "$work/post-tasks.lua" "http://127.0.0.1:$port/api/v1/hooks/approveTask" | grep -E "Requests/sec" | sed 's/^/    accept /'
runs_now() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^hookbus_runs_total/ {sum += $2} END {print sum + 0}'; }
drain_start=$(date +%s.%N); drain_runs=$(runs_now)
while [ "$(curl -s "http://127.0.0.1:$port/healthz" | grep -o '"backlog":[0-9]*' | grep -o '[0-9]*$')" != "0" ]; do sleep 0.2; done
ended=$(date +%s.%N)
drain_end_runs=$(runs_now)
metrics=$(curl -s "http://127.0.0.1:$port/metrics")
accepted=$(echo "$metrics" | awk '/^hookbus_events_accepted_total/ {print $2}')
executed=$(echo "$metrics" | awk '/^hookbus_runs_total/ {sum += $2} END {print sum + 0}')
succeeded=$(echo "$metrics" | awk '/^hookbus_runs_total\{outcome="succeeded"/ {sum += $2} END {print sum + 0}')
echo "    accepted $accepted, executed $executed ($succeeded succeeded)"
awk -v n="$executed" -v s="$started" -v e="$ended" 'BEGIN { printf "    %.0f completed runs/s over %.1f s\n", n / (e - s), e - s }'
awk -v n="$((drain_end_runs - drain_runs))" -v s="$drain_start" -v e="$ended" 'BEGIN { printf "    %.0f runs/s while the backlog drained (no accepts competing), over %.1f s\n", n / (e - s), e - s }'
kill "$(cat "$work/server.pid")"; rm -f "$work/server.pid"; sleep 1
raw_after=$(raw_rate)
awk -v n="$executed" -v s="$started" -v e="$ended" -v r1="$raw_before" -v r2="$raw_after" -v d="$((drain_end_runs - drain_runs))" -v ds="$drain_start" \
  'BEGIN { r = (r1 + r2) / 2; printf "    raw bash starts: %d/s before, %d/s after; end to end %.0f%% of their mean, draining %.0f%%\n", r1, r2, 100 * n / (e - s) / r, 100 * d / (e - ds) / r }'
