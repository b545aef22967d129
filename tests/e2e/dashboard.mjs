// The dashboard in a real browser: headless Chromium driven by playwright-core
// against a real `warden up`. Logs in with the one-time link, watches a live
// action arrive, approves an ask (once, and always), looks up the audit entry
// and its proof, runs verify, sees an ungoverned agent raised, and checks
// that a cross-origin POST, a bad Host header and a missing cookie are
// refused. Saves a screenshot of every page.
//
// node dashboard.mjs LOGIN_URL SOCKET SHOTS_DIR
import { chromium } from "playwright-core";
import http from "node:http";
import fs from "node:fs";
import path from "node:path";

const [loginUrl, socket, shots] = process.argv.slice(2);
if (!loginUrl || !socket || !shots) {
  console.error("usage: node dashboard.mjs LOGIN_URL SOCKET SHOTS_DIR");
  process.exit(2);
}
fs.mkdirSync(shots, { recursive: true });
const origin = new URL(loginUrl).origin;
const port = new URL(loginUrl).port;

function request(opts, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(opts, (res) => {
      let data = "";
      res.on("data", (c) => (data += c));
      res.on("end", () => {
        let json;
        try { json = JSON.parse(data); } catch { json = data; }
        resolve({ status: res.statusCode, body: json, headers: res.headers });
      });
    });
    req.on("error", reject);
    if (body) req.write(body);
    req.end();
  });
}

