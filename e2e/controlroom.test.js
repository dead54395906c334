// The control room, as a timeline: a gas alarm published over MQTT shows
// within seconds without a reload, with a banner; a patrol report filed on
// the phone page appears beside it; a description holding <script> stays
// text; acknowledging works; the detail shows the history and a chart.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, open, shot, publish, api, until, waitLive } from "./lib.js";

let br, ops;

before(async () => {
  br = await launch();
  // Keep a handle on the page's WebSockets, so a test can cut them as a
  // network failure would (offline emulation leaves open sockets alone).
  await br.context.addInitScript(() => {
    const Native = window.WebSocket;
    window.__sockets = [];
    window.WebSocket = class extends Native {
      constructor(...args) { super(...args); window.__sockets.push(this); }
    };
    // Count the tones the page plays.
    window.__tones = 0;
    const osc = AudioContext.prototype.createOscillator;
    AudioContext.prototype.createOscillator = function () { window.__tones++; return osc.call(this); };
  });
  ops = await open(br.context, "operator");
});
after(async () => {
  assert.deepEqual(ops.cspViolations, [], "no CSP violations");
  assert.deepEqual(br.errors, [], "no uncaught page errors");
  await br.close();
});

test("the control room starts empty and live", async () => {
  await ops.waitForSelector("#live-empty:not([hidden])");
  await ops.evaluate(() => { window.__sameDocument = true; });
  await ops.click("h1"); // an operator has touched the screen once: sound may play
  await shot(ops, "01-control-room-empty");
});

test("a gas alarm over MQTT appears within seconds, without a reload, with an L1 banner", async () => {
  const t0 = Date.now();
  await publish("sites/s1/devices/gas-b2-07/telemetry", { ts: t0 - 60000, metrics: { lel_pct: 4.1, co_ppm: 2, fault: false } });
  await publish("sites/s1/devices/gas-b2-07/telemetry", { ts: t0, metrics: { lel_pct: 35.5, co_ppm: 3, fault: false } });
  // The L1 row: the pre-alarm (L2) of the same reading may be drawn a frame before it.
  const row = ops.locator("#live-rows tr.level-1", { hasText: "gas-b2-07" }).filter({ hasText: "Gas concentration" });
  await row.first().waitFor();
  const took = Date.now() - t0;
  assert.ok(await ops.evaluate(() => window.__sameDocument === true), "page was not reloaded");
  assert.match(await row.first().getAttribute("class"), /level-1/);
  assert.match(await row.first().textContent(), /B2 boiler room/);
  assert.match(await row.first().locator(".sla").textContent(), /claim\/accept|dispatch|arrive/);
  const banner = ops.locator("#banner");
  await banner.waitFor({ state: "visible" });
  assert.match(await banner.textContent(), /L1 EMERGENCY.*B2 boiler room/s);
  assert.ok(await ops.evaluate(() => window.__tones) > 0, "the alarm tone played");
  // L1 on top: the first live row is the L1 alarm.
  assert.match(await ops.locator("#live-rows tr").first().getAttribute("class"), /level-1/);
  console.log(`gas alarm on screen ${took} ms after publishing`);
  await shot(ops, "02-control-room-gas-alarm");
});

test("a report filed on the phone page appears beside it, and <script> stays text", async () => {
  const phone = await open(br.context, "patrol", "#/report", { width: 390, height: 844 });
  await phone.waitForSelector("#report-form");
  await phone.selectOption("#report-category", "civil");
  await phone.fill("#report-site", "s1");
  await phone.fill("#report-building", "B3");
  await phone.fill("#report-location", "B3 stairwell 2F");
  await phone.fill("#report-description", "<script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\"> cracked step");
  // A photo from the camera (a 1x1 PNG).
  const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");
  await phone.setInputFiles("#report-photos", { name: "step.png", mimeType: "image/png", buffer: png });
  await shot(phone, "03-phone-report-form");
  await phone.click("#report-form button[type=submit]");
  const number = phone.locator("#report-number");
  await number.waitFor();
  const text = await number.textContent();
  const m = /Ticket (\S+) created/.exec(text);
  assert.ok(m, "confirmation names the ticket: " + text);
  await phone.locator("#report-result", { hasText: "1 photo(s) attached." }).waitFor();
  await shot(phone, "04-phone-report-confirmed");
  await phone.close();

  const row = ops.locator("#manual-rows tr", { hasText: m[1] });
  await row.waitFor();
  assert.match(await row.textContent(), /<script>window.__xss=1<\/script><img src=x/);
  assert.equal(await ops.locator("#manual-rows script, #manual-rows img").count(), 0, "no element made from user text");
  assert.equal(await ops.evaluate(() => window.__xss), undefined, "user text did not run");
  assert.equal(await ops.locator("#live-rows tr", { hasText: "gas-b2-07" }).count() > 0, true, "the alarm is still beside it");
  await shot(ops, "05-control-room-alarm-and-report");
});

