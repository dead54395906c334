// The field work of an emergency, on a phone (390 px): the technician
// works an elevator entrapment, sees resolve refused until its checklist
// is complete (power isolated, car levelled, passengers out, the time
// they were freed), ticks the items, enters the parts used and the fee
// agreed on site, resolves; the control room sees the checklist, parts
// and fee and confirms on the owner's behalf after a call. In Chinese, a
// gas job's checklist, one item ticked without signal (queued, sent when
// it is back), parts and fee, and the owner confirming them through the
// link of the "work done" SMS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, open, shot, api, until, publish, hideBanner } from "./lib.js";

const LIFT = "el-x9";
const SMS = process.env.E2E_SMS_URL;
const PHONE = "+8613900000099";
const PHONE_SIZE = { width: 390, height: 844 };
let br, zh, lift, gasTicket;

before(async () => {
  br = await launch();
  zh = await launch({ locale: "zh-CN" });
});
after(async () => {
  assert.deepEqual(br.errors, [], "no uncaught page errors");
  assert.deepEqual(zh.errors, [], "no uncaught page errors (zh-CN)");
  await zh.context.setOffline(false);
  await br.close();
  await zh.close();
});

async function noOverflow(page, what) {
  const w = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(w <= 390, what + ": the page is " + w + " px wide at 390");
}

async function entrapment(active) {
  await publish(`sites/s1/devices/${LIFT}/event`, { ts: Date.now(), event: "entrapment", active });
}

// hhmm is the site's wall-clock time (Asia/Shanghai) minutes ago.
function hhmm(minutesAgo) {
  return new Intl.DateTimeFormat("en-GB", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false })
    .format(new Date(Date.now() - minutesAgo * 60e3));
}

async function tick(card, item, value) {
  const li = card.locator(`.check-item[data-item="${item}"]`);
  if (value !== undefined) await li.locator(`input[name="value-${item}"]`).fill(value);
  await li.locator(`input[name="check-${item}"]`).check();
  await card.locator(`.check-item[data-item="${item}"][data-checked="1"]`).waitFor();
}

