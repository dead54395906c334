// The triage queue, the whole job: gas over the pre-alarm level (an L2
// alarm) arrives over MQTT on three detectors of T7 and waits in the
// operator's triage queue instead of opening tickets, live (no reload),
// with the rule in plain words, the place, since when and the time left
// on the triage clock. In English at desk size the first is dismissed as
// a false alarm with a reason (refused without one); the engineer's
// rules page shows the rule's false-alarm rate over 30 days next to its
// threshold, and its backtest a click away. In Chinese on a 390 px phone
// the second is made a ticket (L2, its alarm on it, signed by ops1); in
// Chinese at desk size the third is snoozed until a time picked in the
// estate's time (Shanghai), not the browser's (New York). No page is
// wider than the phone and the Chinese pages show no untranslated English.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, shot, api, until, gas, hideBanner, track, waitLive, BASE, TOKENS } from "./lib.js";

const DEV = ["gas-t7-01", "gas-t7-02", "gas-t7-03"];
const PHONE = { width: 390, height: 844 };
const DESK = { width: 1440, height: 900 };
const RULE = "gas-lel-warning";
let br, alarms;

before(async () => {
  br = await launch({ timezoneId: "America/New_York" });
});
after(async () => {
  assert.deepEqual(br.errors, [], "no uncaught page errors");
  await br.close();
});

// page opens role's page in lang at size.
async function page(role, hash, lang, size) {
  const pg = await br.context.newPage();
  await pg.addInitScript((l) => localStorage.setItem("caretaker.lang", l), lang);
  await pg.setViewportSize(size);
  track(pg);
  await pg.goto(BASE + "/#token=" + encodeURIComponent(TOKENS[role]));
  await waitLive(pg);
  if (hash !== "#/") await pg.evaluate((h) => { location.hash = h; }, hash);
  await hideBanner(pg);
  return pg;
}

const card = (pg, id) => pg.locator(`#triage-list li[data-alarm="${id}"]`);

// notWider: the page needs no sideways scrolling.
async function notWider(pg, what) {
  const o = await pg.evaluate(() => ({ sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth }));
  assert.ok(o.sw <= o.cw, `${what} is ${o.sw} px wide on a ${o.cw} px screen`);
}

// englishIn: the English words left in an element's visible text once the
// data (places, buildings, device ids, numbers) is taken out.
async function englishIn(pg, sel) {
  const { data } = await api("operator", "GET", "/api/devices");
  const words = new Set();
  for (const d of data.devices || []) for (const v of [d.id, d.location, d.building, d.site]) if (v) words.add(v);
  let text = await pg.locator(sel).evaluate((el) => {
    const out = [];
    const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      const p = n.parentElement;
      if (!p || p.closest(".tech, [hidden]") || !p.checkVisibility()) continue;
      out.push(n.textContent);
    }
    return out.join("\n");
  });
  for (const w of [...words].sort((a, b) => b.length - a.length)) text = text.split(w).join(" ");
  text = text.replace(/[A-Za-z0-9]+(?:[:_.\-@][A-Za-z0-9]+)+/g, " ");
  const bad = (text.match(/[A-Za-z]{2,}/g) || []).filter((w) => !["LEL", "ppm"].includes(w));
  return { bad: [...new Set(bad)], text };
}

test("L2 gas alarms over MQTT wait in the triage queue, live, and open no ticket", async () => {
  const ops = await page("operator", "#/", "en", DESK);
  await ops.locator("#triage-panel h2", { hasText: "Waiting for triage" }).waitFor();
  for (const d of DEV) await gas(d, 12.5);
  alarms = await until("the three L2 alarms", async () => {
    const got = (await api("operator", "GET", "/api/alarms?state=active")).data.alarms.filter((a) => DEV.includes(a.device_id) && a.rule_id === RULE);
    return got.length === 3 ? Object.fromEntries(got.map((a) => [a.device_id, a])) : null;
  });
  for (const d of DEV) assert.equal(alarms[d].level, 2, d + " is an L2 alarm");
  // On the screen without a reload.
  const c = card(ops, alarms[DEV[0]].id);
  await c.waitFor();
  assert.equal(await c.getAttribute("data-state"), "queued");
  const text = await c.textContent();
  assert.match(text, /L2/);
  assert.match(text, /Gas above pre-alarm level/);
  assert.match(text, /T7 laundry/);
  assert.match(text, /gas-t7-01/);
  assert.match(text, /12\.5 %LEL/);
  await c.locator(".age").filter({ hasText: /\d/ }).waitFor();
  // The triage clock (triage.timeout, 30 min): time left, counting down.
  await c.locator(".triage-clock", { hasText: /\d+ min left to triage/ }).waitFor();
  const q = (await api("operator", "GET", "/api/triage")).data.alarms.find((it) => it.alarm.id === alarms[DEV[0]].id);
  const left = (new Date(q.due_at) - new Date(q.queued_at)) / 60000;
  assert.equal(left, 30, "the triage clock runs for triage.timeout");
  // No ticket of its own: it waits for the operator.
  const tks = (await api("operator", "GET", "/api/tickets?device=" + DEV[0])).data.tickets || [];
  assert.deepEqual(tks.filter((tk) => tk.level < 3 && tk.alarm_id && tk.alarm_id.startsWith(RULE)), [], "no ticket opened by itself");
  await shot(ops, "x7-01-queue-en");
  await ops.close();
});

