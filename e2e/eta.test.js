// A technician who cannot arrive within 20 minutes gives an ETA from the
// phone: the control room's ticket shows it, the reporter gets an SMS
// saying when, in their language.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, open, shot, api } from "./lib.js";

const SMS = process.env.E2E_SMS_URL;
const PHONE = "+8613900000066";
let br;

before(async () => { br = await launch(); });
after(async () => {
  assert.deepEqual(br.errors, [], "no uncaught page errors");
  await br.close();
});

test("a late technician's ETA reaches the control room and the reporter", async () => {
  const { status, data: tk } = await api("operator", "POST", "/api/tickets", {
    source: "phone", category: "water_electric", level: 2, site: "s1", building: "B10", location: "B10 stair light",
    scope: "public", description: "stair light out", reporter: { name: "Sun", phone: PHONE },
  });
  assert.equal(status, 201, JSON.stringify(tk));
  const r = await api("operator", "POST", `/api/tickets/${tk.id}/actions`, { action: "assign", technician: "tech1" });
  assert.equal(r.status, 200, JSON.stringify(r.data));

  const tech = await open(br.context, "technician", "#/tech", { width: 390, height: 844 });
  const card = tech.locator(`#tech-mine article[data-ticket="${tk.id}"]`);
  await card.waitFor();
  await card.locator("input[name=eta_minutes]").fill("45");
  await card.locator(".eta-form button").click();
  await tech.locator("#tech-result", { hasText: "Done." }).waitFor();
  const { data: after } = await api("operator", "GET", "/api/tickets/" + tk.id);
  assert.ok(after.eta, "the ticket has the ETA");
  const mins = (new Date(after.eta) - Date.now()) / 60000;
  assert.ok(mins > 43 && mins <= 45, "ETA about 45 min from now: " + mins);
  const row = after.history.find((h) => h.action === "eta");
  assert.ok(row && /\(in 45 min\)/.test(row.note) && row.actor === "tech1", "history: " + JSON.stringify(row));
  await card.locator(".eta", { hasText: "on site by" }).waitFor();
  await shot(tech, "70-eta-technician");

  // The reporter's SMS.
  const deadline = Date.now() + 30000;
  let msg;
  while (!msg && Date.now() < deadline) {
    msg = ((await (await fetch(SMS)).json()) || []).find((m) => m.phone === PHONE && /cannot be there within 20 minutes|无法在 20 分钟内到达/.test(m.text));
    if (!msg) await new Promise((res) => setTimeout(res, 200));
  }
  assert.ok(msg, "the reporter was told the ETA");
  assert.match(msg.text, new RegExp(tk.number));

  // The control room sees it on the ticket, in both languages.
  const ops = await open(br.context, "operator", "#/ticket/" + tk.id);
  await ops.locator("#ticket-detail dt", { hasText: "ETA" }).waitFor();
  await shot(ops, "71-eta-control-room");
  await ops.click("#lang");
  await ops.locator("#ticket-detail dt", { hasText: "预计到达" }).waitFor();
  await ops.click("#lang");
  await ops.close();
  await tech.close();
});

test("work that cannot be finished today is on the morning shift's list", async () => {
  const { status, data: tk } = await api("operator", "POST", "/api/tickets", {
    source: "phone", category: "water_electric", level: 2, site: "s1", building: "B11", location: "B11 pump",
    scope: "public", description: "pump seal leaking", reporter: { name: "Qian", phone: "" },
  });
  assert.equal(status, 201, JSON.stringify(tk));
  assert.equal((await api("operator", "POST", `/api/tickets/${tk.id}/actions`, { action: "assign", technician: "tech1" })).status, 200);
  const tech = await open(br.context, "technician", "#/tech", { width: 390, height: 844 });
  const card = tech.locator(`#tech-mine article[data-ticket="${tk.id}"]`);
  await card.waitFor();
  await card.locator("input[name=carry_reason]").fill("seal kit on order");
  await card.locator(".carry-form button").click();
  await card.locator(".carried", { hasText: "carried over: seal kit on order" }).waitFor();
  await tech.close();

  const ops = await open(br.context, "operator", "#/daily");
  const item = ops.locator(`#daily-list li[data-ticket="${tk.id}"]`);
  await item.waitFor();
  assert.match(await item.textContent(), /cannot be finished today: seal kit on order/);
  await shot(ops, "72-daily-unfinished");
  await ops.click("#lang");
  await item.locator(".note", { hasText: "当天无法完成" }).waitFor();
  await ops.click("#lang");
  await ops.close();
  const phone = await open(br.context, "operator", "#/daily", { width: 390, height: 844 });
  await phone.locator(`#daily-list li[data-ticket="${tk.id}"]`).waitFor();
  await shot(phone, "73-daily-unfinished-phone");
  await phone.close();
});

test("what a technician types on a card keeps the focus while events redraw the cards", async () => {
  const job = async (location, level) => {
    const { status, data } = await api("operator", "POST", "/api/tickets", {
      source: "phone", category: "civil", level, site: "s1", building: "B12", location, scope: "public", description: "loose " + location,
    });
    assert.equal(status, 201, JSON.stringify(data));
    assert.equal((await api("operator", "POST", `/api/tickets/${data.id}/actions`, { action: "assign", technician: "tech1" })).status, 200);
    return data;
  };
  const tk = await job("B12 lobby door", 2);
  const tech = await open(br.context, "technician", "#/tech", { width: 390, height: 844 });
  const why = tech.locator(`#tech-mine article[data-ticket="${tk.id}"] input[name=carry_reason]`);
  await why.click();
  await tech.keyboard.type("waiting for");
  // Another job for tech1 meanwhile: its events redraw the cards.
  const other = await job("B12 roof hatch", 3);
  await tech.locator(`#tech-mine article[data-ticket="${other.id}"]`).waitFor();
  assert.ok(await why.evaluate((el) => el === document.activeElement), "the field being typed in keeps the focus");
  await tech.keyboard.type(" parts");
  assert.equal(await why.inputValue(), "waiting for parts");
  await tech.close();
  for (const x of [tk, other]) {
    const r = await api("operator", "POST", `/api/tickets/${x.id}/actions`, { action: "cancel", reason: "typing test done" });
    assert.equal(r.status, 200, JSON.stringify(r.data));
  }
});
