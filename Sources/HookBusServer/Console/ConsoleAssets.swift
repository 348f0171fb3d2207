/// The console's stylesheet and script, compiled into the binary: no CDN, no build step, and
/// nothing inline (the pages' Content-Security-Policy allows scripts and styles from the server
/// only). The script only adds to pages that work without it: live rows, the theme switch and
/// keyboard shortcuts.
enum ConsoleAssets {
    static let css = #"""
:root { color-scheme: light; --bg: #fbfbfa; --fg: #1d1f21; --muted: #666b70; --line: #d9dcde; --panel: #ffffff; --accent: #1f5fbf;
  --ok: #1b7a3a; --bad: #b3261e; --warn: #8a5a00; --code: #f2f3f4; --new: #fff6cc; }
:root[data-theme="dark"] { color-scheme: dark; --bg: #16181a; --fg: #e3e5e8; --muted: #9aa0a6; --line: #33373b; --panel: #1e2124; --accent: #7fb0ff;
  --ok: #6fcf8c; --bad: #ff8a80; --warn: #f3c465; --code: #25292d; --new: #3a3413; }
@media (prefers-color-scheme: dark) { :root:not([data-theme="light"]) { color-scheme: dark; --bg: #16181a; --fg: #e3e5e8; --muted: #9aa0a6;
  --line: #33373b; --panel: #1e2124; --accent: #7fb0ff; --ok: #6fcf8c; --bad: #ff8a80; --warn: #f3c465; --code: #25292d; --new: #3a3413; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: var(--panel); padding: 4px 8px; }
header.top { display: flex; align-items: center; gap: 16px; padding: 6px 16px; border-bottom: 1px solid var(--line); background: var(--panel); }
header.top nav { display: flex; gap: 12px; } header.top nav a { text-decoration: none; padding: 2px 4px; }
header.top nav a[aria-current="page"] { font-weight: 600; border-bottom: 2px solid var(--accent); }
.brand { font-weight: 700; text-decoration: none; color: var(--fg); } .spacer { flex: 1; } .who { color: var(--muted); }
main { padding: 12px 16px 32px; max-width: 1600px; }
h1 { font-size: 20px; margin: 4px 0 12px; } h2 { font-size: 16px; margin: 0 0 8px; } h3 { font-size: 14px; margin: 12px 0 6px; } h4 { font-size: 13px; margin: 10px 0 4px; }
code, pre, .time, .num, td a { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 12.5px; }
.filters { display: flex; flex-wrap: wrap; gap: 6px 12px; align-items: end; padding: 8px; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; margin-bottom: 10px; }
.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 2px; }
input, select, button { font: inherit; color: var(--fg); background: var(--bg); border: 1px solid var(--line); border-radius: 4px; padding: 3px 6px; }
button { cursor: pointer; background: var(--panel); } button[type="submit"] { border-color: var(--accent); }
form.inline { display: inline; }
table.grid { border-collapse: collapse; width: 100%; background: var(--panel); }
table.grid th, table.grid td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--line); vertical-align: top; white-space: nowrap; }
table.grid th { position: sticky; top: 0; background: var(--panel); font-size: 12px; color: var(--muted); font-weight: 600; }
table.grid tbody tr:hover { background: var(--code); }
tr.failure td:first-child, article.run.failure { border-left: 3px solid var(--bad); }
tr.dead td { background: color-mix(in srgb, var(--bad) 10%, transparent); }
tr.new td { background: var(--new); }
.badge { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: 12px; border: 1px solid var(--line); white-space: nowrap; }
.badge.succeeded { color: var(--ok); border-color: var(--ok); } .badge.skipped { color: var(--muted); }
.badge.failure { color: var(--bad); border-color: var(--bad); } .badge.dead { color: #fff; background: var(--bad); border-color: var(--bad); }
.badge.running, .badge.waiting { color: var(--warn); border-color: var(--warn); }
.state.done { color: var(--muted); } .state.pending, .state.running, .state.waiting, .state.degraded { color: var(--warn); } .state.ok { color: var(--ok); }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; margin: 12px 0; }
.panel.waiting { border-color: var(--warn); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 6px 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
pre { background: var(--code); border: 1px solid var(--line); border-radius: 4px; padding: 8px; margin: 0; overflow: auto; max-height: 28em; white-space: pre-wrap; word-break: break-word; }
pre.stderr { border-left: 3px solid var(--bad); }
article.run { border-top: 1px solid var(--line); padding: 6px 0 10px 10px; }
.muted { color: var(--muted); font-weight: normal; } .empty { color: var(--muted); padding: 8px; }
.error { color: var(--bad); } .flash { padding: 6px 10px; border-radius: 4px; border: 1px solid var(--line); background: var(--panel); }
.flash.error { border-color: var(--bad); } .flash.ok { border-color: var(--ok); }
.pager { margin: 10px 0; display: flex; gap: 16px; } .live { color: var(--ok); font-size: 12px; margin: 4px 0; }
.actions { margin: 8px 0; display: flex; gap: 10px; align-items: center; }
.login { max-width: 420px; margin: 60px auto; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 20px; }
.login form { display: flex; flex-direction: column; gap: 8px; }
svg.chart { display: block; overflow: visible; }
svg.chart .slot { fill: var(--code); } svg.chart .bar-runs { fill: var(--muted); } svg.chart .bar-failed { fill: var(--bad); }
svg.chart .rate { fill: none; stroke: var(--ok); stroke-width: 1.5; }
svg.chart .bar-duration { fill: var(--accent); } svg.chart text { fill: var(--fg); font: 10px ui-monospace, "DejaVu Sans Mono", monospace; }
.action-form { display: flex; flex-direction: column; gap: 10px; max-width: 640px; padding: 12px; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; }
.action-form button[type="submit"] { align-self: flex-start; }
.action-form .field { display: flex; flex-direction: column; gap: 3px; }
.action-form .field.invalid input, .action-form .field.invalid textarea, .action-form .field.invalid select { border-color: var(--bad); }
.action-form textarea { font: 12.5px ui-monospace, "DejaVu Sans Mono", monospace; color: var(--fg); background: var(--bg); border: 1px solid var(--line); border-radius: 4px; }
.field-error { color: var(--bad); margin: 0; font-size: 13px; } .hint { color: var(--muted); margin: 0; font-size: 12px; } .required { color: var(--bad); }
"""#

    static let javascript = #"""
"use strict";
(function () {
  // Theme: the system's unless chosen here; kept in this browser only.
  var root = document.documentElement;
  var saved = null;
  try { saved = localStorage.getItem("hookbus-theme"); } catch (e) {}
  if (saved === "light" || saved === "dark") root.setAttribute("data-theme", saved);
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("theme");
    if (button) button.addEventListener("click", function () {
      var dark = root.getAttribute("data-theme") === "dark" ||
        (!root.getAttribute("data-theme") && window.matchMedia("(prefers-color-scheme: dark)").matches);
      var next = dark ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try { localStorage.setItem("hookbus-theme", next); } catch (e) {}
    });
    // "/" focuses the first filter field, as in most consoles.
    document.addEventListener("keydown", function (event) {
      if (event.key !== "/" || /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName)) return;
      var field = document.querySelector(".filters input, .filters select");
      if (field) { event.preventDefault(); field.focus(); }
    });
    live();
  });

  function cell(row, text, className) {
    var td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  // New events, pushed by the server (server-sent events); rows are built as text, never as HTML.
  function live() {
    var marker = document.getElementById("live");
    var rows = document.getElementById("event-rows");
    if (!marker || !rows || !marker.getAttribute("data-stream") || !window.EventSource) return;
    var source = new EventSource(marker.getAttribute("data-stream"));
    source.addEventListener("open", function () { marker.hidden = false; });
    source.addEventListener("error", function () { marker.hidden = true; });
    source.addEventListener("event", function (message) {
      var e = JSON.parse(message.data);
      if (document.querySelector('tr[data-event="' + CSS.escape(e.id) + '"]')) return;
      var row = document.createElement("tr");
      row.className = "new";
      row.setAttribute("data-event", e.id);
      cell(row, e.received, "time");
      var link = document.createElement("a");
      link.href = "/ui/events/" + encodeURIComponent(e.id);
      link.textContent = e.id;
      cell(row, "").appendChild(link);
      cell(row, e.hook);
      cell(row, e.source);
      cell(row, e.subject || "");
      var state = document.createElement("span");
      state.className = "state " + e.state;
      state.textContent = e.state;
      cell(row, "", "state-cell").appendChild(state);
      cell(row, "", "runs");
      rows.insertBefore(row, rows.firstChild);
      var empty = document.getElementById("no-events");
      if (empty) empty.hidden = true;
    });
    // An event's runs ended: its state, and these runs added to the counts the row shows.
    source.addEventListener("runs", function (message) {
      var e = JSON.parse(message.data);
      var row = document.querySelector('tr[data-event="' + CSS.escape(e.id) + '"]');
      if (!row) return;
      var state = row.querySelector(".state-cell .state");
      if (state && e.state) { state.className = "state " + e.state; state.textContent = e.state; }
      var runs = row.querySelector("td.runs");
      e.outcomes.forEach(function (outcome) {
        var badge = runs.querySelector('[data-outcome="' + CSS.escape(outcome.name) + '"]');
        if (!badge) {
          badge = document.createElement("span");
          badge.setAttribute("data-outcome", outcome.name);
          badge.setAttribute("data-count", "0");
          runs.appendChild(badge);
          runs.appendChild(document.createTextNode(" "));
        }
        var count = parseInt(badge.getAttribute("data-count"), 10) + parseInt(outcome.count, 10);
        badge.setAttribute("data-count", String(count));
        badge.className = "badge " + outcome["class"];
        badge.textContent = count + " " + outcome.name;
        if (/failure$/.test(outcome["class"])) row.classList.add("failure");
      });
    });
  }
})();
"""#
}
