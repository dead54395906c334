// Shared by the browser tests: the caretaker under test (started by
// cmd/caretaker/browser_test.go, which passes its address and tokens in
// the environment), headless Chromium, device messages over MQTT and
// screenshots.
import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export const BASE = process.env.CARETAKER_URL;
// CLOCKS is a second caretaker whose claim limit is 3 s, with no
// technicians: a missed claim and its escalation happen within a test.
export const CLOCKS = process.env.E2E_CLOCKS_URL;
export const TOKENS = JSON.parse(process.env.E2E_TOKENS || "{}");
const PUBLISH = process.env.E2E_PUBLISH_URL;
const ARTIFACTS = process.env.E2E_ARTIFACTS || path.join(import.meta.dirname || ".", "artifacts");

if (!BASE || !PUBLISH) {
  throw new Error("run these through `go test ./cmd/caretaker -run TestBrowser`: CARETAKER_URL and E2E_PUBLISH_URL are not set");
}

// opts go to the browser context (timezoneId, locale...).
export async function launch(opts = {}) {
  const dataDir = mkdtempSync(path.join(tmpdir(), "caretaker-e2e-"));
  // A persistent context gives each run a fresh user-data-dir of its own.
  const context = await chromium.launchPersistentContext(dataDir, {
    executablePath: process.env.E2E_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--autoplay-policy=no-user-gesture-required"],
    viewport: { width: 1400, height: 900 },
    locale: "en-US",
    ...opts,
  });
  // Waits are on state and end as soon as it holds: the bound is for a
  // loaded machine running the whole suite under -race, not a speed check.
  context.setDefaultTimeout(30000);
  const errors = [];
  context.on("weberror", (e) => errors.push(String(e.error())));
  return { context, errors, close: () => context.close() };
}

// open logs in with the role's token through the URL (#token=) and waits
// for the live connection.
export async function open(context, role, hash = "#/", viewport, base = BASE) {
  const page = await context.newPage();
  if (viewport) await page.setViewportSize(viewport);
  const csp = [];
  page.on("console", (m) => { if (/Content Security Policy|Refused to/.test(m.text())) csp.push(m.text()); });
  page.cspViolations = csp;
  track(page);
  await page.goto(base + "/#token=" + encodeURIComponent(TOKENS[role]));
  await waitLive(page);
  if (hash !== "#/") {
    await page.evaluate((h) => { location.hash = h; }, hash);
  }
  return page;
}

// track keeps the last things a page's requests, WebSockets and console
// said, so that a wait that fails can say why (a wait on the live
// connection once failed in CI with nothing else to go by).
export function track(page) {
  const seen = [];
  const hide = (u) => u.replace(/token=[^&#]*/g, "token=…");
  const note = (line) => { seen.push(new Date().toISOString().slice(11, 23) + " " + line); if (seen.length > 40) seen.shift(); };
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") note("console " + m.type() + ": " + m.text()); });
  page.on("requestfailed", (r) => note("request failed: " + r.method() + " " + hide(r.url()) + " " + ((r.failure() && r.failure().errorText) || "")));
  page.on("response", (r) => { if (r.status() >= 400) note("HTTP " + r.status() + " " + r.request().method() + " " + hide(r.url())); });
  page.on("websocket", (ws) => {
    note("websocket opening " + hide(ws.url()));
    ws.on("socketerror", (e) => note("websocket error: " + e));
    ws.on("close", () => note("websocket closed"));
  });
  page.seen = seen;
  return page;
}

// waitLive waits for the page's live connection; when it does not come,
// the error says what the page showed and what its requests met.
export async function waitLive(page, timeout = 30000) {
  try {
    await page.waitForSelector("#conn[data-state=live]", { timeout });
  } catch (e) {
    const state = await page.evaluate(() => {
      const el = (id) => document.getElementById(id);
      return {
        conn: el("conn") && el("conn").dataset.state, connShown: !!(el("conn") && el("conn").checkVisibility()),
        loginShown: !!(el("login-view") && !el("login-view").hidden), loginError: el("login-error") && el("login-error").textContent,
        hash: location.hash.replace(/token=[^&]*/, "token=…"),
      };
    }).catch((err) => ({ unreadable: String(err) }));
    await shot(page, "not-live-" + Date.now()).catch(() => {});
    throw new Error(e.message + "\npage: " + JSON.stringify(state) + "\nlast seen:\n" + (page.seen || []).join("\n"));
  }
}

export async function shot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, name + ".png"), fullPage: true });
}

export async function publish(topic, payload) {
  const resp = await fetch(PUBLISH, { method: "POST", body: JSON.stringify({ topic, payload: typeof payload === "string" ? payload : JSON.stringify(payload) }) });
  if (!resp.ok) throw new Error("publish " + topic + ": " + resp.status + " " + (await resp.text()));
}

export async function api(role, method, p, body, base = BASE) {
  const resp = await fetch(base + p, {
    method,
    headers: { Authorization: "Bearer " + TOKENS[role], "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  let data = null;
  try { data = JSON.parse(text); } catch (_) { data = text; }
  return { status: resp.status, data };
}

// until polls fn until it returns something truthy, for up to ms: for
// state that only the server shows (an alarm cleared, a clock missed).
export async function until(what, fn, ms = 30000) {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    const v = await fn();
    if (v) return v;
  }
  throw new Error("timed out waiting for " + what);
}

// gas publishes one gas reading of device.
export async function gas(device, lel) {
  await publish("sites/s1/devices/" + device + "/telemetry", { ts: Date.now(), metrics: { lel_pct: lel, co_ppm: 2, fault: false } });
}

// hideBanner hides every L1 item of the banner on this screen ("Hide for
// now": not an acknowledgement), as a technician or a patrol does on a
// phone before using the form under it.
export async function hideBanner(page) {
  for (let i = 0; i < 50; i++) {
    const b = page.locator("#banner button.banner-hide").first();
    if (!(await b.count())) return;
    await b.click();
  }
}

// drawn waits until the page has drawn what it has taken in so far: the
// pages draw events once a frame (dom.js perFrame), so a check that
// something is NOT shown waits for that frame first.
export async function drawn(page) {
  await page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => setTimeout(ok, 0))));
}
