#!/usr/bin/env python3
"""Writes Samples/session.jsonl: a recorded SOC shift of HookBus events, consistent with each
other (the same incidents and tasks move through their states), across most hooks."""
import json, datetime

start = datetime.datetime(2026, 11, 20, 8, 0, 0, tzinfo=datetime.timezone.utc)
events = []

def add(hook, params, trigger=None, source=None, minute=None):
    n = len(events) + 1
    at = start + datetime.timedelta(minutes=minute if minute is not None else n * 7)
    record = {"id": "evt_sample_%03d" % n, "hook": hook, "params": params, "trigger": trigger,
              "receivedAt": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "source": source or {"kind": "hook"}}
    events.append(record)

def incident(i, status, **extra):
    base = {"id": i, "status": status, "investigation_number": "INV-2026-%04d" % i, "starttime": "2026-11-20T07:55:00Z",
            "type": ["Phishing"] if i % 2 else ["Malware"], "incident_kind": "security", "incident_category": ["Intrusion"],
            "additional_info": "Opened from SIEM alert", "severity": "medium", "assigned_to": "", "owner": None}
    base.update(extra)
    return base

def task(t, incident_id, status, assigned_to, **extra):
    base = {"id": t, "incident_id": incident_id, "title": "Contain host for incident %d" % incident_id, "status": status,
            "assigned_to": assigned_to, "priority": "high", "hours": 0}
    base.update(extra)
    return base

previous = {}
def update(hook, i, status, **extra):
    before = previous.get(i, incident(i, "open"))
    after = dict(before); after["status"] = status; after.update(extra)
    previous[i] = after
    add(hook, {"incidentsBeforeUpdate": before, "incidentsAfterUpdate": after})

for i in (1001, 1002, 1003, 1004):
    previous[i] = incident(i, "open")
    add("newIncident", {"incidentsDetail": previous[i]})

# Triage of raw events before and after the incidents open.
for e, hook, operator in ((501, "grabEvent", "ann"), (502, "grabEvent", "bob"), (503, "discardEvent", "ann"),
                          (504, "reassignEvent", "carol"), (505, "discardEvent", "bob")):
    add(hook, {"triage_eventsDetail": {"id": e, "status": "new" if hook == "grabEvent" else "closed", "operator": operator,
                                       "username": operator, "type": "SIEM", "opt_1": "firewall"}})

update("updateIncident", 1001, "open", assigned_to="ann", owner="ann")
update("updateIncident", 1001, "investigating", severity="high")
update("updateIncident", 1002, "open", assigned_to="bob", owner="bob")
update("updateIncident", 1003, "investigating", assigned_to="carol")
update("updateIncident", 1004, "open", assigned_to="ann", owner="ann")

# Observables extracted from the incidents.
for i, hook, detail in ((1001, "addObservableIp", {"id": 9001, "type": "ipaddress", "value": "203.0.113.77"}),
                        (1001, "addObservableIp", {"id": 9002, "type": "ipaddress", "value": "192.0.2.10"}),
                        (1002, "addObservableDomain", {"id": 9003, "type": "domain", "value": "login-example.test"}),
                        (1002, "addObservableUrl", {"id": 9004, "type": "url", "value": "https://login-example.test/verify"}),
                        (1002, "addObservableMail", {"id": 9005, "type": "email", "value": "billing@login-example.test"}),
                        (1003, "addObservableIp", {"id": 9006, "type": "ipaddress", "value": "198.51.100.23"}),
                        (1003, "addObservableArtifact", {"id": 9007, "type": "sha256", "value": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}),
                        (1004, "addObservableUserDetail", {"id": 9008, "type": "userdetail", "value": "j.doe"}),
                        (1004, "addObservableIp", {"id": 9009, "type": "ipaddress", "value": "203.0.113.5"})):
    add(hook, {"observablesDetail": detail, "incidentsDetail": previous[i]})

# Tasks for each incident.
tasks = {}
for t, i, who in ((7001, 1001, "ann"), (7002, 1001, "dave"), (7003, 1002, "bob"), (7004, 1003, "carol"), (7005, 1004, "ann")):
    tasks[t] = task(t, i, "open", who)
    add("createTask", {"tasksDetail": tasks[t]})
