// The engineer's page: a threshold is saved (validated, versioned), a
// backtest draws the history with the threshold line and the episodes,
// and a rollback brings the first version back. What the server answered
// must still be on the page once the redraw it triggers is done.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, open, shot, publish, api } from "./lib.js";

let br, eng;
const RULE = "gas-lel-critical";
const exactly = (text) => new RegExp("^" + text + "$");

before(async () => {
  // History for the backtest: gas-b3-01 rose past 20 % LEL twice in the
  // last quarter of an hour.
  const now = Date.now();
  const values = [3, 4, 5, 23, 27, 9, 4, 3, 24, 26, 8, 4];
  for (let i = 0; i < values.length; i++) {
    await publish("sites/s1/devices/gas-b3-01/telemetry", { ts: now - (values.length - i) * 60e3, metrics: { lel_pct: values[i], co_ppm: 1, fault: false } });
  }
  br = await launch();
  eng = await open(br.context, "engineer", "#/rules");
});
after(async () => {
  assert.deepEqual(eng.cspViolations, [], "no CSP violations");
  assert.deepEqual(br.errors, [], "no uncaught page errors");
  await br.close();
});

test("the rules page lists the rules", async () => {
  await eng.waitForSelector("#rules-table");
  await shot(eng, "10-rules-list");
  assert.equal(await eng.locator("#rules-table a", { hasText: RULE }).count(), 1);
});

test("the engineer saves a threshold, with validation and a new version", async () => {
  await eng.evaluate((id) => { location.hash = "#/rules/" + id; }, RULE);
  const value = eng.locator("#rule-form input[name='condition.value']");
  await value.waitFor();
  await value.fill("twenty");
  await eng.click("#rule-form button[type=submit]");
  await eng.locator("#rule-form .field-error", { hasText: "Must be a number." }).waitFor();
  assert.equal(await value.getAttribute("aria-invalid"), "true");
  await shot(eng, "11-rule-validation");

  // An L1 rule: the page says so; no reason, no save; with a reason it
  // asks for a confirmation first, and "Do not change" changes nothing.
  await eng.locator("#rule-l1-note", { hasText: "opens L1 (emergency) tickets" }).waitFor();
  const before = (await api("engineer", "GET", "/api/rules/" + RULE)).data.version;
  await value.fill("22");
  await eng.click("#rule-form button[type=submit]");
  await eng.locator("#rule-form .field-error", { hasText: "A reason is required to change an L1 rule." }).waitFor();
  assert.equal(await eng.locator("#rule-confirm").count(), 0, "no confirmation without a reason");
  await eng.fill("#rule-form input[name=reason]", "e2e: fewer false alarms in the kitchens");
  await eng.click("#rule-form button[type=submit]");
  await eng.locator("#rule-confirm", { hasText: "Change this L1 rule? >= 20 → >= 22" }).waitFor();
  await shot(eng, "11b-rule-l1-confirm");
  await eng.click("#rule-confirm-no");
  await eng.locator("#rule-confirm").waitFor({ state: "detached" });
  assert.equal((await api("engineer", "GET", "/api/rules/" + RULE)).data.version, before, "nothing saved without the confirmation");
  // The API refuses the same change without "confirm": the page is not the only guard.
  const refused = await api("engineer", "PUT", "/api/rules/" + RULE, Object.assign({}, (await api("engineer", "GET", "/api/rules/" + RULE)).data, { reason: "no confirm" }));
  assert.equal(refused.status, 409);
  assert.equal(refused.data.field, "confirm");
  await eng.click("#rule-form button[type=submit]");
  await eng.click("#rule-confirm-yes");
  // Saved, and the page redrawn with the new version: the answer is still there.
  const { data: saved } = await waitRule((r) => r.condition.value === 22);
  await eng.locator("#rule-form h2 .count", { hasText: exactly("v" + saved.version) }).waitFor();
  await eng.locator("#rule-versions li strong", { hasText: exactly("v" + saved.version) }).waitFor();
  assert.equal(await eng.locator("#rule-result").textContent(), "Saved as version " + saved.version + ".");
  await shot(eng, "12-rule-saved");
});

test("a backtest draws the history, the threshold and the episodes", async () => {
  if (!/#\/rules\/./.test(await eng.evaluate(() => location.hash))) {
    await eng.evaluate((id) => { location.hash = "#/rules/" + id; }, RULE);
  }
  await eng.waitForSelector("#backtest-form select[name=device] option[value='gas-b3-01']", { state: "attached" });
  await eng.selectOption("#backtest-form select[name=device]", "gas-b3-01");
  await eng.click("#backtest-form button[type=submit]");
  await eng.waitForSelector("#backtest-summary");
  await eng.waitForSelector("#backtest-chart svg path.line");
  assert.equal(await eng.locator("#backtest-chart svg line.threshold").count(), 1, "threshold line");
  assert.ok(await eng.locator("#backtest-chart svg rect.band").count() >= 1, "episodes shaded");
  assert.ok(await eng.locator("#backtest-episodes tbody tr").count() >= 1, "episodes listed");
  await shot(eng, "13-rule-backtest");
});