test("the technician's phone refuses to resolve an entrapment until its checklist is complete", async () => {
  await entrapment(true);
  const alarm = await until("the entrapment alarm and its ticket", async () =>
    (await api("operator", "GET", "/api/alarms?state=active")).data.alarms.find((a) => a.device_id === LIFT && a.ticket_id));
  lift = alarm.ticket_id;
  const tech = await open(br.context, "technician", "#/tech", PHONE_SIZE);
  await hideBanner(tech);
  const any = tech.locator(`article[data-ticket="${lift}"]`);
  await any.first().waitFor();
  const claim = tech.locator(`#tech-pool article[data-ticket="${lift}"] button`, { hasText: "Claim" });
  if (await claim.count()) await claim.click();
  const card = tech.locator(`#tech-mine article[data-ticket="${lift}"]`);
  const accept = card.locator("button", { hasText: "Accept" });
  if (await accept.count()) await accept.click();
  await card.locator("button", { hasText: "Arrived" }).click();
  await card.locator(".status[data-status=on_site]").waitFor();

  const list = card.locator(`#checklist-${lift}`);
  await list.waitFor();
  assert.equal(await list.getAttribute("data-checklist"), "elevator_entrapment");
  assert.equal(await list.locator(".check-item").count(), 5);
  assert.equal(await list.getAttribute("data-missing"), "4");
  assert.match(await list.textContent(), /Main power to the lift isolated.*Car moved to a landing and levelled.*All passengers out.*Time the passengers were freed/);
  await shot(tech, "x9-01-phone-checklist");
  await noOverflow(tech, "technician's card with the checklist");

  // Resolve now: the phone says what is missing, the server agrees.
  await card.locator("textarea[name=note]").fill("passengers freed at the 3rd floor landing");
  await card.locator("textarea[name=reason]").fill("controller still latched");
  await card.locator("button[type=submit]", { hasText: "Resolve" }).click();
  await tech.locator("#tech-result", { hasText: "Check these first: Main power to the lift isolated and locked off, Car moved to a landing and levelled, All passengers out, nobody hurt, Time the passengers were freed." }).waitFor();
  const r = await api("technician", "POST", `/api/tickets/${lift}/actions`, { action: "resolve", note: "x", override: true, reason: "x" });
  assert.equal(r.status, 409, JSON.stringify(r.data));
  assert.equal(r.data.field, "checklist");
  assert.deepEqual(r.data.params.items, ["power_isolated", "car_levelled", "passengers_out", "freed_at"]);
  assert.equal((await api("operator", "GET", "/api/tickets/" + lift)).data.status, "on_site");
  await shot(tech, "x9-02-phone-resolve-refused");

  // Tick them; the time needs its value first.
  await tick(card, "power_isolated");
  await tick(card, "car_levelled");
  await tick(card, "passengers_out");
  await card.locator('.check-item[data-item="freed_at"] input[name="check-freed_at"]').click();
  await card.locator('.check-item[data-item="freed_at"] .field-error', { hasText: "Enter the value first." }).waitFor();
  const freed = hhmm(2);
  await tick(card, "freed_at", freed);
  await card.locator('.check-item[data-item="power_isolated"] .check-who', { hasText: "✓ tech1 · " }).waitFor();
  await card.locator('.check-item[data-item="freed_at"] .check-answer', { hasText: freed }).waitFor();
  await list.locator(".checklist-state", { hasText: "All required checks done." }).waitFor();
  assert.equal(await card.locator("textarea[name=note]").inputValue(), "passengers freed at the 3rd floor landing", "what was typed stays");
  await shot(tech, "x9-03-phone-checklist-done");

  // The lift's controller is reset: the alarm clears, no override needed.
  await entrapment(false);
  await until("the entrapment cleared", async () =>
    (await api("operator", "GET", "/api/alarms?state=active")).data.alarms.every((a) => a.device_id !== LIFT));
  await card.locator(`#override-${lift}[hidden]`).waitFor({ state: "attached" });

  // Parts and the fee: a bad quantity and a bad fee are refused on the phone.
  await card.locator("textarea[name=note]").fill("passengers freed at the 3rd floor landing; door contact replaced");
  await card.locator("button", { hasText: "Add part" }).click();
  await card.locator('input[name="parts[0].name"]').fill("door lock contact");
  await card.locator('input[name="parts[0].qty"]').fill("1.5");
  await card.locator("button", { hasText: "Add part" }).click();
  await card.locator('input[name="parts[1].name"]').fill("landing door roller");
  await card.locator("input[name=paid]").check();
  await card.locator("input[name=fee_cents]").fill("12,5");
  await card.locator("button[type=submit]", { hasText: "Resolve" }).click();
  await card.locator(".field-error", { hasText: "A whole number from 1 to 10000." }).waitFor();
  await card.locator('input[name="parts[0].qty"]').fill("2");
  await card.locator("button[type=submit]", { hasText: "Resolve" }).click();
  await card.locator(".field-error", { hasText: "Yuan with at most 2 decimals" }).waitFor();
  await shot(tech, "x9-04-phone-parts-fee-errors");
  await noOverflow(tech, "technician's resolve form with parts and fee");
  await card.locator("input[name=fee_cents]").fill("12.5");
  await card.locator("button[type=submit]", { hasText: "Resolve" }).click();
  await tech.locator("#tech-result", { hasText: "Done." }).waitFor();
  const tk = (await api("operator", "GET", "/api/tickets/" + lift)).data;
  assert.equal(tk.status, "resolved");
  assert.deepEqual(tk.parts, [{ name: "door lock contact", qty: 2 }, { name: "landing door roller", qty: 1 }]);
  assert.equal(tk.paid, true);
  assert.equal(tk.fee_cents, 1250);
  const freedAt = tk.checklist.items.find((i) => i.id === "freed_at");
  assert.equal(freedAt.by, "tech1");
  assert.match(freedAt.answer, new RegExp("T" + freed + ":00\\+08:00$"));
  await tech.close();
});