test("acknowledging the alarm marks it and clears the banner", async () => {
  const row = ops.locator("#live-rows tr", { hasText: "Gas concentration" }).first();
  await row.locator("button.ack").click();
  await row.locator(".acked").waitFor();
  await ops.waitForFunction(() => !document.querySelector("#banner .banner-row[data-key*='gas-lel-critical']"));
  const { data } = await api("operator", "GET", "/api/alarms?state=active");
  const alarm = data.alarms.find((a) => a.rule_id === "gas-lel-critical");
  assert.equal(alarm.acked, true);
  assert.equal(alarm.acked_by, "ops1");
});

test("the ticket detail shows the history and a chart of the readings", async () => {
  const row = ops.locator("#live-rows tr", { hasText: "Gas concentration" }).first();
  await row.locator("a.button").click();
  await ops.waitForSelector("#ticket-history li");
  await ops.waitForSelector("#readings-chart svg path.line");
  assert.ok(await ops.locator("#ticket-history li").count() >= 1);
  // Who was paged: the technician on duty and the control room, through
  // the log channel, delivered.
  await ops.locator("#ticket-pages tr.page-sent", { hasText: "tech1" }).filter({ hasText: "screen" }).waitFor();
  await ops.locator("#ticket-pages tr.page-sent", { hasText: "desk" }).filter({ hasText: "screen" }).filter({ hasText: "delivered" }).waitFor();
  await shot(ops, "06-ticket-detail");

  await ops.waitForSelector("#dispatch-form select[name=technician] option[value=tech1]", { state: "attached" });
  await ops.selectOption("#dispatch-form select[name=technician]", "tech1");
  await ops.click("#dispatch-form button[type=submit]");
  // Dispatched, the detail redrawn with it, and the answer still shown.
  await ops.locator("#ticket-history li", { hasText: "tech1" }).filter({ hasText: "ops1" }).waitFor();
  assert.equal(await ops.locator("#ticket-result").textContent(), "Done.");
  await shot(ops, "07-ticket-dispatched");
});

test("an operator escalates a manual report, and its photo shows in the detail", async () => {
  await ops.evaluate(() => { location.hash = "#/"; });
  const row = ops.locator("#manual-rows tr", { hasText: "cracked step" });
  await row.locator("a.button").click();
  await ops.waitForSelector("#ticket-photos img");
  await ops.selectOption("#escalate-form select[name=level]", "1");
  await ops.click("#escalate-form button[type=submit]");
  await ops.locator("#escalate-form .field-error", { hasText: "Required." }).waitFor();
  await ops.fill("#escalate-form input[name=reason]", "step is loose, someone may fall");
  await ops.click("#escalate-form button[type=submit]");
  await ops.locator("#ticket-history li", { hasText: "L2 → L1" }).waitFor();
  await ops.locator("#ticket-detail h2 .badge.l1").waitFor();
  assert.equal(await ops.locator("#ticket-result").textContent(), "Done.");
  await shot(ops, "07b-ticket-escalated");
});

