// warden dashboard: live feed, filters, and the buttons. No framework; every
// change is a fetch with the page's CSRF token, answered by the local API.
"use strict";

const csrf = document.querySelector('meta[name="csrf"]').content;
const page = document.body.dataset.page;

function post(url, body) {
  return fetch(url, {
    method: "POST",
    headers: { "x-csrf-token": csrf, "content-type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify(body || {}),
  }).then(async (r) => {
    const text = await r.text();
    let body;
    try { body = JSON.parse(text); } catch { body = { error: text }; }
    if (!r.ok) throw new Error(body.error || r.status);
    return body;
  });
}

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (cls) el.className = cls;
  return el;
}

function summary(kind) {
  const [name, v] = Object.entries(kind)[0];
  switch (name) {
    case "shell": return "run " + v.command;
    case "exec": return "exec " + v.argv.join(" ");
    case "file_read": return "read " + v.path;
    case "file_write": return "write " + v.path;
    case "file_delete": return "delete " + v.path;
    case "net": return v.url ? (v.method || "GET") + " " + v.url : "connect " + v.host + ":" + v.port;
    case "tool_call": return "MCP tool " + v.server + "/" + v.tool;
    case "llm_request": return "LLM request " + v.provider + "/" + v.model;
    case "notice": return "warden " + v.event + ": " + v.message;
    default: return name;
  }
}

function applyFilters() {
  const q = (document.getElementById("filter") || {}).value || "";
  const d = (document.getElementById("decision-filter") || {}).value || "";
  document.querySelectorAll("#feed tbody tr").forEach((tr) => {
    const okText = !q || tr.textContent.toLowerCase().includes(q.toLowerCase());
    const okDecision = !d || tr.dataset.decision === d;
    tr.hidden = !(okText && okDecision);
  });
}

function decisionRow(ev) {
  const v = ev.verdict;
  const decision = v.answered ? v.answered.decision : v.decision;
  const tr = document.createElement("tr");
  tr.dataset.decision = decision;
  tr.className = "new";
  const seq = v.audit ? v.audit.seq : "";
  const link = document.createElement("a");
  link.href = "/audit/proof/" + seq;
  link.textContent = "#" + seq;
  const c0 = document.createElement("td");
  c0.append(link);
  const badge = text("span", decision, "badge " + decision);
  const c3 = document.createElement("td");
  c3.append(badge);
  tr.append(
    c0,
    text("td", ev.action.time || ""),
    text("td", ev.action.agent.name || "unregistered"),
    c3,
    text("td", summary(ev.action.kind), "what"),
    text("td", v.reason),
    text("td", (v.rules || []).join(", "), "rules"),
  );
  return tr;
}

function liveFeed() {
  const state = document.getElementById("feed-state");
  const src = new EventSource("/v1/events");
  src.onopen = () => { if (state) state.textContent = "live."; };
  src.onerror = () => { if (state) state.textContent = "reconnecting…"; };
  src.addEventListener("decision", (m) => {
    const tbody = document.querySelector("#feed tbody");
    if (!tbody) return;
    tbody.prepend(decisionRow(JSON.parse(m.data)));
    applyFilters();
  });
  src.addEventListener("ask", () => { if (page === "asks") location.reload(); });
  src.addEventListener("answered", (m) => {
    const ev = JSON.parse(m.data);
    const card = document.getElementById(ev.id);
    if (card) card.classList.add("answered");
  });
}

document.addEventListener("DOMContentLoaded", () => {
  liveFeed();
  for (const id of ["filter", "decision-filter"]) {
    const el = document.getElementById(id);
    if (el) el.addEventListener("input", applyFilters);
  }
  document.querySelectorAll("button[data-ask]").forEach((b) => {
    b.addEventListener("click", () => {
      const card = document.getElementById(b.dataset.ask);
      const result = card.querySelector(".result");
      const body = b.dataset.always ? { always: true } : {};
      post("/v1/asks/" + encodeURIComponent(b.dataset.ask) + "/" + b.dataset.answer, body)
        .then((r) => {
          result.textContent = (r.decision === "allow" ? "Approved" : "Denied") + " by " + r.by
            + (r.always ? "; always allowed from now on (" + r.always.approval + ")" : "");
          card.classList.add("answered");
        })
        .catch((e) => { result.textContent = "Refused: " + e.message; });
    });
  });
  document.querySelectorAll("button[data-session]").forEach((b) => {
    b.addEventListener("click", () => {
      post("/v1/sessions/" + encodeURIComponent(b.dataset.session) + "/" + b.dataset.op)
        .then(() => location.reload())
        .catch((e) => alert("Refused: " + e.message));
    });
  });
  const verify = document.getElementById("verify");
  if (verify) {
    verify.addEventListener("click", () => {
      const out = document.getElementById("verify-result");
      out.textContent = "verifying…";
      post("/v1/audit/verify")
        .then((r) => {
          out.textContent = r.problems.length === 0
            ? "INTACT: " + r.entries + " entries, " + r.checkpoints_checked + " checkpoints verified"
            : "NOT INTACT: " + JSON.stringify(r.problems[0]);
          out.className = r.problems.length === 0 ? "good" : "bad";
        })
        .catch((e) => { out.textContent = "Refused: " + e.message; });
    });
  }
});