test("the control room sees checklist, parts and fee, and confirms them for the owner after a call (en, zh-CN)", async () => {
  const ops = await open(br.context, "operator", "#/ticket/" + lift, PHONE_SIZE);
  const list = ops.locator(`#checklist-${lift}`);
  await list.waitFor();
  assert.equal(await list.locator(".check-item[data-checked='1']").count(), 4);
  await list.locator('.check-item[data-item="car_levelled"] .check-who', { hasText: "✓ tech1" }).waitFor();
  assert.equal(await list.locator("input:not([disabled])").count(), 0, "read only once resolved");
  await ops.locator("#ticket-parts", { hasText: "door lock contact × 2, landing door roller × 1" }).waitFor();
  await ops.locator("#ticket-fee", { hasText: "¥12.50 (Paid service" }).waitFor();
  await ops.locator("#accept-terms", { hasText: "The owner accepts the work with: door lock contact × 2, landing door roller × 1 · ¥12.50" }).waitFor();
  assert.equal(await ops.locator("#act-confirm").textContent(), "Owner confirmed work, parts and fee (by phone)");
  await ops.locator("#ticket-history li[data-action=check]", { hasText: "checked: Time the passengers were freed = " }).first().waitFor();
  await shot(ops, "x9-05-detail-terms");
  await noOverflow(ops, "ticket page with checklist, parts and fee");

  await ops.click("#lang");
  await list.locator("h3", { hasText: "检查清单" }).waitFor();
  await list.locator(".check-item", { hasText: "已切断电梯主电源并上锁挂牌" }).waitFor();
  await ops.locator("#ticket-fee", { hasText: "¥12.50（有偿服务" }).waitFor();
  assert.equal(await ops.locator("#act-confirm").textContent(), "业主确认完工、备件和费用（电话）");
  await ops.locator("#ticket-history li[data-action=check]", { hasText: "已勾选：乘客解困时间＝" }).first().waitFor();
  await noOverflow(ops, "ticket page in Chinese");
  await ops.click("#act-confirm");
  await ops.locator("#ticket-history li[data-action=confirm]", { hasText: "业主已验收（电话确认）；备件：door lock contact x2, landing door roller x1；有偿服务，费用 ¥12.50" }).waitFor();
  await ops.locator("#ticket-acceptance", { hasText: "ops1" }).waitFor();
  await shot(ops, "x9-06-detail-confirmed-zh-CN");
  await ops.click("#lang");
  await ops.locator("#ticket-acceptance", { hasText: "confirmed by ops1" }).waitFor();
  const tk = (await api("operator", "GET", "/api/tickets/" + lift)).data;
  assert.equal(tk.status, "closed");
  assert.equal(tk.acceptance.verdict, "confirmed");
  assert.equal(tk.acceptance.by, "ops1");
  assert.equal(tk.acceptance.role, "operator");
  assert.equal(tk.acceptance.fee_cents, 1250);
  const row = tk.history.find((h) => h.action === "confirm");
  assert.equal(row.note, "owner confirmed the work by phone; parts: door lock contact x2, landing door roller x1; paid service, fee ¥12.50");
  await ops.close();
});

async function linkFor(number) {
  return until("the reporter's link for " + number, async () => {
    for (const m of (await (await fetch(SMS)).json()) || []) {
      const found = m.phone === PHONE && m.text.includes(number) && m.text.match(/https?:\/\/\S+\/ack\/r\/[A-Za-z0-9_.-]+/);
      if (found) return found[0];
    }
    return null;
  });
}

