// After "resolved", every step of the flow is on the ticket's page for
// the role that may take it: the operator confirms, disputes, records the
// callback (score, fixed?, note), reopens, cancels and comments; the
// technician and the patrol only comment; the manager only reads. In
// English and Chinese.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, open, shot, api, hideBanner } from "./lib.js";

let br, ops;
const tickets = {};

// reported files a public civil report (nobody has the skill: it waits in
// the pool) and, unless open, takes it to resolved as tech1.
async function reported(key, description, open) {
  const rep = await api("patrol", "POST", "/api/tickets", {
    source: "patrol", category: "civil", site: "s1", building: "C3", location: "C3 stairs " + key, scope: "public", level: 2,
    description, reporter: { name: "pat1", phone: "" },
  });
  assert.equal(rep.status, 201, JSON.stringify(rep.data));
  const id = rep.data.id;
  if (!open) {
    for (const body of [{ action: "claim" }, { action: "arrive" }, { action: "resolve", note: "handrail bolted back" }]) {
      const r = await api("technician", "POST", "/api/tickets/" + id + "/actions", body);
      assert.equal(r.status, 200, body.action + ": " + JSON.stringify(r.data));
    }
  }
  tickets[key] = id;
  return id;
}

async function ticket(id) {
  return (await api("operator", "GET", "/api/tickets/" + id)).data;
}

async function show(page, id) {
  await page.evaluate((x) => { location.hash = "#/ticket/" + x; }, id);
  await page.waitForSelector("#ticket-history li");
}

before(async () => {
  br = await launch();
  await reported("confirm", "loose handrail, stairs C3 east");
  await reported("dispute", "loose handrail, stairs C3 west");
  await reported("rework", "loose handrail, stairs C3 north");
  await reported("reopen", "loose handrail, stairs C3 south");
  await reported("cancel", "loose handrail, stairs C3 roof", true);
  ops = await open(br.context, "operator");
});
after(async () => {
  assert.deepEqual(br.errors, [], "no uncaught page errors");
  await br.close();
});

test("the technician, the patrol and the manager see only what their role may do", async () => {
  const id = tickets.confirm;
  for (const [role, comment] of [["technician", true], ["patrol", true], ["manager", false]]) {
    const page = await open(br.context, role, "#/ticket/" + id, role === "manager" ? undefined : { width: 390, height: 844 });
    await page.waitForSelector("#ticket-history li");
    for (const sel of ["#act-confirm", "#dispute-form", "#callback-form", "#reopen-form", "#cancel-form", "#dispatch-form"]) {
      assert.equal(await page.locator(sel).count(), 0, role + " sees " + sel);
    }
    assert.equal(await page.locator("#comment-form").count(), comment ? 1 : 0, role + " comment form");
    await shot(page, "x3-01-resolved-as-" + role);
    await page.close();
  }
});

test("the operator confirms the work, then records the callback: score, fixed, note", async () => {
  const id = tickets.confirm;
  await show(ops, id);
  for (const sel of ["#act-confirm", "#dispute-form", "#reopen-form", "#callback-form", "#comment-form"]) await ops.locator(sel).waitFor();
  assert.equal(await ops.locator("#cancel-form").count(), 0, "a resolved ticket cannot be cancelled");
  await shot(ops, "x3-02-resolved-as-operator");
  await ops.click("#act-confirm");
  await ops.locator("#ticket-history li", { hasText: "owner confirmed the work" }).waitFor();
  assert.equal(await ops.locator("#ticket-result").textContent(), "Done.");
  let tk = await ticket(id);
  assert.equal(tk.status, "closed");
  assert.equal(tk.outcome, "confirmed");
  // The callback is still due on a closed ticket.
  await ops.click("#callback-form button[type=submit]");
  await ops.locator("#callback-form .field-error", { hasText: "Required." }).waitFor();
  await ops.selectOption("#callback-score", "5");
  await ops.check("#callback-fixed-yes");
  await ops.fill("#callback-form textarea[name=note]", "owner happy, quick work");
  await shot(ops, "x3-03-callback-form");
  await ops.click("#callback-form button[type=submit]");
  await ops.locator("#ticket-history li", { hasText: "callback: score 5/5" }).filter({ hasText: "owner happy" }).waitFor();
  await ops.locator("#callback-form").waitFor({ state: "detached" });
  tk = await ticket(id);
  assert.equal(tk.score, 5);
  assert.equal(tk.fixed, true);
  await shot(ops, "x3-04-callback-recorded");
});

