# Shared by the benchmark scripts (sourced, not run).

# Waits for a server started with `--port 0` to log its address, and prints its port; if it does
# not within 10 s, prints its log and fails.
await_port() {  # $1 = the server's log file
  local port
  for _ in $(seq 1 200); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$1" 2>/dev/null | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && { echo "$port"; return; }
    sleep 0.05
  done
  echo "server did not start" >&2; cat "$1" >&2; return 1
}

# Benchmark servers authenticate as production ones do: their configuration reads this sender
# token (`server.hook_token: {env: HOOKBUS_BENCH_TOKEN}`, which old builds read too) and every
# request sends it; scripts that read /metrics add a metrics token (`metrics_header`).
export HOOKBUS_BENCH_TOKEN=bench-sender-token-0123456789abcdef
export HOOKBUS_BENCH_METRICS_TOKEN=bench-metrics-token-0123456789abcdef
metrics_header="Authorization: Bearer $HOOKBUS_BENCH_METRICS_TOKEN"

# The accept benchmarks' request, as a wrk script: an approveTask hook (no shipped trigger
# listens to it, so it measures accept + durable store). The caller appends its own `done`.
write_accept_lua() {  # $1 = the file to write
  cat > "$1" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench-sender-token-0123456789abcdef"
wrk.body = '{"tasksDetail": {"id": 7, "status": "approved", "title": "Contain host", "assigned_to": "ann"}}'
LUA
}

# The same request about a different task each time (`tasksDetail.id` counts up, after the
# prefix wrk is given as its first script argument, `-- PREFIX`, for runs side by side): runs
# and accepts about one task wait for each other by design, which one task id would measure
# instead. The caller appends its own `done`.
write_tasks_lua() {  # $1 = the file to write
  cat > "$1" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench-sender-token-0123456789abcdef"
counter = 0
init = function(args) id_prefix = args[1] or "" end
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, string.format('{"tasksDetail": {"id": "%s%d", "status": "approved", "title": "Contain host", "assigned_to": "ann"}}', id_prefix, counter))
end
LUA
}

# The share of the machine's time the hypervisor gave to others between two readings of the
# first line of /proc/stat ("steal"): on a shared virtual machine, the figures of a window with
# a high steal are the machine's, not the program's.
steal_percent() {  # $1, $2 = `head -1 /proc/stat` before and after
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x); split(b, y); t = 0; for (i = 2; i <= 11; i++) t += y[i] - x[i]; printf "%.1f", t ? 100 * (y[9] - x[9]) / t : 0 }'
}