test("an acknowledged alarm that comes back shows on its ticket as a recurrence, in English and Chinese", async () => {
  const poll = async (what, fn) => {
    for (const deadline = Date.now() + 30000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
      const v = await fn();
      if (v) return v;
    }
    assert.fail("timed out waiting for " + what);
  };
  const { data } = await api("operator", "GET", "/api/alarms?state=active");
  const first = data.alarms.find((a) => a.rule_id === "gas-lel-critical");
  assert.ok(first && first.acked && first.ticket_id, "the gas alarm is acknowledged and has its ticket");
  // The gas goes away: the clear condition holds for its clear_for, by time alone.
  await publish("sites/s1/devices/gas-b2-07/telemetry", { ts: Date.now(), metrics: { lel_pct: 3, co_ppm: 2, fault: false } });
  const cleared = await poll("the alarm to clear", async () =>
    (await api("operator", "GET", "/api/alarms?state=cleared")).data.alarms.find((a) => a.id === first.id));
  assert.equal(cleared.clear_reason, "value");
  assert.equal(cleared.cleared_by, "value 3");
  // And comes back while the ticket is open.
  await publish("sites/s1/devices/gas-b2-07/telemetry", { ts: Date.now(), metrics: { lel_pct: 38, co_ppm: 2, fault: false } });
  const tk = await poll("the recurrence on the ticket", async () => {
    const { data } = await api("operator", "GET", "/api/tickets/" + first.ticket_id);
    return data.recurrence && data.recurrence.count === 1 ? data : null;
  });
  assert.equal(tk.recurrence.peak, 38);
  await ops.evaluate((id) => { location.hash = "#/ticket/" + id; }, first.ticket_id);
  await ops.locator("#ticket-recurrence", { hasText: "The alarm came back 1 time(s) while this ticket was open" }).waitFor();
  assert.match(await ops.locator("#ticket-recurrence").textContent(), /peak 38/);
  await ops.locator("#ticket-history li", { hasText: "alarm came back" }).waitFor();
  await shot(ops, "07c-ticket-recurrence");
  await ops.click("#lang");
  await ops.locator("#ticket-recurrence", { hasText: "工单处理期间告警复发 1 次" }).waitFor();
  await ops.locator("#ticket-notifications h3", { hasText: "通知记录" }).waitFor();
  await ops.locator("#ticket-pages tr.page-sent", { hasText: "tech1" }).filter({ hasText: "screen" }).filter({ hasText: "已送达" }).waitFor();
  await shot(ops, "07d-ticket-recurrence-zh-CN");
  await ops.click("#lang");
});

test("the page speaks Chinese when asked", async () => {
  await ops.evaluate(() => { location.hash = "#/"; });
  await ops.click("#lang");
  await ops.waitForSelector("text=实时故障");
  assert.equal(await ops.evaluate(() => document.documentElement.lang), "zh-CN");
  await shot(ops, "08-control-room-zh-CN");
  await ops.click("#lang");
});

test("the control room is usable from the keyboard", async () => {
  await ops.focus("#filter-level");
  await ops.keyboard.press("Tab");
  const focused = await ops.evaluate(() => document.activeElement && document.activeElement.id);
  assert.equal(focused, "filter-source");
  await ops.selectOption("#filter-level", "1");
  // The board draws the filter at its next frame: wait for it.
  const rows = ops.locator("#live-rows tr, #manual-rows tr");
  await until("only L1 rows left", async () => {
    const classes = await rows.evaluateAll((els) => els.map((r) => r.className));
    return classes.length > 0 && classes.every((c) => /level-1/.test(c));
  });
  await ops.selectOption("#filter-level", "");
});

test("the page says when it is offline and reconnects by itself, missing nothing", async () => {
  await ops.context().setOffline(true);
  await ops.evaluate(() => window.__sockets.forEach((s) => s.close()));
  await ops.waitForSelector("#conn[data-state=offline]");
  await ops.waitForSelector("#offline-note:not([hidden])");
  assert.match(await ops.locator("#offline-note").textContent(), /Connection lost/);
  await shot(ops, "09-control-room-offline");
  // While it is away, a water leak floods the pump room.
  await publish("sites/s1/devices/wl-b1-01/telemetry", { ts: Date.now(), metrics: { leak: true, battery_pct: 80 } });
  await ops.context().setOffline(false);
  await waitLive(ops);
  await ops.locator("#live-rows tr", { hasText: "wl-b1-01" }).first().waitFor({ timeout: 20000 });
  assert.ok(await ops.locator("#offline-note").isHidden());
  // It came back asking for what it missed in this life of the server.
  const url = await ops.evaluate(() => window.__sockets[window.__sockets.length - 1].url);
  assert.match(url, /[?&]since=\d+&epoch=[0-9a-f]+(&|$)/);
});
