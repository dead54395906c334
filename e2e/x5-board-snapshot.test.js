// The board's state comes from the server: an L1 report nobody claims
// misses its claim limit (3 s on this caretaker) and is escalated to the
// supervisor; the board shows the missed claim as missed (not as minutes
// left on the dispatch limit) with the escalation and the banner, live
// and after a reload, and a screen opened later shows the same. In
// English and Chinese.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, open, shot, api, until, CLOCKS } from "./lib.js";

let br, ops, id;

before(async () => {
  br = await launch();
  ops = await open(br.context, "operator", "#/", undefined, CLOCKS);
});
after(async () => {
  assert.deepEqual(br.errors, [], "no uncaught page errors");
  await br.close();
});

const row = () => ops.locator(`#manual-rows tr[data-key="ticket:${id}"]`);

async function missedAndEscalated(page, lang) {
  const r = page.locator(`#manual-rows tr[data-key="ticket:${id}"]`);
  await r.locator(".escalated[data-clock=claim]", { hasText: lang === "zh-CN" ? "已升级至工程主管" : "escalated to supervisor" }).waitFor({ timeout: 20000 });
  const sla = r.locator(".sla");
  await r.locator(".sla[data-stage=claim][data-missed=true]").waitFor();
  assert.match(await sla.textContent(), lang === "zh-CN" ? /^接单 已超时 \d+ (秒|分钟)$/ : /^claim\/accept \d+ (s|min) overdue$/, "the missed claim, not time left on dispatch");
  await page.locator(`#banner .banner-row[data-key^="e:${id}:claim:"]`, { hasText: lang === "zh-CN" ? "超时：已升级至工程主管" : "limit missed: escalated to supervisor" }).waitFor();
}

test("an unclaimed L1 report misses its claim limit and is escalated, live", async () => {
  const rep = await api("patrol", "POST", "/api/tickets", {
    source: "patrol", category: "gas", level: 1, site: "s2", building: "D1", location: "D1 corridor", scope: "public",
    description: "smell of gas in the corridor", reporter: { name: "pat1", phone: "" },
  }, CLOCKS);
  assert.equal(rep.status, 201, JSON.stringify(rep.data));
  id = rep.data.id;
  await row().waitFor();
  // At first the claim clock is the one that matters: seconds left.
  await until("the escalation on the server", async () => {
    const tk = (await api("operator", "GET", "/api/tickets/" + id, undefined, CLOCKS)).data;
    return tk.escalated && tk.escalated.clock === "claim" && tk.escalated.to === "supervisor";
  }, 20000);
  await missedAndEscalated(ops, "en");
  await shot(ops, "x5-01-claim-missed-live");
});

test("after a reload the board shows the same from the server's snapshot", async () => {
  await ops.reload();
  await ops.waitForSelector("body[data-snapshot]");
  await missedAndEscalated(ops, "en");
  await ops.locator(`#banner .banner-row[data-key="t:${id}"]`, { hasText: "new L1 report, not dispatched" }).waitFor();
  await shot(ops, "x5-02-claim-missed-after-reload");
});

test("a screen opened later, in Chinese, shows it too", async () => {
  const late = await open(br.context, "operator", "#/", undefined, CLOCKS);
  await late.waitForSelector("body[data-snapshot]");
  await late.click("#lang");
  await missedAndEscalated(late, "zh-CN");
  await shot(late, "x5-03-claim-missed-zh-CN");
  await late.click("#lang");
  await late.close();
});