test("the engineer rolls back to the first version", async () => {
  const was = (await api("engineer", "GET", "/api/rules/" + RULE)).data.version;
  const v1 = eng.locator("#rule-versions li", { hasText: /^v1\b/ });
  await v1.locator("button", { hasText: "Roll back to this" }).click();
  // An L1 rule: a reason first, then the confirmation.
  await v1.locator(".rollback-form button[type=submit]").click();
  await v1.locator(".rollback-form .field-error", { hasText: "A reason is required to change an L1 rule." }).waitFor();
  await v1.locator(".rollback-form input[name=reason]").fill("e2e: the kitchens were not the cause");
  await v1.locator(".rollback-form button[type=submit]").click();
  await v1.locator("#rollback-confirm", { hasText: "Change this L1 rule?" }).waitFor();
  assert.equal((await api("engineer", "GET", "/api/rules/" + RULE)).data.version, was, "not rolled back before the confirmation");
  await shot(eng, "13b-rule-l1-rollback-confirm");
  await eng.click("#rollback-confirm-yes");
  // The server has the new version; the page has redrawn the editor and
  // the versions with it; and says what happened.
  const { data: now } = await waitRule((r) => r.version > was);
  assert.equal(now.condition.value, 20, "the first version's threshold is back");
  await eng.locator("#rule-form h2 .count", { hasText: exactly("v" + now.version) }).waitFor();
  await eng.locator("#rule-versions li strong", { hasText: exactly("v" + now.version) }).waitFor();
  assert.equal(await eng.locator("#rule-form input[name='condition.value']").inputValue(), "20");
  assert.equal(await eng.locator("#rule-result").textContent(), "Rolled back: now version " + now.version + ".");
  const hist = (await api("engineer", "GET", "/api/rules/" + RULE + "/history")).data.versions;
  assert.equal(hist[hist.length - 1].reason, "e2e: the kitchens were not the cause", "the reason is kept with the version");
  await shot(eng, "14-rule-rolled-back");
});

test("the backtest's device picker offers only the devices in the rule's scope", async () => {
  const picker = "#backtest-form select[name=device]";
  const ids = () => eng.locator(picker + " option").evaluateAll((os) => os.map((o) => o.value));
  const show = async (id) => {
    await eng.evaluate((id) => { location.hash = "#/rules/" + id; }, id);
    await eng.locator("#backtest-form[data-rule='" + id + "'][data-devices=loaded]").waitFor({ state: "attached" });
  };
  // place_type: the plant-room member takes the pump room probe, the flat member none
  await show("water-leak-offline.plant");
  assert.deepEqual(await ids(), ["wl-b1-01"]);
  await show("water-leak.flat");
  assert.deepEqual(await ids(), []);
  await eng.locator("#backtest-no-device", { hasText: "No registered device is in this rule's scope (place_type flat)." }).waitFor();
  // machine_class: lifts E3 and X9 (x9-checklist's) are class I, so the class II member has none, in both languages
  await show("elevator-vibration-high");
  assert.deepEqual(await ids(), ["el-e3", "el-x9"]);
  await show("elevator-vibration-high.class-ii");
  assert.deepEqual(await ids(), []);
  await eng.locator("#backtest-no-device", { hasText: "machine_class II" }).waitFor();
  await eng.click("#lang"); // the page is drawn again in Chinese
  await eng.locator("#backtest-no-device", { hasText: "没有已登记的设备在该规则的适用范围内（machine_class II）。" }).waitFor();
  await shot(eng, "15-rule-backtest-scope-zh-CN");
  await eng.click("#lang");
  await eng.locator("#backtest-no-device", { hasText: "No registered device" }).waitFor();
});

test("in Chinese the engineer reads the L1 warning and the confirmation", async () => {
  await eng.evaluate((id) => { location.hash = "#/rules/" + id; }, RULE);
  await eng.locator("#rule-form input[name='condition.value']").waitFor();
  await eng.click("#lang");
  await eng.locator("#rule-l1-note", { hasText: "该规则会产生一级（紧急）工单" }).waitFor();
  await eng.fill("#rule-form input[name='condition.value']", "21");
  await eng.fill("#rule-form input[name=reason]", "e2e 中文");
  await eng.click("#rule-form button[type=submit]");
  await eng.locator("#rule-confirm", { hasText: "确认修改该一级规则？" }).waitFor();
  assert.equal(await eng.locator("#rule-confirm-yes").textContent(), "确认修改一级规则");
  await shot(eng, "14b-rule-l1-confirm-zh-CN");
  await eng.click("#rule-confirm-no");
  await eng.click("#lang");
});

// waitRule polls the rule on the server until ok(rule), for 30 s.
async function waitRule(ok) {
  const deadline = Date.now() + 30000;
  for (;;) {
    const r = await api("engineer", "GET", "/api/rules/" + RULE);
    if (r.status === 200 && ok(r.data)) return r;
    if (Date.now() > deadline) throw new Error("rule " + RULE + " never as wanted: " + JSON.stringify(r.data));
    await new Promise((res) => setTimeout(res, 100));
  }
}