test("zh-CN: a gas job's checklist, one item ticked without signal, parts and fee; the owner confirms them by the link", async () => {
  const { status, data } = await api("operator", "POST", "/api/tickets", {
    source: "phone", category: "gas", level: 2, site: "s1", building: "X9", scope: "public", location: "X9 kitchen riser",
    description: "faint smell at the gas meter", reporter: { name: "Sun", phone: PHONE },
  });
  assert.equal(status, 201, JSON.stringify(data));
  gasTicket = data;
  const first = data.status === "dispatched" ? "accept" : "claim";
  for (const action of [first, "arrive"]) {
    const r = await api("technician", "POST", `/api/tickets/${data.id}/actions`, { action });
    assert.equal(r.status, 200, JSON.stringify(r.data));
  }
  const tech = await open(zh.context, "technician", "#/tech", PHONE_SIZE);
  await hideBanner(tech);
  const card = tech.locator(`#tech-mine article[data-ticket="${data.id}"]`);
  const list = card.locator(`#checklist-${data.id}`);
  await list.waitFor();
  assert.equal(await list.getAttribute("data-checklist"), "gas_leak");
  await list.locator("h3", { hasText: "检查清单" }).waitFor();
  await list.locator(".check-item", { hasText: "已关闭燃气总阀" }).waitFor();
  await card.locator("textarea[name=note]").fill("更换燃气表接头密封圈");
  await card.locator("button[type=submit]", { hasText: "完工" }).click();
  await tech.locator("#tech-result", { hasText: "请先完成以下检查：已疏散人员并隔离现场、已关闭燃气总阀、" }).waitFor();
  await shot(tech, "x9-07-phone-gas-refused-zh-CN");

  // In the basement, no signal: the tick is kept on the phone.
  await tech.waitForFunction(() => navigator.serviceWorker && navigator.serviceWorker.controller !== null, null, { timeout: 15000 });
  await zh.context.setOffline(true);
  await tick(card, "area_cleared");
  await card.locator('.check-item[data-item="area_cleared"] .check-who', { hasText: "已保存在本机" }).waitFor();
  await tech.locator("#tech-queued").waitFor();
  const still = (await api("operator", "GET", "/api/tickets/" + data.id)).data;
  assert.equal(still.checklist.items.find((i) => i.id === "area_cleared").checked, false, "nothing reached the server offline");
  await shot(tech, "x9-08-phone-check-offline-zh-CN");
  await zh.context.setOffline(false);
  await card.locator('.check-item[data-item="area_cleared"] .check-who', { hasText: "✓ tech1 · " }).waitFor({ timeout: 20000 });
  const sent = (await api("operator", "GET", "/api/tickets/" + data.id)).data;
  assert.equal(sent.checklist.items.find((i) => i.id === "area_cleared").by, "tech1");
  assert.ok(sent.history.some((h) => h.action === "offline" && /^check /.test(h.note)), "an offline history row for the check");

  for (const item of ["main_valve_shut", "ventilated", "no_ignition"]) await tick(card, item);
  await card.locator('input[name="value-reading_after"]').fill("无");
  await card.locator('input[name="check-reading_after"]').click();
  await card.locator('.check-item[data-item="reading_after"] .field-error', { hasText: "必须是数字。" }).waitFor();
  await tick(card, "reading_after", "0");
  await list.locator(".checklist-state", { hasText: "必做检查已全部完成。" }).waitFor();
  await card.locator("button", { hasText: "添加备件" }).click();
  await card.locator('input[name="parts[0].name"]').fill("燃气表接头密封圈");
  await card.locator('input[name="parts[0].qty"]').fill("2");
  await card.locator("input[name=paid]").check();
  await card.locator("input[name=fee_cents]").fill("80");
  await noOverflow(tech, "technician's gas job in Chinese");
  await shot(tech, "x9-09-phone-gas-terms-zh-CN");
  await card.locator("button[type=submit]", { hasText: "完工" }).click();
  await tech.locator("#tech-result", { hasText: "完成" }).waitFor();
  const tk = (await api("operator", "GET", "/api/tickets/" + data.id)).data;
  assert.equal(tk.status, "resolved");
  assert.equal(tk.fee_cents, 8000);
  await tech.close();

  // The owner's link: the parts and the fee, in English, then Chinese.
  const link = await linkFor(data.number);
  const phone = await br.context.newPage();
  await phone.setViewportSize(PHONE_SIZE);
  await phone.goto(link);
  await phone.locator("#rl-parts li", { hasText: "燃气表接头密封圈 × 2" }).waitFor();
  assert.equal(await phone.locator("#rl-fee").textContent(), "¥80.00");
  assert.match(await phone.locator("#rl-terms").textContent(), /Confirming also accepts the parts and the fee/);
  await noOverflow(phone, "the owner's link page");
  await shot(phone, "x9-10-link-terms");
  await phone.route(/\/ack\/r(\/|$)/, (route) =>
    route.continue({ headers: { ...route.request().headers(), "accept-language": "zh-CN,zh;q=0.9" } }));
  await phone.goto(link);
  await phone.locator("#rl-terms", { hasText: "确认即同时认可以上备件和费用" }).waitFor();
  assert.match(await phone.locator("dl").textContent(), /使用备件.*燃气表接头密封圈 × 2.*现场约定费用（有偿服务）¥80\.00/s);
  await noOverflow(phone, "the owner's link page in Chinese");
  await shot(phone, "x9-11-link-terms-zh-CN");
  await phone.check("#rl-score-5");
  await phone.click("#rl-confirm");
  await phone.locator("#rl-done", { hasText: "您已确认完工" }).waitFor();
  await phone.close();

  const done = (await api("operator", "GET", "/api/tickets/" + data.id)).data;
  assert.equal(done.status, "closed");
  assert.equal(done.acceptance.verdict, "confirmed");
  assert.equal(done.acceptance.by, "Sun");
  assert.equal(done.acceptance.role, "reporter_link");
  assert.deepEqual(done.acceptance.parts, [{ name: "燃气表接头密封圈", qty: 2 }]);
  assert.equal(done.acceptance.fee_cents, 8000);
  const row = done.history.find((h) => h.action === "confirm");
  assert.equal(row.actor, "Sun");
  assert.equal(row.note, "owner confirmed the work; parts: 燃气表接头密封圈 x2; paid service, fee ¥80.00: via the reporter's link");
});
