// A gas ticket resolved while the gas is still high: the technician's
// phone asks for an override with a reason (the API refuses without one,
// with a clear error), and the control room sees it, on the board's row
// and in the ticket's history, in English and Chinese.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, open, shot, api, until, gas, hideBanner } from "./lib.js";

const DEV = "gas-c2-01";
const REASON = "handheld detector reads 0 at the valve";
let br, ops, tech, ticket;

before(async () => {
  br = await launch();
  ops = await open(br.context, "operator");
});
after(async () => {
  assert.deepEqual(br.errors, [], "no uncaught page errors");
  await br.close();
});

test("the technician takes the gas job on while the sensor still reads 40 %LEL", async () => {
  await gas(DEV, 5);
  await gas(DEV, 40);
  const alarm = await until("the gas alarm and its ticket", async () =>
    (await api("operator", "GET", "/api/alarms?state=active")).data.alarms.find((a) => a.device_id === DEV && a.rule_id === "gas-lel-critical" && a.ticket_id));
  ticket = alarm.ticket_id;
  tech = await open(br.context, "technician", "#/tech", { width: 390, height: 844 });
  const card = tech.locator(`#tech-mine article[data-ticket="${ticket}"]`);
  await card.waitFor();
  await hideBanner(tech);
  await card.locator("button", { hasText: "Accept" }).click();
  await card.locator(".status[data-status=accepted]").waitFor();
  await card.locator("button", { hasText: "Arrived" }).click();
  await card.locator(".status[data-status=on_site]").waitFor();
  // The gas job's checklist (x9-checklist.test.js shows it on the phone).
  for (const [item, value] of [["area_cleared"], ["main_valve_shut"], ["ventilated"], ["no_ignition"], ["reading_after", "0"]]) {
    const r = await api("technician", "POST", "/api/tickets/" + ticket + "/actions", { action: "check", item, value });
    assert.equal(r.status, 200, JSON.stringify(r.data));
  }
  await card.locator(`#checklist-${ticket}[data-missing="0"]`).waitFor();
});

test("the API refuses to resolve over the active alarm without an override, saying why", async () => {
  const r = await api("technician", "POST", "/api/tickets/" + ticket + "/actions", { action: "resolve", note: "LEL back to 0" });
  assert.equal(r.status, 409);
  assert.equal(r.data.field, "override");
  assert.match(r.data.error, /still active.*40.*override with a reason/);
  const r2 = await api("technician", "POST", "/api/tickets/" + ticket + "/actions", { action: "resolve", note: "LEL back to 0", override: true });
  assert.equal(r2.status, 400);
  assert.equal(r2.data.field, "reason");
});

test("the phone shows the override form; without a reason it does not resolve", async () => {
  const card = tech.locator(`#tech-mine article[data-ticket="${ticket}"]`);
  const box = card.locator(`#override-${ticket}`);
  await box.waitFor();
  assert.match(await box.textContent(), /still active.*reason/);
  await card.locator("textarea[name=note]").fill("valve shut, room aired");
  await card.locator("button[type=submit]", { hasText: "Resolve anyway" }).click();
  await card.locator(".field-error", { hasText: "Required." }).waitFor();
  assert.equal((await api("operator", "GET", "/api/tickets/" + ticket)).data.status, "on_site", "not resolved without a reason");
  await shot(tech, "x2-01-phone-override-form");
  await card.locator("textarea[name=reason]").fill(REASON);
  await card.locator("button[type=submit]", { hasText: "Resolve anyway" }).click();
  await tech.locator("#tech-result", { hasText: "Done." }).waitFor();
  const tk = (await api("operator", "GET", "/api/tickets/" + ticket)).data;
  assert.equal(tk.status, "resolved");
  assert.equal(tk.override.by, "tech1");
  assert.equal(tk.override.reason, REASON);
  await shot(tech, "x2-02-phone-resolved");
  await tech.close();
});

test("the control room sees it: a marker on the alarm's row and the ticket's history", async () => {
  const row = ops.locator(`#live-rows tr[data-key^="alarm:gas-lel-critical:${DEV}:"]`);
  await row.locator(".override-mark", { hasText: "Resolved by tech1 while the alarm was still active: " + REASON }).waitFor();
  await shot(ops, "x2-03-board-override-mark");
  // After a reload too (the snapshot's alarm carries it).
  await ops.reload();
  await ops.waitForSelector("body[data-snapshot]");
  await row.locator(".override-mark", { hasText: REASON }).waitFor();
  await ops.evaluate((id) => { location.hash = "#/ticket/" + id; }, ticket);
  await ops.locator("#ticket-override", { hasText: "Resolved by tech1 while the alarm was still active" }).waitFor();
  await ops.locator("#ticket-history li[data-action=resolve_override]", { hasText: "resolved despite active alarm" }).filter({ hasText: REASON }).waitFor();
  await shot(ops, "x2-04-detail-override");
  await ops.click("#lang");
  await ops.locator("#ticket-override", { hasText: "tech1 在告警未恢复时完工：" + REASON }).waitFor();
  await ops.locator("#ticket-history li[data-action=resolve_override]", { hasText: "tech1 在告警未恢复时完工：" + REASON }).waitFor();
  await shot(ops, "x2-05-detail-override-zh-CN");
  await ops.evaluate(() => { location.hash = "#/"; });
  await row.locator(".override-mark", { hasText: "在告警未恢复时完工" }).waitFor();
  await ops.click("#lang");
});