// The daemon's Unix socket, as an interceptor talks to it.
// Waits until the daemon holds an ask for `command`: the asks page lists the
// asks there are when it loads, so it is loaded only after.
async function askPending(command) {
  for (let i = 0; i < 200; i++) {
    const asks = await api("GET", "/v1/asks");
    if (Array.isArray(asks.body) && asks.body.some((a) => JSON.stringify(a.action).includes(command))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function api(method, p, body, headers = {}) {
  return request(
    { socketPath: socket, method, path: p, headers: { host: "warden", "content-type": "application/json", ...headers } },
    body ? JSON.stringify(body) : undefined,
  );
}

function decide(command, secret) {
  return api("POST", "/v1/decide", { cwd: "/tmp", kind: { shell: { command } } }, secret ? { "x-warden-secret": secret } : {});
}

function check(cond, what) {
  if (!cond) throw new Error("FAILED: " + what);
  console.log("ok - " + what);
}

const browser = await chromium.launch({
  executablePath: process.env.WARDEN_E2E_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });

  // Log in with the one-time link: a cookie, then the live feed.
  await page.goto(loginUrl);
  await page.waitForSelector("h1:text('Live')");
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "warden_session");
  check(session && session.httpOnly && session.sameSite === "Strict", "the session cookie is HttpOnly and SameSite=Strict");
  await page.waitForSelector("#feed-state:text('live.')");

  // A live action appears without a reload.
  const reg = await api("POST", "/v1/sessions", { agent: "e2e-agent", autonomy: "executor", workspace: "/tmp" });
  check(reg.status === 201, "an interceptor registers a session");
  const secret = reg.body.secret;
  const d1 = await decide("git status --short", secret);
  check(d1.body.decision === "allow", "git status is allowed");
  await page.waitForSelector("#feed tbody tr.new:has-text('git status --short')", { timeout: 10000 });
  check(true, "the live feed shows the action as it happens");
  await page.screenshot({ path: path.join(shots, "live.png"), fullPage: true });

  // An ask, approved with the dashboard's button.
  const pending = decide("git push origin main", secret);
  await askPending("git push origin main");
  await page.goto(origin + "/asks");
  await page.waitForSelector("article.ask:has-text('git push origin main')", { timeout: 10000 });
  await page.screenshot({ path: path.join(shots, "asks.png"), fullPage: true });
  await page.click("article.ask button.approve:not(.always)");
  await page.waitForSelector("article.ask .result:has-text('Approved by dashboard')");
  const v = (await pending).body;
  check(v.decision === "allow" && v.answered && v.answered.by === "dashboard", "the approved ask is allowed, answered by the dashboard");

  // The audit entry, its proof, and a verify run.
  await page.goto(origin + "/audit");
  await page.waitForSelector(`#entries tr:has-text('git push origin main')`);
  await page.screenshot({ path: path.join(shots, "audit.png"), fullPage: true });
  await page.click(`#entries tr:has-text('git push origin main') a`);
  await page.waitForSelector("#proof");
  const proof = JSON.parse(await page.textContent("#proof"));
  check(proof.seq === v.audit.seq && proof.leaf_hash === v.audit.leaf_hash, "the proof page proves the recorded entry");
  await page.screenshot({ path: path.join(shots, "proof.png"), fullPage: true });
  await page.goto(origin + "/audit");
  await page.click("#verify");
  await page.waitForSelector("#verify-result.good:has-text('INTACT')");
  check(true, "verify from the dashboard says intact");

  // "Always allow exactly this": allowed now, and the same action from then on.
  const release = decide("git push origin release", secret);
  await askPending("git push origin release");
  await page.goto(origin + "/asks");
  await page.waitForSelector("article.ask:has-text('git push origin release')", { timeout: 10000 });
  await page.click("article.ask button.always");
  await page.waitForSelector("article.ask .result:has-text('always allowed from now on')");
  check((await release).body.decision === "allow", "the ask approved always is allowed");
  const again = (await decide("git push origin release", secret)).body;
  check(again.decision === "allow" && !again.answered && again.rules[0].startsWith("approval-"),
        "the same action is then allowed without asking, by its approval");
  await page.goto(origin + "/rules");
  await page.waitForSelector("#approvals tr:has-text('git push origin release')");
  check(true, "the rules page lists the standing approval");
  const reviewer = await page.textContent("#agent-settings tr:has-text('reviewer')");
  check(reviewer.includes("assistant (1)") && reviewer.includes("at most 5 requests per second per session (bursts of 10)")
        && reviewer.includes("request bodies up to 2 MiB"),
        "the rules page shows an agent's autonomy and egress limits: " + reviewer);
  check((await page.textContent("main")).includes("act at autonomy executor (2)"),
        "the rules page names the default autonomy");

  // An agent outside every session, as `warden watch` reports it: this
  // script's own process runs `claude`, then talks to an LLM API host.
  const outside = { pid: process.pid, ppid: process.ppid, uid: process.getuid(), comm: "claude" };
  const seen = await api("POST", "/v1/observe", { observations: [
    { ...outside, action: { cwd: "/tmp", origin: "ebpf", kind: { exec: { argv: ["/usr/local/bin/claude", "-p", "fix the build"] } } } },
    { ...outside, llm_host: "api.anthropic.com",
      action: { cwd: "/tmp", origin: "ebpf", kind: { net: { host: "160.79.104.10", port: 443, scheme: "tcp" } } } },
  ] });
  check(seen.status === 200, "the observer's reports are taken (" + seen.status + ")");
  await page.goto(origin + "/agents");
  const banner = "section.alerts[role=alert]";
  await page.waitForSelector(`${banner} li:has-text('ungoverned agent: process ${process.pid}'):has-text('runs claude outside every warden session')`);
  await page.waitForSelector(`${banner} li:has-text('talks to the LLM API host api.anthropic.com')`);
  check(true, "the dashboard raises both as ungoverned agents");

  for (const p of ["agents", "rules", "insights"]) {
    await page.goto(origin + "/" + p);
    await page.waitForSelector("main h1");
    await page.screenshot({ path: path.join(shots, p + ".png"), fullPage: true });
  }
  check((await page.textContent("main")).includes("Decisions per hour"), "insights draws its charts");
  check(errors.length === 0, "no script errors on any page: " + errors.join("; "));

  // The defences, from outside the page.
  const cookie = `warden_session=${session.value}`;
  const next = decide("git push origin feature", secret);
  let ask;
  for (let i = 0; i < 200 && !ask; i++) {
    const asks = await api("GET", "/v1/asks");
    ask = asks.body[0];
    if (!ask) await new Promise((r) => setTimeout(r, 25));
  }
  const csrf = await request({
    host: "127.0.0.1", port, method: "POST", path: `/v1/asks/${ask.id}/approve`,
    headers: { host: `127.0.0.1:${port}`, cookie, origin: "http://evil.example", "content-type": "application/json" },
  }, "{}");
  check(csrf.status === 403, "a cross-origin POST with the cookie but no CSRF token is refused (" + csrf.status + ")");
  const rebinding = await request({ host: "127.0.0.1", port, method: "GET", path: "/asks", headers: { host: `evil.example:${port}`, cookie } });
  check(rebinding.status === 421, "a bad Host header is refused (" + rebinding.status + ")");
  const noCookie = await request({ host: "127.0.0.1", port, method: "GET", path: "/asks", headers: { host: `127.0.0.1:${port}` } });
  check(noCookie.status === 401, "a page without the cookie is refused (" + noCookie.status + ")");
  const reused = await request({ host: "127.0.0.1", port, method: "GET", path: new URL(loginUrl).pathname + new URL(loginUrl).search, headers: { host: `127.0.0.1:${port}` } });
  check(reused.status === 401, "the login link works once (" + reused.status + ")");
  const headers = (await request({ host: "127.0.0.1", port, method: "GET", path: "/", headers: { host: `127.0.0.1:${port}`, cookie } })).headers;
  check(String(headers["content-security-policy"]).includes("script-src 'self'"), "pages carry a strict CSP");
  // The pending ask still waits: it was not approved by the forged request.
  const still = await api("GET", "/v1/asks");
  check(still.body.some((a) => a.id === ask.id), "the forged approval changed nothing");
  await page.goto(origin + "/asks");
  await page.click(`article.ask[id='${ask.id}'] button.deny`);
  check((await next).body.decision === "deny", "denied from the dashboard");
  console.log("all dashboard checks passed; screenshots in " + shots);
} finally {
  await browser.close();
}
