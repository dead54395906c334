// The reporter's side of a resolved repair: the "work done" SMS carries a
// link that opens, on a phone, a page where the owner confirms the work
// (or disputes it) and leaves the callback score; nothing else.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, shot, api, BASE } from "./lib.js";

const SMS = process.env.E2E_SMS_URL;
const PHONE = "+8613900000055";
let br;

before(async () => { br = await launch(); });
after(async () => {
  assert.deepEqual(br.errors, [], "no uncaught page errors");
  await br.close();
});

// linkFor polls the SMS gateway until the reporter's message with the
// link of ticket number arrived.
async function linkFor(number) {
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    const msgs = (await (await fetch(SMS)).json()) || [];
    for (const m of msgs) {
      const found = m.phone === PHONE && m.text.includes(number) && m.text.match(/https?:\/\/\S+\/ack\/r\/[A-Za-z0-9_.-]+/);
      if (found) return found[0];
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("no SMS with the reporter's link for " + number);
}

async function act(role, id, body) {
  const { status, data } = await api(role, "POST", `/api/tickets/${id}/actions`, body);
  assert.equal(status, 200, body.action + ": " + JSON.stringify(data));
  return data;
}

test("the reporter's link opens the resolved repair on a phone and confirms it with a score", async () => {
  const { status, data: tk } = await api("operator", "POST", "/api/tickets", {
    source: "phone", category: "water_electric", site: "s1", building: "B8", scope: "public",
    location: "B8 stair light", description: "stair light out on floor 2", reporter: { name: "Chen", phone: PHONE },
  });
  assert.equal(status, 201, JSON.stringify(tk));
  await act("technician", tk.id, { action: tk.status === "dispatched" ? "accept" : "claim" });
  await act("technician", tk.id, { action: "arrive" });
  await act("technician", tk.id, { action: "resolve", note: "new lamp fitted" });
  const link = await linkFor(tk.number);
  assert.ok(link.startsWith(BASE + "/ack/r/"), "link under the server: " + link);

  const phone = await br.context.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  const csp = [];
  phone.on("console", (m) => { if (/Content Security Policy|Refused to/.test(m.text())) csp.push(m.text()); });
  await phone.goto(link);
  await phone.locator("#rl-ticket", { hasText: tk.number }).waitFor();
  assert.equal(await phone.evaluate(() => document.documentElement.lang), "en");
  assert.match(await phone.locator("#rl-place").textContent(), /B8 stair light/);
  assert.equal(await phone.locator("#rl-resolution").textContent(), "new lamp fitted");
  await shot(phone, "30-reporter-link");
  await phone.check("#rl-score-4");
  await phone.fill("#rl-note", "bright again");
  await phone.click("#rl-confirm");
  await phone.locator("#rl-done").waitFor();
  assert.match(await phone.locator("#rl-done").textContent(), /you confirmed the work\. Your score: 4\/5/);
  assert.equal(await phone.locator("#rl-form").count(), 0);
  await shot(phone, "31-reporter-link-confirmed");
  assert.deepEqual(csp, [], "no CSP violations");

  const { data: after } = await api("operator", "GET", "/api/tickets/" + tk.id);
  assert.equal(after.status, "closed");
  assert.equal(after.outcome, "confirmed");
  assert.equal(after.score, 4);
  const rows = after.history.filter((h) => h.role === "reporter_link");
  assert.deepEqual(rows.map((h) => h.action), ["confirm", "callback"]);
  for (const h of rows) assert.equal(h.actor, "Chen");
  assert.match(rows[1].note, /bright again/);

  // Opened again (in Chinese): settled, no form; the token opens no API.
  await phone.route(BASE + "/ack/r/**", (route) =>
    route.continue({ headers: { ...route.request().headers(), "accept-language": "zh-CN,zh;q=0.9" } }));
  await phone.goto(link);
  await phone.locator("#rl-done").waitFor();
  assert.equal(await phone.evaluate(() => document.documentElement.lang), "zh-CN");
  assert.match(await phone.locator("#rl-ticket").textContent(), /您的报修/);
  assert.match(await phone.locator("#rl-done").textContent(), /已处理完结.*4\/5/);
  assert.equal(await phone.locator("form").count(), 0);
  await shot(phone, "32-reporter-link-settled-zh-CN");
  await phone.close();
  const token = decodeURIComponent(link.slice((BASE + "/ack/r/").length));
  const resp = await fetch(BASE + "/api/tickets/" + tk.id, { headers: { Authorization: "Bearer " + token } });
  assert.equal(resp.status, 401, "the reporter's token on the API");
});
