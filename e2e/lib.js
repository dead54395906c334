// Shared by the browser tests: the caretaker under test (started by
// cmd/caretaker/browser_test.go, which passes its address and tokens in
// the environment), headless Chromium, device messages over MQTT and
// screenshots.
import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export const BASE = process.env.CARETAKER_URL;
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
  context.setDefaultTimeout(10000);
  const errors = [];
  context.on("weberror", (e) => errors.push(String(e.error())));
  return { context, errors, close: () => context.close() };
}

// open logs in with the role's token through the URL (#token=) and waits
// for the live connection.
export async function open(context, role, hash = "#/", viewport) {
  const page = await context.newPage();
  if (viewport) await page.setViewportSize(viewport);
  const csp = [];
  page.on("console", (m) => { if (/Content Security Policy|Refused to/.test(m.text())) csp.push(m.text()); });
  page.cspViolations = csp;
  await page.goto(BASE + "/#token=" + encodeURIComponent(TOKENS[role]));
  await page.waitForSelector("#conn[data-state=live]", { timeout: 10000 });
  if (hash !== "#/") {
    await page.evaluate((h) => { location.hash = h; }, hash);
  }
  return page;
}

export async function shot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, name + ".png"), fullPage: true });
}

export async function publish(topic, payload) {
  const resp = await fetch(PUBLISH, { method: "POST", body: JSON.stringify({ topic, payload: typeof payload === "string" ? payload : JSON.stringify(payload) }) });
  if (!resp.ok) throw new Error("publish " + topic + ": " + resp.status + " " + (await resp.text()));
}

export async function api(role, method, p, body) {
  const resp = await fetch(BASE + p, {
    method,
    headers: { Authorization: "Bearer " + TOKENS[role], "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  let data = null;
  try { data = JSON.parse(text); } catch (_) { data = text; }
  return { status: resp.status, data };
}