test("a false alarm is dismissed with a reason (refused without one), who and when recorded", async () => {
  const ops = await page("operator", "#/", "en", DESK);
  const id = alarms[DEV[0]].id;
  const c = card(ops, id);
  await c.locator("button.tr-dismiss", { hasText: "False alarm…" }).click();
  const form = c.locator("form.tr-dismiss-form");
  await form.locator("button[type=submit]", { hasText: "Dismiss as false alarm" }).click();
  await form.locator(".field-error", { hasText: "Say why." }).waitFor();
  // The API refuses it too, naming the field.
  const bare = await api("operator", "POST", "/api/triage/" + encodeURIComponent(id) + "/dismiss", {});
  assert.equal(bare.status, 400);
  assert.equal(bare.data.field, "reason");
  assert.equal((await api("patrol", "POST", "/api/triage/" + encodeURIComponent(id) + "/dismiss", { reason: "x" })).status, 403);
  await form.locator("input[name=reason]").fill("steam from the tumble dryer next to the head");
  await form.locator("button[type=submit]").click();
  await c.waitFor({ state: "detached" });
  await ops.locator("#triage-result.ok", { hasText: "Dismissed as a false alarm." }).waitFor();
  const all = (await api("operator", "GET", "/api/alarms")).data.alarms;
  const a = all.find((x) => x.id === id);
  assert.equal(a.acked_by, "ops1", "dismissing acknowledges the alarm");
  assert.ok(!a.ticket_id, "no ticket for a false alarm");
  const again = await api("operator", "POST", "/api/triage/" + encodeURIComponent(id) + "/ticket");
  assert.equal(again.status, 409, "a dismissed alarm is not triaged twice");
  await shot(ops, "x7-02-dismissed-en");
  await ops.close();
});

test("the rules page shows the rule's false-alarm rate beside its threshold, the backtest a click away", async () => {
  const st = (await api("engineer", "GET", "/api/triage/stats")).data;
  assert.equal(st.days, 30);
  const mine = st.rules.find((r) => r.rule_id === RULE);
  assert.ok(mine && mine.dismissed >= 1 && mine.raised >= 3, JSON.stringify(mine));
  const pct = Math.round(mine.rate * 100);
  for (const [lang, size, want] of [["en", DESK, `${pct}% (${mine.dismissed} of ${mine.raised})`], ["zh-CN", PHONE, `${pct}%（${mine.raised} 次中 ${mine.dismissed} 次）`]]) {
    const eng = await page("engineer", "#/rules", lang, size);
    const row = eng.locator(`#rules-table tr[data-rule="${RULE}"]`);
    await row.waitFor();
    await eng.locator("#rules-table th", { hasText: lang === "en" ? "False alarms (30 days)" : "误报率（30 天）" }).waitFor();
    const cell = row.locator("td.false-alarms");
    assert.equal(await cell.locator(".fa-rate").textContent(), want);
    // Next to the threshold: the condition's cell comes just before it.
    const prev = await cell.evaluate((td) => td.previousElementSibling.textContent);
    assert.match(prev, /10/, "the threshold beside the rate: " + prev);
    await notWider(eng, "the rules page (" + lang + ")");
    if (lang === "zh-CN") {
      const { bad, text } = await englishIn(eng, "#rules-table thead");
      assert.deepEqual(bad, [], "untranslated: " + text);
    }
    await shot(eng, "x7-03-rules-" + lang);
    await cell.locator("a.fa-backtest", { hasText: lang === "en" ? "Backtest" : "回测" }).click();
    await eng.locator("#backtest-form").waitFor();
    assert.equal(await eng.evaluate(() => decodeURIComponent(location.hash)), "#/rules/" + RULE + "?backtest");
    assert.equal(await eng.locator("#rule-backtest h2").textContent(), lang === "en" ? "Backtest" : "回测");
    await eng.close();
  }
});