def task_update(t, **changes):
    before = dict(tasks[t]); after = dict(before); after.update(changes); tasks[t] = after
    add("updateTask", {"tasksBeforeUpdate": before, "tasksAfterUpdate": after})
task_update(7001, status="in progress", hours=1)
task_update(7003, status="in progress")
tasks[7002]["assigned_to"] = "erin"; add("reassignTask", {"tasksDetail": tasks[7002]})
tasks[7004]["status"] = "approved"; add("approveTask", {"tasksDetail": tasks[7004]})
add("taskCustomAction", {"tasksDetail": tasks[7001], "text": "EDR isolation requested"}, trigger="Post task and triage changes")
tasks[7001]["status"] = "closed"; add("closeTask", {"tasksDetail": tasks[7001]})
tasks[7003]["status"] = "closed"; add("closeTask", {"tasksDetail": tasks[7003]})

# Custom-action buttons (shown only on incidents with an owner).
add("incidentCustomAction", {"incidentsDetail": previous[1001], "text": "Host isolated by EDR at 09:40"}, trigger="Add analyst note")
add("incidentCustomAction", {"incidentsDetail": previous[1004], "text": "User confirmed the login was theirs"}, trigger="Add analyst note")

# Webhooks: a GitHub-like secret-scanning alert and PagerDuty-like incident events.
add("webhook", {"payload": {"action": "created", "alert": {"number": 12, "rule": {"description": "AWS access key exposed", "severity": "high"},
                            "html_url": "https://git.example.com/acme/app/security/secret-scanning/12"},
                            "repository": {"full_name": "acme/app"}}}, source={"kind": "webhook", "name": "github"})
add("webhook", {"payload": {"event": {"id": "01PD1", "event_type": "incident.triggered", "occurred_at": "2026-11-20T10:02:11Z",
                            "data": {"id": "PX1", "title": "Database primary unreachable", "urgency": "high", "status": "triggered"}}}},
    source={"kind": "webhook", "name": "pagerduty"})
add("webhook", {"payload": {"event": {"id": "01PD2", "event_type": "incident.acknowledged", "occurred_at": "2026-11-20T10:05:40Z",
                            "data": {"id": "PX1", "title": "Database primary unreachable", "urgency": "high", "status": "acknowledged"}}}},
    source={"kind": "webhook", "name": "pagerduty"})
add("webhook", {"payload": {"action": "resolved", "alert": {"number": 12, "rule": {"description": "AWS access key exposed", "severity": "high"}},
                            "repository": {"full_name": "acme/app"}}}, source={"kind": "webhook", "name": "github"})
add("webhook", {"payload": {"event": {"id": "01PD3", "event_type": "incident.resolved", "occurred_at": "2026-11-20T10:41:02Z",
                            "data": {"id": "PX1", "title": "Database primary unreachable", "urgency": "high", "status": "resolved"}}}},
    source={"kind": "webhook", "name": "pagerduty"})

update("updateIncident", 1002, "investigating", severity="high")
update("updateIncident", 1003, "contained")
update("closeIncident", 1001, "closed", additional_info="Opened from SIEM alert<br>Host isolated; credentials rotated")
update("closeIncident", 1003, "closed")
tasks[7005]["assigned_to"] = "bob"; add("reassignTask", {"tasksDetail": tasks[7005]})
update("updateIncident", 1004, "investigating", assigned_to="bob", owner="bob")
tasks[7005]["status"] = "closed"; add("closeTask", {"tasksDetail": tasks[7005]})
update("closeIncident", 1004, "closed")
add("grabEvent", {"triage_eventsDetail": {"id": 506, "status": "new", "operator": "dave", "username": "dave", "type": "EDR", "opt_1": "laptop-17"}})
update("closeIncident", 1002, "closed")

with open("Samples/session.jsonl", "w") as f:
    for record in events:
        f.write(json.dumps(record, separators=(",", ":")) + "\n")
print(len(events), "events written to Samples/session.jsonl")
