// Dispatch picks from the technicians: who is on duty, their skills, zone
// and open tickets, the best match first, and what auto-dispatch did; a
// name that is nobody ("Wang Gong") is refused by the API. In English and
// Chinese.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, open, shot, api } from "./lib.js";

let br, ops, id;

before(async () => {
  br = await launch();
  const rep = await api("operator", "POST", "/api/tickets", {
    source: "phone", category: "water_electric", site: "s1", building: "B1", location: "B1 lobby socket", scope: "public", level: 2,
    description: "socket by the lift has no power", reporter: { name: "Zhou", phone: "13900000000" },
  });
  assert.equal(rep.status, 201, JSON.stringify(rep.data));
  id = rep.data.id;
  ops = await open(br.context, "operator", "#/ticket/" + id);
});
after(async () => {
  assert.deepEqual(br.errors, [], "no uncaught page errors");
  await br.close();
});

test("the dispatch form lists the technicians with duty, skills, zone and load, and the auto-dispatch reason", async () => {
  const choices = ops.locator("#dispatch-choices li");
  await ops.locator("#dispatch-choices li[data-name=tech1]").waitFor();
  assert.deepEqual(await choices.evaluateAll((els) => els.map((e) => e.dataset.name)), ["tech1", "tech2"], "best first");
  const t1 = await ops.locator("#dispatch-choices li[data-name=tech1]").textContent();
  assert.match(t1, /best match · on duty · gas, plumbing, electrical \(skill fits\) · z1 \(in zone\) · \d+ open/);
  // tech2 is listed but on no roster: off duty, other zone.
  assert.match(await ops.locator("#dispatch-choices li[data-name=tech2]").textContent(), /off duty · electrical \(skill fits\) · z2 \(other zone\)/);
  await ops.locator("#dispatch-auto", { hasText: /^Auto-dispatch: auto-dispatched to tech1: skill plumbing or electrical, on duty by the rosters, in zone z1/ }).waitFor();
  const opts = await ops.locator("#dispatch-technician option").evaluateAll((els) => els.map((e) => e.value));
  assert.deepEqual(opts, ["", "tech1", "tech2"], "a choice, not a free-text name");
  await shot(ops, "x4-01-dispatch-choices");
});

test("the API refuses a technician nobody knows, saying who may be assigned", async () => {
  const r = await api("operator", "POST", "/api/tickets/" + id + "/actions", { action: "assign", technician: "Wang Gong" });
  assert.equal(r.status, 400);
  assert.equal(r.data.field, "technician");
  assert.match(r.data.error, /"Wang Gong" is not one of the technicians \(tech1, tech2\)/);
  const tk = (await api("operator", "GET", "/api/tickets/" + id)).data;
  assert.equal(tk.assignee, "tech1", "the refused name changed nothing");
});

test("the operator dispatches to the chosen technician", async () => {
  await ops.selectOption("#dispatch-technician", "tech2");
  await ops.click("#dispatch-form button[type=submit]");
  await ops.locator("#ticket-history li", { hasText: "assigned to tech2 (was tech1); off duty" }).waitFor();
  assert.equal(await ops.locator("#ticket-result").textContent(), "Done.");
  // The redrawn form counts tech2's new ticket.
  await ops.locator("#dispatch-choices li[data-name=tech2]", { hasText: /[1-9]\d* open/ }).waitFor();
  await shot(ops, "x4-02-dispatched");
});

test("in Chinese the choices read in Chinese", async () => {
  await ops.click("#lang");
  await ops.locator("#dispatch-choices li[data-name=tech1]", { hasText: "推荐 · 在岗" }).waitFor();
  assert.match(await ops.locator("#dispatch-choices li[data-name=tech2]").textContent(), /不在岗.*跨片区.*在办 \d+ 单/);
  await ops.locator("#dispatch-auto", { hasText: /^自动派单：/ }).waitFor();
  await shot(ops, "x4-03-dispatch-zh-CN");
  await ops.click("#lang");
});
