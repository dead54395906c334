// Paging as people see it: the webhook page's ack_url opened on a phone
// shows the ticket and acknowledges it with one button (and nothing
// else), the later step is not paged, and the control room's board says
// who was paged, when and by which channel, live.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, open, shot, publish, api, BASE } from "./lib.js";

const PAGES = process.env.E2E_PAGES_URL;
let br;

before(async () => { br = await launch(); });
after(async () => {
  assert.deepEqual(br.errors, [], "no uncaught page errors");
  await br.close();
});

async function pages() {
  const resp = await fetch(PAGES);
  return (await resp.json()) || [];
}

// waitPage polls the receiver until a page matching pred arrived.
async function waitPage(pred, what) {
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    const p = (await pages()).find((c) => c.answer === 200 && pred(c.body));
    if (p) return p.body;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("no page: " + what);
}

async function ticketOf(device) {
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    const { data } = await api("operator", "GET", "/api/tickets");
    // The L1 sensor ticket (a detector silent since the suite began may
    // also have an L2 "offline" alarm, in the triage queue).
    const t = data.tickets.find((x) => x.level === 1 && x.source === "sensor" && (x.device_id === device || (x.alarm_id || "").startsWith(device + "/")));
    if (t) return t;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("no ticket for " + device);
}

let acked;

test("the ack_url of a page opens the ticket on a phone and acknowledges it", async () => {
  await publish("sites/s1/devices/gas-b4-01/telemetry", { ts: Date.now(), metrics: { lel_pct: 36, co_ppm: 3, fault: false } });
  const tk = await ticketOf("gas-b4-01");
  acked = tk;
  const page = await waitPage((b) => b.ticket.id === tk.id && b.recipient.name === "tech1" && b.ack_url, "tech1 with ack_url");
  assert.ok(page.ack_url.startsWith(BASE + "/ack/"), "ack_url under the server: " + page.ack_url);

  const phone = await br.context.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  const csp = [];
  phone.on("console", (m) => { if (/Content Security Policy|Refused to/.test(m.text())) csp.push(m.text()); });
  await phone.goto(page.ack_url);
  await phone.locator("#ack-ticket", { hasText: tk.number }).waitFor();
  assert.match(await phone.locator("#ack-ticket").textContent(), /L1 emergency/);
  assert.match(await phone.locator("#ack-place").textContent(), /B4 laundry/);
  assert.equal(await phone.locator("#ack-person").textContent(), "tech1");
  await shot(phone, "20-ack-link");
  await phone.click("#ack-button");
  await phone.locator("#ack-done").waitFor();
  assert.match(await phone.locator("#ack-done").textContent(), /Acknowledged/);
  assert.equal(await phone.locator("#ack-button").count(), 0);
  await shot(phone, "21-ack-link-done");
  assert.deepEqual(csp, [], "no CSP violations");
  await phone.close();

  const { data } = await api("operator", "GET", "/api/tickets/" + tk.id);
  const row = data.history.find((h) => h.action === "acknowledged");
  assert.ok(row, "history has the acknowledgement");
  assert.equal(row.actor, "tech1");
  assert.equal(row.role, "ack_link");

  // The link's token opens nothing else.
  const token = decodeURIComponent(page.ack_url.slice((BASE + "/ack/").length));
  for (const p of ["/api/tickets", "/api/tickets/" + tk.id, "/api/alarms", "/api/me"]) {
    const resp = await fetch(BASE + p, { headers: { Authorization: "Bearer " + token } });
    assert.equal(resp.status, 401, p + " with the ack token");
  }
  const resp = await fetch(BASE + "/api/tickets/" + tk.id + "/actions", {
    method: "POST", headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: JSON.stringify({ action: "cancel", reason: "x" }),
  });
  assert.equal(resp.status, 401, "acting with the ack token");
});

