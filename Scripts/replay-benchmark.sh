#!/usr/bin/env bash
# Replay benchmark (release build): events per second for
#   - `replay --dry-run` of 100,000 recorded events against the shipped Hooks/;
#   - `replay --to` a local server, 50,000 events no trigger listens to (accept path only).
# Usage: Scripts/replay-benchmark.sh [events for the dry run, default 100000]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-100000}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
swift build -c release --product hookbus --scratch-path .build-release > "$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
bin=$PWD/.build-release/release/hookbus
source Scripts/bench-lib.sh

python3 - "$work" "$count" <<'PY'
import json, sys
work, count = sys.argv[1], int(sys.argv[2])
hooks = ["updateIncident", "closeTask", "addObservableIp", "webhook", "grabEvent"]
with open(work + "/events.jsonl", "w") as f, open(work + "/unrouted.jsonl", "w") as g:
    for n in range(count):
        hook = hooks[n % len(hooks)]
        inc = {"id": n % 500, "status": "open", "owner": "ann", "severity": "high", "additional_info": "x" * 40}
        params = {
            "updateIncident": {"incidentsBeforeUpdate": inc, "incidentsAfterUpdate": dict(inc, status="closed")},
            "closeTask": {"tasksDetail": {"id": n, "status": "closed", "assigned_to": "bob"}},
            "addObservableIp": {"observablesDetail": {"id": n, "value": "203.0.113.%d" % (n % 250)}, "incidentsDetail": inc},
            "webhook": {"payload": {"event": {"event_type": "incident.triggered", "data": {"title": "t%d" % n}}}},
            "grabEvent": {"triage_eventsDetail": {"id": n, "status": "new", "operator": "ann"}},
        }[hook]
        f.write(json.dumps({"id": "evt_bench_%d" % n, "hook": hook, "params": params, "receivedAt": "2026-11-20T08:00:00.000Z"}) + "\n")
        if n < 50000:
            g.write(json.dumps({"id": "evt_to_%d" % n, "hook": "approveTask", "params": {"tasksDetail": {"id": n, "status": "approved"}}}) + "\n")
PY

cd "$work"
start=$(date +%s.%N)
"$bin" replay events.jsonl --dry-run --hooks "$OLDPWD/Hooks" > /dev/null 2> dry.log
end=$(date +%s.%N)
tail -1 dry.log
awk -v n="$count" -v s="$start" -v e="$end" 'BEGIN { printf "replay --dry-run: %d events in %.2f s = %.0f events/s (target >= 50,000)\n", n, e - s, n / (e - s) }'

printf 'data_dir: %s/data\nserver: {backlog_limit: 100000000}\n' "$work" > hookbus.yaml
"$bin" serve --hooks "$OLDPWD/Hooks" --config hookbus.yaml --port 0 --log-level error > server.log 2>&1 &
port=$(await_port server.log)
start=$(date +%s.%N)
"$bin" replay unrouted.jsonl --to "http://127.0.0.1:$port" 2> to.log
end=$(date +%s.%N)
tail -1 to.log
sent=$(( count < 50000 ? count : 50000 ))
awk -v n="$sent" -v s="$start" -v e="$end" 'BEGIN { printf "replay --to: %d events in %.2f s = %.0f events/s (target >= 5,000)\n", n, e - s, n / (e - s) }'
