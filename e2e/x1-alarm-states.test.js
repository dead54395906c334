// Alarm states as operators know them (ThingsBoard's alarm table): an L1
// gas alarm is active and not acknowledged; "Hide for now" only hides it
// on this screen (it is not an acknowledgement, and a button brings it
// back); when the gas goes away by itself the alarm is cleared but still
// not acknowledged, and stays in the banner and the live list, after a
// reload too (the server's snapshot); an operator acknowledges it (a
// patrol may not), who and when recorded; then it is gone, reload or not.
// In English and Chinese.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, open, shot, api, until, gas, drawn, waitLive } from "./lib.js";

const DEV = "gas-c1-01";
let br, ops, alarm;

before(async () => {
  br = await launch();
  ops = await open(br.context, "operator");
});
after(async () => {
  assert.deepEqual(ops.cspViolations, [], "no CSP violations");
  assert.deepEqual(br.errors, [], "no uncaught page errors");
  await br.close();
});

const bannerRow = () => ops.locator(`#banner .banner-row[data-key="a:${alarm.id}"]`);
// The alarm's row (led by the L1 alarm; the device's other alarms, such as
// its pre-alarm, share it; its ticket, open still, has a row of its own
// once the alarm is over).
const liveRow = () => ops.locator(`#live-rows tr[data-key="alarm:${alarm.id}"]`);

test("an L1 gas alarm is active and not acknowledged, in the banner and the live list", async () => {
  await gas(DEV, 4);
  await gas(DEV, 36);
  alarm = await until("the gas alarm", async () =>
    (await api("operator", "GET", "/api/alarms?state=active")).data.alarms.find((a) => a.device_id === DEV && a.rule_id === "gas-lel-critical"));
  assert.equal(alarm.status, "active_unack");
  await bannerRow().waitFor();
  assert.equal(await bannerRow().getAttribute("data-status"), "active_unack");
  await liveRow().locator(".alarm-state", { hasText: "Active · not acknowledged" }).waitFor();
  await shot(ops, "x1-01-alarm-active-unack");
});

test("hiding the banner is not acknowledging: the alarm stays unacknowledged and can be shown again", async () => {
  const hide = bannerRow().locator("button.banner-hide");
  assert.equal(await hide.textContent(), "Hide for now (not acknowledged)");
  await hide.click();
  await bannerRow().waitFor({ state: "detached" });
  await ops.locator("#banner-show", { hasText: "L1 item(s) hidden, not acknowledged: show them" }).waitFor();
  // Still on the board with its acknowledge button, and unacknowledged on the server.
  await liveRow().locator("button.ack").waitFor();
  const a = (await api("operator", "GET", "/api/alarms?state=unacked")).data.alarms.find((x) => x.id === alarm.id);
  assert.equal(a && a.acked, false, "hiding did not acknowledge");
  await shot(ops, "x1-02-banner-hidden");
  await ops.click("#banner-show");
  await bannerRow().waitFor();
});

test("the gas goes away by itself: cleared but not acknowledged, it stays, after a reload too", async () => {
  await gas(DEV, 3);
  await until("the alarm to clear", async () =>
    (await api("operator", "GET", "/api/alarms?state=cleared")).data.alarms.find((a) => a.id === alarm.id && a.status === "cleared_unack"), 40000);
  // Live, without a reload.
  await ops.locator(`#banner .banner-row[data-key="a:${alarm.id}"][data-status="cleared_unack"]`, { hasText: "still not acknowledged" }).waitFor();
  await liveRow().locator(".alarm-state", { hasText: "Cleared · not acknowledged" }).waitFor();
  await shot(ops, "x1-03-cleared-unack-live");
  // A reloaded board (a screen switched on later) has it from the server's snapshot.
  await ops.reload();
  await waitLive(ops);
  await ops.locator(`#banner .banner-row[data-key="a:${alarm.id}"][data-status="cleared_unack"]`).waitFor();
  await liveRow().locator(".alarm-state", { hasText: "Cleared · not acknowledged" }).waitFor();
  assert.equal(await liveRow().locator("button.ack").count(), 1, "it can still be acknowledged");
  await shot(ops, "x1-04-cleared-unack-after-reload");
});

test("in Chinese the states and the hide button read as what they are", async () => {
  await ops.click("#lang");
  await liveRow().locator(".alarm-state", { hasText: "已恢复 · 未确认" }).waitFor();
  assert.equal(await bannerRow().locator("button.banner-hide").textContent(), "暂时收起（不算确认）");
  assert.match(await bannerRow().textContent(), /仍未确认/);
  await shot(ops, "x1-05-cleared-unack-zh-CN");
  await ops.click("#lang");
});

test("a patrol may not acknowledge; the operator does, and it is gone, reload or not", async () => {
  assert.equal(await bannerRow().locator("button.banner-ack").textContent(), "Acknowledge", "the banner has its own acknowledge button");
  const refused = await api("patrol", "POST", "/api/alarms/" + encodeURIComponent(alarm.id) + "/ack");
  assert.equal(refused.status, 403);
  // The row's button acknowledges every alarm of the incident (the L1
  // and its pre-alarm); the banner's would acknowledge the L1 alone.
  await liveRow().locator("button.ack").click();
  await bannerRow().waitFor({ state: "detached" });
  await liveRow().waitFor({ state: "detached" });
  const all = (await api("operator", "GET", "/api/alarms")).data.alarms;
  const a = all.find((x) => x.id === alarm.id);
  assert.equal(a.status, "cleared_ack");
  assert.equal(a.acked_by, "ops1");
  assert.ok(Date.now() - new Date(a.acked_at).getTime() < 60000, "acknowledged just now: " + a.acked_at);
  const tk = (await api("operator", "GET", "/api/tickets/" + a.ticket_id)).data;
  assert.ok(tk.history.some((h) => h.action === "alarm_acked" && h.actor === "ops1"), "the ticket's history says who acknowledged");
  await ops.reload();
  await ops.waitForSelector("body[data-snapshot]");
  await ops.waitForSelector("#live-table");
  await drawn(ops); // the snapshot is drawn, not only in
  assert.equal(await bannerRow().count(), 0);
  assert.equal(await liveRow().count(), 0);
  await shot(ops, "x1-06-acknowledged");
});
