// QR codes on devices and places: the operator prints the site's sheet;
// a resident scans the code on a wet leak probe with a phone (390 px),
// picks what is wrong and sends, without an account: the report joins
// the probe's open alarm ticket; the lobby's code, in Chinese, opens a
// ticket of that place; the code's allowance runs out; a changed code is
// refused.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { launch, open, shot, api, publish, BASE } from "./lib.js";

const ARTIFACTS = process.env.E2E_ARTIFACTS;
let br;

before(async () => { br = await launch(); });
after(async () => {
  assert.deepEqual(br.errors, [], "no uncaught page errors");
  await br.close();
});

async function waitTicket(pred, what) {
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    const { data } = await api("operator", "GET", "/api/tickets");
    const tk = (data.tickets || []).find(pred);
    if (tk) return tk;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("no ticket: " + what);
}

async function phonePage(lang) {
  const phone = await br.context.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  // The page speaks the browser's language (Accept-Language).
  await phone.route(/\/ack\/q(\/|$)/, (route) =>
    route.continue({ headers: { ...route.request().headers(), "accept-language": lang } }));
  const csp = [];
  phone.on("console", (m) => { if (/Content Security Policy|Refused to/.test(m.text())) csp.push(m.text()); });
  phone.csp = csp;
  return phone;
}

test("the operator sees the site's codes and downloads the sheet as PNG and PDF", async () => {
  const ops = await open(br.context, "operator", "#/codes");
  await ops.selectOption("#codes-site", "s7");
  await ops.locator("#codes-list tr", { hasText: "wl-b7-01" }).waitFor();
  await ops.locator("#codes-list tr", { hasText: "B7 大堂 lobby" }).waitFor();
  // The server draws the sheet (slow under -race): wait until the image
  // has loaded, not only until its element is there.
  await ops.waitForFunction(() => document.querySelector("#codes-sheet")?.complete && document.querySelector("#codes-sheet").naturalWidth > 0);
  const w = await ops.locator("#codes-sheet").evaluate((img) => img.naturalWidth);
  assert.ok(w >= 1000, "the sheet preview is drawn: " + w);
  await shot(ops, "40-qr-codes");
  for (const format of ["png", "pdf"]) {
    const [dl] = await Promise.all([ops.waitForEvent("download"), ops.click("#codes-" + format)]);
    assert.equal(dl.suggestedFilename(), "qr-codes-s7." + format);
    const file = path.join(ARTIFACTS, "41-qr-sheet-s7." + format);
    mkdirSync(ARTIFACTS, { recursive: true });
    await dl.saveAs(file);
    const head = (await import("node:fs")).readFileSync(file).subarray(0, 5);
    assert.equal(head.toString("latin1"), format === "png" ? "\x89PNG\r" : "%PDF-");
  }
  assert.deepEqual(ops.cspViolations, [], "no CSP violations");
  // Patrol staff may not print codes.
  const { status } = await api("patrol", "GET", "/api/sites/s7/codes");
  assert.equal(status, 403);
  await ops.close();
});