test("another person's link speaks their language; a changed link is refused with a page that says so", async () => {
  // desk's language is zh-CN (the default): the page is in Chinese, and
  // says tech1's acknowledgement already counts.
  const page = await waitPage((b) => b.ticket.id === acked.id && b.recipient.name === "desk" && b.ack_url, "desk with ack_url");
  const phone = await br.context.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(page.ack_url);
  await phone.locator("#ack-ticket", { hasText: acked.number }).waitFor();
  assert.equal(await phone.evaluate(() => document.documentElement.lang), "zh-CN");
  assert.match(await phone.locator("#ack-ticket").textContent(), /一级紧急/);
  assert.match(await phone.locator("#ack-done").textContent(), /已有人确认/);
  assert.equal(await phone.locator("#ack-button").count(), 0);
  await shot(phone, "22-ack-link-zh-CN");
  // One character changed: refused (in the browser's language).
  const token = page.ack_url.slice((BASE + "/ack/").length);
  const dot = token.lastIndexOf(".") + 1; // change the signature's first character
  const bad = token.slice(0, dot) + (token[dot] === "A" ? "B" : "A") + token.slice(dot + 1);
  const resp = await phone.goto(BASE + "/ack/" + bad);
  assert.equal(resp.status(), 403);
  assert.match(await phone.locator("#ack-refused").textContent(), /not valid/);
  assert.equal(await phone.locator("form").count(), 0);
  await shot(phone, "23-ack-link-refused");
  await phone.close();
});

test("the acknowledged ticket's later step never fires", async () => {
  // A control ticket opened after the acknowledgement: once its second
  // step (4 s) is paged, the acknowledged ticket's, due before it, would
  // have been too.
  await publish("sites/s1/devices/gas-b5-01/telemetry", { ts: Date.now(), metrics: { lel_pct: 36, co_ppm: 3, fault: false } });
  const ctl = await ticketOf("gas-b5-01");
  await waitPage((b) => b.ticket.id === ctl.id && b.step === "2", "the control ticket's step 2");
  const later = (await pages()).filter((c) => c.body.ticket.id === acked.id && c.body.step !== "1");
  assert.deepEqual(later, [], "no later step paged for the acknowledged ticket");
});

test("the board says who was paged, when and how each channel fared, live, in English and Chinese", async () => {
  const HOOK_DOWN = PAGES.replace(/\/pages$/, "/hook-down");
  const ops = await open(br.context, "operator");
  await fetch(HOOK_DOWN + "?down=1", { method: "POST" });
  try {
    await publish("sites/s1/devices/gas-b6-01/telemetry", { ts: Date.now(), metrics: { lel_pct: 36, co_ppm: 3, fault: false } });
    const tk = await ticketOf("gas-b6-01");
    const line = ops.locator(`#live-rows .paged[data-ticket="${tk.id}"]`);
    // The webhook refuses: screen delivered, hook retrying.
    await line.locator('.paged-ch[data-channel="hook"][data-state="retrying"]').waitFor();
    await line.locator('.paged-ch[data-channel="screen"][data-state="sent"]').waitFor();
    const text = await line.textContent();
    assert.match(text, /^paged (tech1, desk|desk, tech1) · \d\d:\d\d · /, text);
    assert.match(text, /screen ✓/);
    assert.match(text, /hook ✗ \(retrying\)/);
    await shot(ops, "24-board-paged-retrying");
    await ops.click("#lang");
    await line.locator(".paged-who", { hasText: "已通知" }).waitFor();
    assert.match(await line.textContent(), /hook ✗ （?\(?重试中/);
    await ops.click("#lang");
    // The receiver takes pages again: the line turns without a reload.
    await fetch(HOOK_DOWN + "?down=0", { method: "POST" });
    await line.locator('.paged-ch[data-channel="hook"][data-state="sent"]').waitFor({ timeout: 15000 });
    assert.match(await line.textContent(), /hook ✓/);
    await shot(ops, "25-board-paged-delivered");
  } finally {
    await fetch(HOOK_DOWN + "?down=0", { method: "POST" });
    await ops.close();
  }
});

test("the control room shows who is on duty now, by the rosters, in English and Chinese", async () => {
  const ops = await open(br.context, "operator");
  const person = ops.locator('#duty-panel .duty-person[data-name="tech1"]');
  await person.waitFor();
  assert.match(await person.textContent(), /tech1 · z1/);
  assert.match(await ops.locator("#duty-note").textContent(), /By the rosters/);
  assert.equal(await ops.locator("#duty-note").getAttribute("data-source"), "rosters");
  const { data } = await api("operator", "GET", "/api/duty");
  assert.deepEqual(data.people.map((p) => p.name), ["tech1"]);
  await ops.click("#lang");
  await ops.locator("#duty-h", { hasText: "当前值班" }).waitFor();
  await ops.locator("#duty-note", { hasText: "按排班表" }).waitFor();
  await shot(ops, "26-board-on-duty-zh-CN");
  await ops.click("#lang");
  await ops.close();
});
