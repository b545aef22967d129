//! `POST /v1/observe`, the daemon's side of `warden watch`, as the observer
//! speaks it (no BPF needed: the observations are posted by hand): batches
//! are recorded whole or refused whole with the offending entry named, and a
//! user's processes outside every session talking to an LLM API host are
//! one "ungoverned agent" alert per host, however often they connect; a process whose
//! parent is gone too is placed by the session cgroup the observer names.

use crate::daemon::{python_api, up};
use crate::support::Env;

#[test]
fn a_batch_of_observations_is_recorded_and_a_bad_one_is_refused_by_index() {
    let env = Env::new();
    let _d = up(&env, &[]);
    let (out, err) = python_api(
        &env,
        r#"
def exec_of(word, pid):
    return {"pid": pid, "uid": os.getuid(), "comm": "echo",
            "action": {"cwd": "/", "kind": {"exec": {"argv": ["/bin/echo", word]}}}}
batch = [exec_of("batched-%d" % i, 4000000 + i) for i in range(50)]
status, body = req("POST", "/v1/observe", {"observations": batch})
# Recorded in the batch's order.
print("batch", status, len(body["observations"]), [o["audit"]["seq"] for o in body["observations"]] == list(range(50)))
bad = batch[:2] + [{"pid": 1, "action": {}}]
status, body = req("POST", "/v1/observe", {"observations": bad})
print("bad", status, body["error"])
status, body = req("POST", "/v1/observe", {"observations": [exec_of("x", 1)] * 1025})
print("big", status, body["error"])
status, body = req("POST", "/v1/observe", exec_of("single", 4100000))
print("single", status, body["audit"]["seq"], "end")
"#,
    );
    assert!(out.contains("batch 200 50 True"), "{out}{err}");
    assert!(out.contains("bad 400 observation 2:"), "{out}{err}");
    assert!(
        out.contains("big 400 1025 observations in one request; at most 1024"),
        "{out}{err}"
    );
    // The refused batches left nothing behind: the single one is the 51st.
    assert!(out.contains("single 200 50 end"), "{out}{err}");
    let found = env
        .run(&["audit", "search", "batched-49"])
        .code(0)
        .stdout
        .clone();
    assert!(found.contains("exec /bin/echo batched-49"), "{found}");
}

#[test]
fn a_process_talking_to_an_llm_host_outside_every_session_is_one_alert() {
    let env = Env::new();
    let _d = up(&env, &[]);
    let (out, err) = python_api(
        &env,
        r#"
def connect(pid, host):
    return {"pid": pid, "uid": os.getuid(), "comm": "node", "llm_host": host,
            "action": {"cwd": "/", "kind": {"net": {"host": "160.79.104.10", "port": 443, "scheme": "tcp"}}}}
for pid in [4200000, 4200000, 4200002]:
    print(req("POST", "/v1/observe", {"observations": [connect(pid, "api.anthropic.com")]})[0])
# Another host is an alert of its own.
print(req("POST", "/v1/observe", connect(4200003, "api.openai.com"))[0])
# A process of a session is governed: its connects are no alert.
import subprocess
agent = subprocess.Popen(["sleep", "60"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
status, s = req("POST", "/v1/sessions", {"agent": "codex", "pid": agent.pid})
print("session", status)
print(req("POST", "/v1/observe", connect(agent.pid, "api.openai.com"))[0])
agent.kill()
"#,
    );
    assert!(out.contains("session 201"), "{out}{err}");
    assert_eq!(out.matches("200").count(), 5, "{out}{err}");
    let status = env.run(&["status"]).code(0).stdout.clone();
    let alerts: Vec<&str> = status
        .lines()
        .filter(|l| l.contains("ungoverned agent"))
        .collect();
    // Once per user and host: the same user's other process reaching the
    // same host is not another alert; another host is.
    assert_eq!(alerts.len(), 2, "{status}");
    assert!(
        alerts.iter().any(|a| a.contains("process 4200000 (node")
            && a.contains("LLM API host api.anthropic.com (connect 160.79.104.10:443)")),
        "{status}"
    );
    assert!(
        alerts
            .iter()
            .any(|a| a.contains("process 4200003 (node")
                && a.contains("LLM API host api.openai.com")),
        "{status}"
    );
}

#[test]
fn an_observation_whose_process_and_parent_are_gone_is_placed_by_its_session_cgroup() {
    let env = Env::new();
    let _d = up(&env, &[]);
    let (out, err) = python_api(
        &env,
        r#"
import subprocess
agent = subprocess.Popen(["sleep", "60"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
status, s = req("POST", "/v1/sessions", {"agent": "codex", "pid": agent.pid})
s["id"] = s["session"]
gone = {"pid": 4300000, "ppid": 4300001, "uid": os.getuid(),
        "action": {"cwd": "/", "kind": {"exec": {"argv": ["/bin/echo", "orphan"]}}}}
print("placed", req("POST", "/v1/observe", dict(gone, session_cgroup=s["id"]))[1]["session"] == s["id"])
print("unplaced", req("POST", "/v1/observe", dict(gone, session_cgroup="sess-nosuchsession"))[1]["session"])
req("POST", "/v1/sessions/%s/stop" % s["id"])
print("stopped", req("POST", "/v1/observe", dict(gone, session_cgroup=s["id"]))[1]["session"])
agent.kill()
"#,
    );
    assert!(out.contains("placed True"), "{out}{err}");
    assert!(out.contains("unplaced None"), "{out}{err}");
    assert!(out.contains("stopped None"), "{out}{err}");
}

#[test]
fn the_ports_a_policy_denies_every_host_are_listed_per_live_session() {
    let env = Env::new();
    crate::support::write(
        &env.user_policy(),
        r#"version = 1
[[rule]]
id = "no-ssh"
deny = ["Net(*:22)", "Net(*:2222)"]
[[rule]]
id = "one-host"
deny = ["Net(db.internal:5432)"]
[[rule]]
id = "smtp-for-codex"
deny = ["Net(*:25)"]
agents = ["codex"]
"#,
    );
    let _d = up(&env, &[]);
    let (out, err) = python_api(
        &env,
        r#"
import subprocess
agents = {}
for name in ["codex", "claude-code"]:
    p = subprocess.Popen(["sleep", "60"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    agents[name] = (p, req("POST", "/v1/sessions", {"agent": name, "pid": p.pid})[1]["session"])
status, body = req("GET", "/v1/denied-ports")
ports = {e["session"]: e["ports"] for e in body}
print("codex", ports[agents["codex"][1]], "claude", ports[agents["claude-code"][1]])
req("POST", "/v1/sessions/%s/stop" % agents["codex"][1])
print("after stop", agents["codex"][1] in {e["session"] for e in req("GET", "/v1/denied-ports")[1]})
for p, _ in agents.values():
    p.kill()
"#,
    );
    assert!(
        out.contains("codex [22, 25, 2222] claude [22, 2222]"),
        "{out}{err}"
    );
    assert!(out.contains("after stop False"), "{out}{err}");
}
