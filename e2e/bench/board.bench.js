// The control room's page under load: a benchmark, not a test (run by
// bench/page_test.go, `go test ./bench -run TestBenchTable -args -only page`).
// It opens the board as an operator in headless Chromium, waits for the
// snapshot on screen, prints "READY" (the Go side then publishes its
// events over MQTT), measures the renderer's main thread for
// BENCH_SECONDS and prints one JSON line of figures.
//
// Busy share: Chrome's own "TaskDuration" (CDP Performance.getMetrics),
// the seconds the renderer's main thread spent running tasks (script,
// style, layout, paint, GC), sampled before and after the window:
// busy = ΔTaskDuration / Δwall. It counts every task, short ones too,
// which 'longtask' entries (tasks over 50 ms only) miss; those are
// reported beside it. (No rAF loop of its own: it would keep the page
// drawing frames and cost what it measures.)
import { chromium } from "playwright-core";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import readline from "node:readline";

const BASE = process.env.CARETAKER_URL;
const TOKEN = process.env.BENCH_TOKEN;
const SECONDS = Number(process.env.BENCH_SECONDS || 30);
const WANT_DEVICES = Number(process.env.BENCH_DEVICES || 0);

const dataDir = mkdtempSync(path.join(tmpdir(), "caretaker-bench-"));
const context = await chromium.launchPersistentContext(dataDir, {
  executablePath: process.env.E2E_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1400, height: 900 },
  locale: "en-US",
});
context.setDefaultTimeout(120000);
try {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // Before any script of the page: when the board first shows the
  // snapshot (rows and device chips in the DOM), long tasks, rAF gaps.
  await page.addInitScript(() => {
    window.__bench = { boardAt: 0, long: [] };
    const b = window.__bench;
    try {
      new PerformanceObserver((l) => { for (const e of l.getEntries()) b.long.push([e.startTime, e.duration]); })
        .observe({ type: "longtask", buffered: true });
    } catch (_) { /* no longtask support */ }
    const mo = new MutationObserver(() => {
      const rows = document.querySelector("#live-rows");
      const chips = document.querySelector("#device-list");
      if (rows && rows.children.length && chips && chips.children.length) {
        b.boardAt = performance.now();
        mo.disconnect();
      }
    });
    mo.observe(document, { childList: true, subtree: true });
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send("Performance.enable", { timeDomain: "timeTicks" });

  await page.goto(BASE + "/#token=" + encodeURIComponent(TOKEN));
  await page.waitForSelector("#conn[data-state=live]");
  await page.waitForFunction(() => window.__bench.boardAt > 0);
  if (WANT_DEVICES) {
    await page.waitForFunction((n) => document.querySelectorAll("#device-list [data-device]").length >= Math.min(n, 1), WANT_DEVICES);
  }
  const load = await page.evaluate(() => {
    const fcp = performance.getEntriesByType("paint").find((e) => e.name === "first-contentful-paint");
    return {
      fcp: fcp ? fcp.startTime : -1,
      board: window.__bench.boardAt,
      rows: document.querySelectorAll("#live-rows tr").length + document.querySelectorAll("#manual-rows tr").length,
      chips: document.querySelectorAll("#device-list [data-device]").length,
      nodes: document.getElementsByTagName("*").length,
    };
  });
  // Let the page settle, then go.
  await page.evaluate(() => new Promise((r) => setTimeout(r, 2000)));

  const metric = async () => {
    const { metrics } = await cdp.send("Performance.getMetrics");
    const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
    return { task: m.TaskDuration, script: m.ScriptDuration, layout: m.LayoutDuration, style: m.RecalcStyleDuration, at: m.Timestamp };
  };
  // The anchor, in the same run: the same page with nothing arriving.
  const QUIET = Number(process.env.BENCH_QUIET_SECONDS || 10);
  const q0 = await metric();
  await page.waitForTimeout(QUIET * 1000);
  const q1 = await metric();
  const idle = (q1.task - q0.task) / (q1.at - q0.at);
  process.stdout.write("READY\n");
  // Wait for the Go side to say it is publishing.
  const rl = readline.createInterface({ input: process.stdin });
  await new Promise((r) => rl.once("line", r));
  // BENCH_PROFILE=file.cpuprofile: a JavaScript CPU profile of the window.
  if (process.env.BENCH_PROFILE) { await cdp.send("Profiler.enable"); await cdp.send("Profiler.start"); }
  const m0 = await metric();
  await page.evaluate(() => { window.__bench.t0 = performance.now(); });
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const m1 = await metric();
  if (process.env.BENCH_PROFILE) {
    const { profile } = await cdp.send("Profiler.stop");
    (await import("node:fs")).writeFileSync(process.env.BENCH_PROFILE, JSON.stringify(profile));
  }
  // A page that cannot keep up answers late, once it has drawn the
  // events still queued when the window closed: that wait is a figure too.
  const asked = Date.now();
  const end = await page.evaluate((ms) => {
    const b = window.__bench;
    const long = b.long.filter(([s]) => s >= b.t0 && s < b.t0 + ms);
    return {
      longCount: long.length,
      longMs: long.reduce((s, [, d]) => s + d, 0),
      window: ms,
      maxLong: long.reduce((m, [, d]) => Math.max(m, d), 0),
      rows: document.querySelectorAll("#live-rows tr").length + document.querySelectorAll("#manual-rows tr").length,
      chips: document.querySelectorAll("#device-list [data-device]").length,
      nodes: document.getElementsByTagName("*").length,
    };
  }, SECONDS * 1000);
  const lag = Date.now() - asked;
  const wall = m1.at - m0.at;
  const out = {
    answer_lag_ms: lag,
    fcp_ms: load.fcp, board_ms: load.board, rows_at_load: load.rows, chips_at_load: load.chips, nodes_at_load: load.nodes,
    seconds: wall, idle_busy: idle, busy: (m1.task - m0.task) / wall,
    script: (m1.script - m0.script) / wall, layout: (m1.layout - m0.layout) / wall, style: (m1.style - m0.style) / wall,
    longtasks: end.longCount, longtask_share: end.longMs / end.window, longest_task_ms: end.maxLong,
    rows_at_end: end.rows, chips_at_end: end.chips, nodes_at_end: end.nodes, errors,
  };
  process.stdout.write(JSON.stringify(out) + "\n");
  rl.close();
} finally {
  await context.close();
}
