#!/usr/bin/env bash
# The webhook path against the hook path, side by side in one run (release build, wrk on
# loopback): durable accepts of a hook request, and of a webhook request with a GitHub-style
# HMAC-SHA256 signature over its body, interleaved round by round (this machine's speed drifts),
# at 32 and 128 connections. No trigger listens to either, so both measure admission + the
# durable store. Prints the medians, p99 and the server's CPU per request, then the webhook
# path's share of the hook path's rate.
# Usage: Scripts/webhook-benchmark.sh [rounds, default 3] [seconds per run, default 5] [binary]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}; seconds=${2:-5}; bin=${3:-.build-release/release/hookbus}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
if [ "$bin" = .build-release/release/hookbus ]; then
  swift build -c release --product hookbus --scratch-path .build-release > "$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
fi
source Scripts/bench-lib.sh

# Triggers on another hook only: neither request starts a run.
mkdir -p "$work/hooks"
printf "name: 'Bench'\nscript:\n  type: bash\nconfiguration:\n  data_attributes: {}\n" > "$work/hooks/i.yaml"
printf "integration: 'Bench'\nname: 'Elsewhere'\ntype: Trigger\nscript:\n  code: ':'\nhook: [newIncident]\n" > "$work/hooks/a.yaml"
export HOOKBUS_BENCH_WEBHOOK_SECRET=bench-webhook-secret-0123456789
write_accept_lua "$work/hook.lua"
body='{"action":"opened","issue":{"number":7,"title":"Contain host","user":{"login":"ann"}}}'
signature=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$HOOKBUS_BENCH_WEBHOOK_SECRET" -r | cut -d' ' -f1)
cat > "$work/webhook.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-GitHub-Event"] = "issues"
wrk.headers["X-Hub-Signature-256"] = "sha256=$signature"
wrk.body = '$body'
LUA
for script in hook webhook; do
  cat >> "$work/$script.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("P99 %.2f NON2XX %d\n", latency:percentile(99) / 1000, summary.errors.status))
end
LUA
done

for round in $(seq 1 "$rounds"); do
  data=$(mktemp -d -p "$work")
  cat > "$data/hookbus.yaml" <<YAML
data_dir: $data
server: {backlog_limit: 100000000, hook_token: {env: HOOKBUS_BENCH_TOKEN}}
webhooks:
  github:
    auth: {scheme: hmac, header: X-Hub-Signature-256, prefix: 'sha256=', secrets: [{env: HOOKBUS_BENCH_WEBHOOK_SECRET}]}
    pass_headers: [X-GitHub-Event]
YAML
  "$bin" serve --hooks "$work/hooks" --config "$data/hookbus.yaml" --port 0 --log-level error > "$data/log" 2>&1 &
  pid=$!
  port=$(await_port "$data/log")
  for connections in 32 128; do
    for path in hook webhook; do
      url="http://127.0.0.1:$port/api/v1/hooks/approveTask"
      [ "$path" = webhook ] && url="http://127.0.0.1:$port/api/v1/webhooks/github"
      before=$(head -1 /proc/stat); cpu_before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
      out=$(wrk -t2 -c"$connections" -d"${seconds}s" -s "$work/$path.lua" "$url")
      after=$(head -1 /proc/stat); cpu_after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
      requests=$(echo "$out" | awk '/requests in/ {print $1}')
      echo "$path $connections $(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}') $(echo "$out" | awk '/P99/ {print $2, $4}') $(awk -v a="$cpu_before" -v b="$cpu_after" -v n="$requests" -v tk="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", (b - a) / tk * 1e6 / n }') $(steal_percent "$before" "$after")" >> "$work/results"
    done
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
python3 - "$work/results" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    path, connections, rate, p99, non2xx, cpu, steal = line.split()
    runs[(path, int(connections))].append((int(rate), float(p99), int(non2xx), int(cpu), float(steal)))
medians = {}
for (path, connections), values in sorted(runs.items(), key=lambda item: (item[0][1], item[0][0])):
    rates = [v[0] for v in values]
    medians[(path, connections)] = statistics.median(rates)
    print(f"{path:8s} {connections:4d} connections: {statistics.median(rates):6.0f}/s median [{min(rates)}-{max(rates)}], "
          f"p99 {statistics.median(v[1] for v in values):5.1f} ms, non-2xx {sum(v[2] for v in values)}, "
          f"server CPU {statistics.median(v[3] for v in values):4.0f} µs/request, steal {statistics.mean(v[4] for v in values):.1f}%")
for connections in (32, 128):
    print(f"webhook / hook at {connections} connections: {100 * medians[('webhook', connections)] / medians[('hook', connections)]:.0f}%")
PY