test("the operator disputes a result with a reason: closed as disputed, a re-inspection opened", async () => {
  await show(ops, tickets.dispute);
  await ops.click("#dispute-form button[type=submit]");
  await ops.locator("#dispute-form .field-error", { hasText: "Required." }).waitFor();
  await ops.fill("#dispute-form input[name=reason]", "owner says it still wobbles");
  await ops.click("#dispute-form button[type=submit]");
  await ops.locator("#ticket-history li", { hasText: "re-inspection ticket" }).waitFor();
  const tk = await ticket(tickets.dispute);
  assert.equal(tk.outcome, "disputed");
});

test("a low callback score with 'not fixed' opens a rework ticket", async () => {
  await show(ops, tickets.rework);
  await ops.selectOption("#callback-score", "2");
  await ops.check("#callback-fixed-no");
  await ops.click("#callback-form button[type=submit]");
  await ops.locator("#ticket-history li", { hasText: "owner says it is not fixed" }).filter({ hasText: "rework ticket" }).waitFor();
  const tk = await ticket(tickets.rework);
  assert.equal(tk.outcome, "rework");
  assert.equal(tk.fixed, false);
});

test("the operator reopens a resolved ticket and cancels an open one, each with a reason", async () => {
  await show(ops, tickets.reopen);
  await ops.fill("#reopen-form input[name=reason]", "handrail loose again");
  await ops.click("#reopen-form button[type=submit]");
  await ops.locator("#ticket-history li", { hasText: "handrail loose again" }).waitFor();
  assert.equal((await ticket(tickets.reopen)).status, "new");
  // Open again: it can be dispatched and cancelled, not confirmed.
  await ops.locator("#cancel-form").waitFor();
  assert.equal(await ops.locator("#act-confirm").count(), 0);

  await show(ops, tickets.cancel);
  await ops.click("#cancel-form button[type=submit]");
  await ops.locator("#cancel-form .field-error", { hasText: "Required." }).waitFor();
  await ops.fill("#cancel-form input[name=reason]", "duplicate of the east stairs report");
  await ops.click("#cancel-form button[type=submit]");
  await ops.locator("#ticket-history li", { hasText: "cancelled: duplicate of the east stairs report" }).waitFor();
  assert.equal((await ticket(tickets.cancel)).status, "cancelled");
  await shot(ops, "x3-05-cancelled");
});

test("comments go into the history, from the operator and from the technician's phone", async () => {
  await show(ops, tickets.confirm);
  await ops.fill("#comment-form textarea[name=note]", "called the owner back twice");
  await ops.click("#comment-form button[type=submit]");
  await ops.locator("#ticket-history li", { hasText: "called the owner back twice" }).filter({ hasText: "ops1" }).waitFor();
  const tech = await open(br.context, "technician", "#/ticket/" + tickets.confirm, { width: 390, height: 844 });
  await tech.waitForSelector("#comment-form");
  await hideBanner(tech);
  await tech.fill("#comment-form textarea[name=note]", "bolts are M8, spare in the van");
  await tech.click("#comment-form button[type=submit]");
  await tech.locator("#ticket-history li", { hasText: "bolts are M8" }).filter({ hasText: "tech1" }).waitFor();
  await tech.close();
});

test("in Chinese the steps after the work read in Chinese", async () => {
  const id = await reported("zh", "扶手松动，C3 楼梯");
  await show(ops, id);
  await ops.click("#lang");
  await ops.locator("#flow-actions h3", { hasText: "完工后处理" }).waitFor();
  assert.equal(await ops.locator("#act-confirm").textContent(), "验收通过");
  assert.equal(await ops.locator("#callback-form button[type=submit]").textContent(), "记录回访");
  assert.match(await ops.locator("#callback-form").textContent(), /评分（1-5）.*是否修好？/s);
  await shot(ops, "x3-06-after-work-zh-CN");
  await ops.click("#lang");
});