test("on a phone in Chinese an alarm is made a ticket: L2, its alarm on it, signed by the operator", async () => {
  const ops = await page("operator", "#/", "zh-CN", PHONE);
  const id = alarms[DEV[1]].id;
  const c = card(ops, id);
  await c.waitFor();
  await c.locator(".triage-rule", { hasText: "燃气浓度超过预警值" }).waitFor();
  await c.locator(".triage-clock", { hasText: /研判剩余 \d+ 分钟/ }).waitFor();
  await notWider(ops, "the operator's page on a phone");
  const { bad, text } = await englishIn(ops, "#triage-panel");
  assert.deepEqual(bad, [], "untranslated English in the triage queue: " + bad.join(", ") + "\n" + text);
  await shot(ops, "x7-04-queue-zh-phone");
  await c.locator("button.tr-ticket", { hasText: "转为工单" }).click();
  await c.waitFor({ state: "detached" });
  const said = ops.locator("#triage-result.ok", { hasText: "已生成工单" });
  await said.waitFor();
  const tk = await until("the ticket made", async () =>
    ((await api("operator", "GET", "/api/tickets?device=" + DEV[1])).data.tickets || []).find((x) => x.alarm_id === id));
  assert.equal(tk.level, 2);
  assert.match(await said.textContent(), new RegExp(tk.number));
  const full = (await api("operator", "GET", "/api/tickets/" + tk.id)).data;
  assert.ok(full.history.some((h) => h.action === "triaged" && h.actor === "ops1"), "the history says who made it a ticket");
  const a = (await api("operator", "GET", "/api/alarms")).data.alarms.find((x) => x.id === id);
  assert.equal(a.ticket_id, tk.id, "the alarm is on its ticket");
  // The board has the ticket now, live.
  await ops.locator(`#live-rows tr[data-key="alarm:${id}"] a.button`).waitFor();
  await shot(ops, "x7-05-ticket-made-zh-phone");
  await ops.close();
});

test("in Chinese an alarm is snoozed until a time picked in the estate's time, with a reason", async () => {
  const ops = await page("operator", "#/", "zh-CN", DESK);
  const id = alarms[DEV[2]].id;
  const c = card(ops, id);
  await c.locator("button.tr-snooze", { hasText: "暂缓…" }).click();
  const form = c.locator("form.tr-snooze-form");
  const until_ = form.locator("input[name=until]");
  await form.locator(".hint", { hasText: "项目当地时间" }).waitFor();
  // Two hours from now on Shanghai's wall clock (UTC+8, no summer time),
  // whatever the browser's zone (New York).
  const at = new Date(Math.ceil((Date.now() + 2 * 3600e3) / 60000) * 60000);
  const sh = new Date(at.getTime() + 8 * 3600e3).toISOString().slice(0, 16);
  await until_.fill(sh);
  await form.locator("button[type=submit]", { hasText: "暂缓" }).click();
  await form.locator(".field-error", { hasText: "请写明原因。" }).waitFor();
  await form.locator("input[name=reason]").fill("已通知燃气公司，下午上门校准");
  await form.locator("button[type=submit]").click();
  await ops.locator("#triage-result.ok", { hasText: "已暂缓至" }).waitFor();
  const snoozed = card(ops, id);
  await ops.locator(`#triage-list li[data-alarm="${id}"][data-state="snoozed"]`).waitFor();
  assert.match(await snoozed.textContent(), /暂缓至 \d\d:\d\d · 已通知燃气公司/);
  const it = (await api("operator", "GET", "/api/triage")).data.alarms.find((x) => x.alarm.id === id);
  assert.equal(it.state, "snoozed");
  assert.equal(it.decided_by, "ops1");
  assert.equal(new Date(it.snoozed_until).getTime(), at.getTime(), "the picked time read in the estate's zone");
  await shot(ops, "x7-06-snoozed-zh");
  await ops.close();
});
