import Mustache

/// The console's pages as Mustache templates, compiled into the binary (no files to install or
/// lose beside it). Mustache escapes every `{{value}}` for HTML; nothing here uses the unescaped
/// `{{{…}}}` form, so what a trigger printed or a sender posted is always shown as text.
/// Each page is a child of `layout` (template inheritance: `{{<layout}}{{$body}}…`).
enum ConsoleTemplates {
    /// Every template, parsed once. A template that does not parse is a programming error that
    /// every console test meets first.
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in [("layout", layout), ("login", login), ("events", events), ("event", event), ("runs", runs), ("health", health),
                             ("runTable", runTable), ("message", message),
                             ("runArticle", runArticle), ("actions", actions), ("action", action), ("triggers", triggers)] {
            do {
                try library.register(text, named: name)
            } catch {
                fatalError("console template '\(name)' does not parse: \(error)")
            }
        }
        return library
    }()

    static let layout = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} · HookBus</title>
<link rel="stylesheet" href="/ui/assets/console.css">
<script src="/ui/assets/console.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
{{#user}}
<header class="top">
<a class="brand" href="/ui/events">HookBus</a>
<nav aria-label="Console">
<a href="/ui/events"{{#navEvents}} aria-current="page"{{/navEvents}}>Events</a>
<a href="/ui/runs"{{#navRuns}} aria-current="page"{{/navRuns}}>Runs</a>
<a href="/ui/triggers"{{#navTriggers}} aria-current="page"{{/navTriggers}}>Triggers</a>
<a href="/ui/actions"{{#navActions}} aria-current="page"{{/navActions}}>Actions</a>
<a href="/ui/health"{{#navHealth}} aria-current="page"{{/navHealth}}>Health</a>
</nav>
<span class="spacer"></span>
<button type="button" id="theme" title="Light or dark theme">Theme</button>
<span class="who" title="Your actions are recorded under this name">{{name}}</span>
<form method="post" action="/ui/logout" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Log out</button></form>
</header>
{{/user}}
<main id="main">
{{#flash}}<p class="flash {{kind}}" role="status">{{text}}</p>{{/flash}}
{{$body}}{{/body}}
</main>
</body>
</html>
"""#

    static let login = #"""
{{<layout}}{{$body}}
<section class="login">
<h1>HookBus console</h1>
<p>Log in with an operator token (one of <code>server.tokens</code> with <code>role: operator</code>).</p>
{{#openOnLoopback}}<p class="muted">This server has no operator token and is open on loopback: leave the field empty to log in as <code>anonymous</code>.</p>{{/openOnLoopback}}
{{#error}}<p class="error" id="login-error" role="alert">{{.}}</p>{{/error}}
<form method="post" action="/ui/login" id="login-form">
<label for="token">Operator token</label>
<input type="password" id="token" name="token" autocomplete="current-password" autofocus{{^openOnLoopback}} required{{/openOnLoopback}}>
<input type="hidden" name="next" value="{{next}}">
<button type="submit">Log in</button>
</form>
</section>
{{/body}}{{/layout}}
"""#

    static let events = #"""
{{<layout}}{{$body}}
<h1>Events</h1>
<form class="filters" method="get" action="/ui/events" id="event-filters">
<label>Hook <select name="hook"><option value="">any</option>{{#hooks}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/hooks}}</select></label>
<label>Source <select name="source"><option value="">any</option>{{#sources}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/sources}}</select></label>
<label>Endpoint <input name="endpoint" value="{{filter.endpoint}}" list="endpoints" size="12"></label>
<datalist id="endpoints">{{#endpoints}}<option value="{{.}}">{{/endpoints}}</datalist>
<label>State <select name="state"><option value="">any</option>{{#states}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/states}}</select></label>
<label>Runs <select name="outcome"><option value="">any</option>{{#outcomes}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/outcomes}}</select></label>
<label>Trigger <input name="trigger" value="{{filter.trigger}}" size="14" placeholder="Action or Integration/Action"></label>
<label>Incident or task <input name="subject" value="{{filter.subject}}" size="10" placeholder="1742"></label>
<label>Text in record <input type="search" name="text" value="{{filter.text}}" size="14" id="filter-text"></label>
<label>From <input name="since" value="{{filter.since}}" size="10" placeholder="2h, 7d or ISO 8601"></label>
<label>To <input name="until" value="{{filter.until}}" size="10" placeholder="ISO 8601"></label>
<button type="submit">Filter</button> <a href="/ui/events">Clear</a>
</form>
{{#filterError}}<p class="error" role="alert">{{.}}</p>{{/filterError}}
<p class="live" id="live" data-stream="{{stream}}" hidden>Live: new events appear at the top.</p>
{{#liveOff}}<p class="muted">{{.}}</p>{{/liveOff}}
<table class="grid" id="events">
<thead><tr><th>Received (UTC)</th><th>Event</th><th>Hook</th><th>Source</th><th>About</th><th>State</th><th>Runs</th></tr></thead>
<tbody id="event-rows">
{{#rows}}
<tr class="{{rowClass}}" data-event="{{id}}">
<td class="time">{{received}}</td>
<td><a href="{{href}}">{{id}}</a></td>
<td>{{hook}}</td>
<td>{{source}}</td>
<td>{{subject}}</td>
<td class="state-cell"><span class="state {{state}}">{{state}}</span></td>
<td class="runs">{{#outcomes}}<span class="badge {{class}}" data-outcome="{{name}}" data-count="{{count}}">{{count}} {{name}}</span> {{/outcomes}}</td>
</tr>
{{/rows}}
</tbody>
</table>
{{^rows}}<p class="empty" id="no-events">No events match.</p>{{/rows}}
<nav class="pager">{{#newest}}<a href="{{.}}">Newest</a>{{/newest}} {{#older}}<a rel="next" href="{{.}}" id="older">Older →</a>{{/older}}</nav>
{{#searchOlder}}<p class="muted" id="search-older">{{text}} <a rel="next" href="{{href}}">Search older events →</a></p>{{/searchOlder}}
{{/body}}{{/layout}}
"""#

    static let runTable = #"""
<table class="grid" id="runs">
<thead><tr><th>Run</th><th>Started (UTC)</th><th>Event</th><th>Trigger</th><th>Outcome</th><th>Attempt</th><th>Duration</th><th>Exit</th><th>By</th></tr></thead>
<tbody>
{{#runRows}}
<tr class="{{rowClass}}">
<td><a href="{{eventHref}}#run-{{id}}">{{id}}</a></td>
<td class="time">{{started}}</td>
<td><a href="{{eventHref}}">{{event}}</a></td>
<td>{{integration}}/{{trigger}}</td>
<td><span class="badge {{outcomeClass}}">{{outcome}}</span></td>
<td>{{attempt}}</td>
<td class="num">{{duration}}</td>
<td class="num">{{exit}}</td>
<td>{{by}}</td>
</tr>
{{/runRows}}
</tbody>
</table>
"""#

    static let runs = #"""
{{<layout}}{{$body}}
<h1>Runs</h1>
<form class="filters" method="get" action="/ui/runs" id="run-filters">
<label>Trigger <input name="trigger" value="{{filter.trigger}}" size="16" placeholder="Action or Integration/Action"></label>
<label>Outcome <select name="outcome"><option value="">any</option>{{#outcomes}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/outcomes}}</select></label>
<label>Event <input name="event" value="{{filter.event}}" size="24"></label>
<label>From <input name="since" value="{{filter.since}}" size="10" placeholder="2h, 7d or ISO 8601"></label>
<label>To <input name="until" value="{{filter.until}}" size="10" placeholder="ISO 8601"></label>
<button type="submit">Filter</button> <a href="/ui/runs">Clear</a>
</form>
{{#filterError}}<p class="error" role="alert">{{.}}</p>{{/filterError}}
{{>runTable}}
{{^runRows}}<p class="empty">No runs match.</p>{{/runRows}}
<nav class="pager">{{#newest}}<a href="{{.}}">Newest</a>{{/newest}} {{#older}}<a rel="next" href="{{.}}" id="older">Older →</a>{{/older}}</nav>
{{/body}}{{/layout}}
"""#

    static let event = #"""
{{<layout}}{{$body}}
<h1>Event <code id="event-id">{{id}}</code></h1>
<dl class="facts">
<dt>Hook</dt><dd>{{hook}}{{#button}} — button <strong>{{.}}</strong>{{/button}}</dd>
<dt>Received</dt><dd class="time">{{received}}</dd>
<dt>Source</dt><dd>{{source}}</dd>
{{#signature}}<dt>Signature</dt><dd>{{.}}</dd>{{/signature}}
{{#subject}}<dt>About</dt><dd><a href="/ui/events?subject={{query}}">{{text}}</a></dd>{{/subject}}
<dt>State</dt><dd><span class="state {{state}}" id="event-state">{{state}}</span> (attempt {{attempt}})</dd>
{{#replayOf}}<dt>Replay of</dt><dd><a href="{{href}}">{{id}}</a></dd>{{/replayOf}}
</dl>
{{#waiting}}
<section class="panel waiting" id="waiting">
<h2>Why it is still waiting</h2>
<ul>{{#reasons}}<li><strong>{{kind}}</strong>{{#trigger}} · {{.}}{{/trigger}}: {{reason}}{{#due}} (due {{.}}){{/due}}</li>{{/reasons}}</ul>
</section>
{{/waiting}}
{{#canRedrive}}
<form method="post" action="{{href}}/redrive" class="actions" id="redrive-form">
<input type="hidden" name="csrf" value="{{csrf}}">
<button type="submit" id="redrive">Re-drive</button>
<span class="muted">Runs the failed triggers again (every trigger that ran, when none failed), as {{name}}.</span>
</form>
{{/canRedrive}}
<section class="panel">
<h2>Runs</h2>
{{^runs}}<p class="empty">No runs.</p>{{/runs}}
{{#moreRuns}}<p class="muted">The newest 200 runs are shown: <a href="{{.}}">all runs of this event</a>.</p>{{/moreRuns}}
{{#runs}}
{{>runArticle}}
{{/runs}}
</section>
<section class="panel">
<h2>Params</h2>
{{#params}}<h3>{{name}}</h3><pre class="json">{{text}}</pre>{{/params}}
{{#webhookBody}}
<h3>Body as received <span class="muted">({{size}} bytes{{#contentType}}, {{.}}{{/contentType}}{{#encoding}}; {{.}}{{/encoding}})</span></h3>
<pre class="output" id="raw-body">{{text}}</pre>
{{#headers}}<h3>Kept headers</h3><dl class="facts">{{#items}}<dt>{{name}}</dt><dd>{{value}}</dd>{{/items}}</dl>{{/headers}}
{{/webhookBody}}
</section>
{{/body}}{{/layout}}
"""#

    /// A run in full: outcome, attempt chain, output, results, invocation (the event page and
    /// an action's result).
    static let runArticle = #"""
<article class="run {{rowClass}}" id="run-{{id}}">
<h3><span class="badge {{outcomeClass}}">{{outcome}}</span> {{integration}}/{{trigger}} <span class="muted">run {{id}} · attempt {{attempt}}{{#previousRun}} · repeats <a href="#run-{{.}}">run {{.}}</a>{{/previousRun}}{{#by}} · by {{.}}{{/by}}</span></h3>
<dl class="facts">
<dt>Started</dt><dd class="time">{{started}}</dd>
{{#duration}}<dt>Duration</dt><dd>{{.}}</dd>{{/duration}}
{{#exit}}<dt>Exit code</dt><dd>{{.}}</dd>{{/exit}}
{{#signal}}<dt>Signal</dt><dd>{{.}}</dd>{{/signal}}
{{#reason}}<dt>Reason</dt><dd>{{.}}</dd>{{/reason}}
</dl>
{{#stdout}}<h4>stdout{{#stdoutDropped}} <span class="muted">({{.}} bytes dropped)</span>{{/stdoutDropped}}</h4><pre class="output stdout">{{text}}</pre>{{/stdout}}
{{#stderr}}<h4>stderr{{#stderrDropped}} <span class="muted">({{.}} bytes dropped)</span>{{/stderrDropped}}</h4><pre class="output stderr">{{text}}</pre>{{/stderr}}
{{#table}}<h4>Results</h4><table class="grid results"><thead><tr>{{#columns}}<th>{{.}}</th>{{/columns}}</tr></thead><tbody>{{#rows}}<tr>{{#cells}}<td>{{.}}</td>{{/cells}}</tr>{{/rows}}</tbody></table>{{/table}}
{{#output}}<h4>Output values</h4><pre class="json">{{.}}</pre>{{/output}}
{{#invocation}}<details><summary>Invocation</summary><pre class="json">{{.}}</pre></details>{{/invocation}}
</article>
"""#

    static let actions = #"""
{{<layout}}{{$body}}
<h1>Actions</h1>
<p class="muted">What runs from here is recorded in the audit trail under your name, as a Test Action or a connection test.</p>
{{#result}}<section class="panel" id="action-result"><h2>Connection test of {{integration}}</h2>{{#run}}{{>runArticle}}{{/run}}</section>{{/result}}
<table class="grid" id="actions">
<thead><tr><th>Integration</th><th>Actions</th><th>Connection</th><th>File</th></tr></thead>
<tbody>
{{#integrations}}
<tr>
<td>{{name}}</td>
<td>{{#actions}}<a href="{{href}}" data-action="{{key}}">{{name}}</a> <span class="muted">{{type}}</span><br>{{/actions}}{{^actions}}<span class="muted">triggers only</span>{{/actions}}</td>
<td>{{#testAction}}<form method="post" action="{{.}}" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Test connection</button></form>{{/testAction}}{{^testAction}}<span class="muted">no test_connection_code</span>{{/testAction}}</td>
<td><code>{{file}}</code></td>
</tr>
{{/integrations}}
</tbody>
</table>
{{/body}}{{/layout}}
"""#

    static let action = #"""
{{<layout}}{{$body}}
<p><a href="/ui/actions">← Actions</a></p>
<h1>{{action}} <span class="muted">{{integration}} · {{type}}</span></h1>
<p class="muted">Defined in <code>{{file}}</code>. It runs now, with your name in the audit trail.</p>
{{#hasProblems}}<p class="error" role="alert" id="form-problems">Nothing ran: correct the fields marked below.{{#problems}} {{.}}.{{/problems}}</p>{{/hasProblems}}
<form method="post" action="{{post}}" class="action-form" id="action-form" novalidate>
<input type="hidden" name="csrf" value="{{csrf}}">
{{#fields}}
<div class="field{{#error}} invalid{{/error}}">
<label for="f-{{id}}">{{label}}{{#required}} <span class="required" title="required">*</span>{{/required}}{{#validator}} <span class="muted">({{.}})</span>{{/validator}}</label>
{{#isText}}<input type="text" id="f-{{id}}" name="{{name}}" value="{{value}}"{{#inputMode}} inputmode="{{.}}"{{/inputMode}}{{#placeholder}} placeholder="{{.}}"{{/placeholder}}{{#error}} aria-invalid="true" aria-describedby="error-{{id}}"{{/error}}>{{/isText}}
{{#isTextarea}}<textarea id="f-{{id}}" name="{{name}}" rows="4"{{#placeholder}} placeholder="{{.}}"{{/placeholder}}{{#error}} aria-invalid="true" aria-describedby="error-{{id}}"{{/error}}>{{value}}</textarea>{{/isTextarea}}
{{#isList}}<select id="f-{{id}}" name="{{name}}"><option value="">{{none}}</option>{{#options}}<option value="{{key}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/options}}</select>{{/isList}}
{{#isMultilist}}<select id="f-{{id}}" name="{{name}}" multiple>{{#options}}<option value="{{key}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/options}}</select>{{/isMultilist}}
{{#isCheckbox}}<input type="checkbox" id="f-{{id}}" name="{{name}}" value="true"{{#checked}} checked{{/checked}}>{{/isCheckbox}}
{{#hint}}<p class="hint">{{.}}</p>{{/hint}}
{{#error}}<p class="field-error" id="error-{{id}}" role="alert">{{label}}: {{.}}</p>{{/error}}
</div>
{{/fields}}
{{^fields}}<p class="muted">This action has no fields.</p>{{/fields}}
<button type="submit">Run {{action}}</button>
</form>
{{#result}}<section class="panel" id="action-result"><h2>Result</h2>{{#run}}{{>runArticle}}{{/run}}</section>{{/result}}
{{/body}}{{/layout}}
"""#

    static let triggers = #"""
{{<layout}}{{$body}}
<h1>Triggers</h1>
<p class="muted">The last 24 hours, hour by hour (UTC): bars are runs, red the failed ones, the line the share that did not fail. Durations are of the same runs.</p>
<table class="grid" id="triggers">
<thead><tr><th>Trigger</th><th>Hooks</th><th class="num">Runs</th><th class="num">Failed</th><th class="num">Success</th><th>Runs per hour</th><th>Duration</th><th>Defined in</th></tr></thead>
<tbody>
{{#triggers}}
<tr class="{{rowClass}}">
<td><a href="/ui/events?trigger={{query}}">{{name}}</a>{{#truncated}} <span class="muted">({{.}})</span>{{/truncated}}</td>
<td>{{hooks}}</td>
<td class="num">{{runs}}</td>
<td class="num">{{failed}}</td>
<td class="num">{{rate}}</td>
<td>{{#chart}}<svg class="chart" width="{{width}}" height="{{height}}" viewBox="0 0 {{width}} {{height}}" role="img" aria-label="{{label}}">
<title>{{label}}</title>
{{#bars}}<g><title>{{title}}</title><rect class="slot" x="{{x}}" y="0" width="{{width}}" height="40"></rect><rect class="bar-runs" x="{{x}}" y="{{y}}" width="{{width}}" height="{{height}}"></rect><rect class="bar-failed" x="{{x}}" y="{{failedY}}" width="{{width}}" height="{{failedHeight}}"></rect></g>{{/bars}}
{{#line}}<polyline class="rate" points="{{.}}"></polyline>{{/line}}
</svg>{{/chart}}</td>
<td>{{#durations}}<svg class="chart durations" width="190" height="36" viewBox="0 0 190 36" role="img" aria-label="{{label}}"><title>{{label}}</title>
{{#bars}}<text x="0" y="{{textY}}">{{name}}</text><rect class="bar-duration" x="28" y="{{y}}" width="{{width}}" height="10"></rect><text x="152" y="{{textY}}">{{value}}</text>{{/bars}}
</svg>{{/durations}}{{^durations}}<span class="muted">no runs</span>{{/durations}}</td>
<td><code>{{file}}</code></td>
</tr>
{{/triggers}}
</tbody>
</table>
{{^triggers}}<p class="empty">No triggers are loaded.</p>{{/triggers}}
{{/body}}{{/layout}}
"""#

    static let health = #"""
{{<layout}}{{$body}}
<h1>Health</h1>
<dl class="facts" id="health">
<dt>Status</dt><dd><span class="state {{status}}">{{status}}</span></dd>
<dt>Backlog</dt><dd>{{backlog}} events not yet dispatched</dd>
<dt>Run pool</dt><dd>{{poolSize}} runs at a time; {{poolWaiting}} waiting for a slot</dd>
<dt>Waiting on disk</dt><dd>{{#waiting}}{{count}} {{kind}} · {{/waiting}}<a href="/ui/events?state=waiting">events waiting</a></dd>
<dt>Audit trail</dt><dd>{{audit}}</dd>
<dt>Store</dt><dd><code>{{store}}</code> (SQLite)</dd>
<dt>Sandbox</dt><dd>{{sandbox}}</dd>
</dl>
{{#refused}}
<section class="panel failure" id="reload-refused">
<h2>Last reload refused ({{at}})</h2>
<p>{{summary}}: the definitions loaded before stay in use.</p>
<ul>{{#errors}}<li><code>{{.}}</code></li>{{/errors}}</ul>
</section>
{{/refused}}
<section class="panel">
<h2>Interpreters</h2>
<table class="grid" id="interpreters">
<thead><tr><th>Script type</th><th>Path</th><th>Chosen by</th></tr></thead>
<tbody>{{#interpreters}}<tr class="{{#missing}}failure{{/missing}}"><td>{{type}}</td><td><code>{{path}}</code></td><td>{{how}}</td></tr>{{/interpreters}}</tbody>
</table>
</section>
<section class="panel">
<h2>Loaded definitions{{#loadedAt}} <span class="muted">({{.}})</span>{{/loadedAt}}</h2>
<table class="grid">
<thead><tr><th>Integration</th><th>Language</th><th>Triggers</th><th>Actions</th><th>File</th></tr></thead>
<tbody>{{#integrations}}<tr><td>{{name}}</td><td>{{language}}</td><td>{{triggers}}</td><td>{{actions}}</td><td><code>{{file}}</code></td></tr>{{/integrations}}</tbody>
</table>
<h3>Warnings</h3>
{{#diagnostics}}<p class="diagnostic {{severity}}"><code>{{text}}</code></p>{{/diagnostics}}
{{^diagnostics}}<p class="muted" id="no-warnings">None.</p>{{/diagnostics}}
</section>
{{/body}}{{/layout}}
"""#

    static let message = #"""
{{<layout}}{{$body}}
<h1>{{heading}}</h1>
<p class="error" role="alert">{{text}}</p>
<p><a href="/ui/events">Back to the events</a></p>
{{/body}}{{/layout}}
"""#
}