test("a resident scans the wet probe's code on a phone: the report joins the alarm's ticket", async () => {
  await publish("sites/s7/devices/wl-b7-01/telemetry", { ts: Date.now(), metrics: { leak: true, battery_pct: 80 } });
  const alarm = await waitTicket((t) => t.device_id === "wl-b7-01", "the leak alarm of wl-b7-01");
  const { data: codes } = await api("operator", "GET", "/api/sites/s7/codes");
  const probe = codes.codes.find((c) => c.device === "wl-b7-01");
  assert.ok(probe.url.startsWith(BASE + "/ack/q/"), probe.url);

  const phone = await phonePage("en-US,en;q=0.9");
  await phone.goto(probe.url);
  await phone.locator("#q-title").waitFor();
  assert.match(await phone.locator("#q-place").textContent(), /s7 \/ B7 \/ -1 \/ B7 水泵房 pump room/);
  assert.equal(await phone.locator("#q-device").textContent(), "wl-b7-01");
  assert.ok(await phone.isChecked("#q-p-leak"), "a leak probe's code picks 'Water is leaking'");
  const width = await phone.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, "no sideways scrolling at 390 px: " + width);
  await shot(phone, "42-qr-report-phone");
  // Three taps: the choice is made, a name, send.
  await phone.fill("#q-name", "Li");
  await phone.click("#q-send");
  await phone.locator("#q-done").waitFor();
  assert.match(await phone.locator("#q-done").textContent(), new RegExp("being handled already \\(ticket " + alarm.number + "\\)"));
  assert.equal(await phone.locator("#q-form").count(), 0, "one report per send: no form after it");
  await shot(phone, "43-qr-report-merged");
  const { data: tk } = await api("operator", "GET", "/api/tickets/" + alarm.id);
  const rep = tk.reporters.find((r) => r.name === "Li");
  assert.ok(rep, "the resident's report is on the alarm's ticket: " + JSON.stringify(tk.reporters));
  assert.equal(rep.source, "resident");
  assert.equal(rep.description, "Water is leaking");
  assert.ok(tk.history.some((h) => h.action === "report_merged" && h.actor === "QR code"), "history names the QR code");

  // The operator's board shows the merged report on the ticket.
  const ops = await open(br.context, "operator", "#/ticket/" + alarm.id);
  await ops.locator("text=Water is leaking").first().waitFor();
  await shot(ops, "44-qr-report-on-ticket");
  await ops.close();

  // Second report by the code is taken, the third refused (2 an hour).
  await phone.goto(probe.url);
  await phone.click("#q-send");
  await phone.locator("#q-done").waitFor();
  await phone.goto(probe.url);
  await phone.click("#q-send");
  await phone.locator("#q-error").waitFor();
  assert.match(await phone.locator("#q-error").textContent(), /several reports just now; try again in \d+ minutes/);
  await shot(phone, "45-qr-report-limited");
  assert.deepEqual(phone.csp, [], "no CSP violations");
  await phone.close();
});

test("the lobby's code in Chinese opens a ticket of that place; a changed code is refused", async () => {
  const { data: codes } = await api("operator", "GET", "/api/sites/s7/codes");
  const lobby = codes.codes.find((c) => c.location === "B7 大堂 lobby");
  const phone = await phonePage("zh-CN,zh;q=0.9");
  await phone.goto(lobby.url);
  await phone.locator("#q-title", { hasText: "在此报修" }).waitFor();
  assert.equal(await phone.evaluate(() => document.documentElement.lang), "zh-CN");
  assert.equal(await phone.locator("#q-device").count(), 0);
  // Nothing chosen: the page asks.
  await phone.click("#q-send");
  await phone.locator("#q-error", { hasText: "请选择出了什么问题" }).waitFor();
  await phone.check("#q-p-damage");
  await phone.fill("#q-details", "大门玻璃破裂");
  await shot(phone, "46-qr-report-zh");
  await phone.click("#q-send");
  await phone.locator("#q-done", { hasText: "您的报修单号为" }).waitFor();
  await shot(phone, "47-qr-report-zh-created");
  const tk = await waitTicket((t) => t.location === "B7 大堂 lobby", "the lobby's ticket");
  assert.equal(tk.site, "s7");
  assert.equal(tk.building, "B7");
  assert.equal(tk.floor, "1");
  assert.equal(tk.category, "civil");
  assert.equal(tk.source, "resident");
  assert.equal(tk.description, "损坏: 大门玻璃破裂");

  const [body, sig] = new URL(lobby.url).pathname.split("/").pop().split(".");
  const forged = BASE + "/ack/q/" + body.slice(0, -2) + "AA." + sig;
  const resp = await phone.goto(forged);
  assert.equal(resp.status(), 403);
  await phone.locator("#ack-refused", { hasText: "此二维码无效" }).waitFor();
  assert.deepEqual(phone.csp, [], "no CSP violations");
  await phone.close();
});
