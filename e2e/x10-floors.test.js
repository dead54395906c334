// The floor view: where the live faults are. Site s11 has buildings F1
// (floors 3 and B1) and F2 (floor 1), devices of this file only. The
// admin uploads a plan of F1 floor 3 (a text file named .png is refused
// first) and places gas-x10-01 on it by clicking; a gas alarm arrives over
// MQTT; on the operator's open page the floor turns red without a
// reload, the device's marker turns red, and the floor's list links to
// the alarm's ticket. In English and Chinese, on a desktop (1440×900)
// and a phone (390×844) with no sideways scrolling; the engineer and the
// manager may look too.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { launch, open, shot, api, publish, until, hideBanner } from "./lib.js";

const DESKTOP = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };

let br;
before(async () => { br = await launch(); });
after(async () => {
  assert.deepEqual(br.errors, [], "no uncaught page errors");
  await br.close();
});

// png makes a w×h PNG: a light grey plan with darker walls.
function png(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const raw = Buffer.alloc((w + 1) * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) raw[y * (w + 1) + 1 + x] = x % 100 < 3 || y % 80 < 3 ? 90 : 235;
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr),
    chunk("IDAT", zlib.deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

const cell = (page, building, floor) => page.locator(`#floors-grid button.floor-cell[data-building="${building}"][data-floor="${floor}"]`);

async function openFloors(role, viewport) {
  const page = await open(br.context, role, "#/floors", viewport);
  await page.waitForSelector("#floors-grid");
  await page.selectOption("#floors-site", "s11");
  await cell(page, "F1", "3").waitFor();
  return page;
}

async function noSidewaysScroll(page, what) {
  const [sw, iw] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(sw <= iw, `${what}: the page is ${sw}px wide on a ${iw}px screen`);
}

let ticketId = 0;

test("the admin uploads a floor plan (a text file is refused) and places a device on it by clicking", async () => {
  const page = await openFloors("admin", DESKTOP);
  // The floors from the top down, the buildings as columns.
  assert.deepEqual(await page.locator("#floors-grid tbody th").evaluateAll((els) => els.map((e) => e.textContent)), ["3", "1", "B1"]);
  assert.deepEqual(await page.locator("#floors-grid thead th").evaluateAll((els) => els.map((e) => e.textContent)), ["Floor", "F1", "F2"]);
  assert.equal(await page.locator("#floors-grid td.empty-cell").count(), 3, "F2 has no floor 3 or B1, F1 no floor 1");
  await cell(page, "F1", "3").click();
  await page.locator("#floor-no-plan", { hasText: "This floor has no plan yet." }).waitFor();
  await page.locator("#floor-devices li[data-device=gas-x10-01]").waitFor();

  await page.setInputFiles("#plan-file", { name: "plan.png", mimeType: "image/png", buffer: Buffer.from("<svg onload=alert(1)>") });
  await page.click("#plan-upload button[type=submit]");
  await page.locator("#floor-result.error", { hasText: "That is not a PNG or JPEG image." }).waitFor();

  // The file chosen stays chosen while events redraw the floor: here a
  // report on this floor, seen on the page before the button is pressed.
  await page.setInputFiles("#plan-file", { name: "f1-3.png", mimeType: "image/png", buffer: png(600, 400) });
  const cellBefore = await cell(page, "F1", "3").getAttribute("aria-label");
  const { status: made, data: report } = await api("operator", "POST", "/api/tickets", { source: "phone", category: "civil", level: 3, site: "s11",
    building: "F1", floor: "3", scope: "public", location: "F1 3rd floor corridor", description: "x10 loose handrail" });
  assert.equal(made, 201, JSON.stringify(report));
  await until("the report on the floor's cell", async () => (await cell(page, "F1", "3").getAttribute("aria-label")) !== cellBefore);
  await page.click("#plan-upload button[type=submit]");
  const answer = page.locator("#floor-result", { hasText: /Floor plan saved\.|Choose an image first\./ });
  await answer.waitFor();
  assert.equal(await answer.textContent(), "Floor plan saved.", "the file chosen before the redraw was sent");
  const cancelled = await api("operator", "POST", `/api/tickets/${report.id}/actions`, { action: "cancel", reason: "x10: a report to redraw the floor" });
  assert.equal(cancelled.status, 200, JSON.stringify(cancelled.data));
  await until("the report gone from the floor's cell", async () => (await cell(page, "F1", "3").getAttribute("aria-label")) === cellBefore);
  await page.waitForFunction(() => { const i = document.querySelector("#floor-plan"); return i && i.complete && i.naturalWidth === 600; });

  await page.selectOption("#place-device", "gas-x10-01");
  await page.locator("#floor-result", { hasText: "Now click on the plan where gas-x10-01 is." }).waitFor();
  const box = await page.locator("#floor-plan").boundingBox();
  await page.mouse.click(box.x + box.width * 0.25, box.y + box.height * 0.4);
  await page.locator("#floor-result.ok", { hasText: "gas-x10-01 placed." }).waitFor();
  const marker = page.locator("#plan-box .marker[data-device=gas-x10-01]");
  await marker.waitFor();
  assert.notEqual(await marker.getAttribute("data-state"), "l1", "no alarm yet");
  // Where the click was, as fractions of the plan, kept by the server.
  const { data } = await api("admin", "GET", "/api/floors?site=s11");
  const dev = data.sites[0].devices.find((d) => d.device_id === "gas-x10-01");
  assert.ok(Math.abs(dev.x - 0.25) < 0.02 && Math.abs(dev.y - 0.4) < 0.02, JSON.stringify(dev));
  const mb = await marker.locator(".marker-dot").boundingBox();
  assert.ok(Math.abs(mb.x + mb.width / 2 - (box.x + box.width * 0.25)) < 3, "the marker sits where the click was");
  assert.equal(page.cspViolations.length, 0, page.cspViolations.join("\n"));
  await shot(page, "x10-01-admin-placed");
  await page.close();
});

test("an alarm over MQTT turns the floor and its device's marker red live, and the list links to the ticket", async () => {
  const page = await openFloors("operator", DESKTOP);
  await hideBanner(page);
  await cell(page, "F1", "3").click();
  const marker = page.locator("#plan-box .marker[data-device=gas-x10-01]");
  await marker.waitFor();
  assert.equal(await page.locator("#plan-upload").count(), 0, "an operator uploads no plans");
  assert.equal(await page.locator("#place-device").count(), 0, "an operator places no devices");
  assert.notEqual(await cell(page, "F1", "3").getAttribute("data-state"), "l1");

  const t0 = Date.now();
  await publish("sites/s11/devices/gas-x10-01/telemetry", { ts: t0 - 60000, metrics: { lel_pct: 4.1, co_ppm: 2, fault: false } });
  await publish("sites/s11/devices/gas-x10-01/telemetry", { ts: t0, metrics: { lel_pct: 35.5, co_ppm: 3, fault: false } });
  await page.locator('#floors-grid button.floor-cell[data-building="F1"][data-floor="3"][data-state="l1"]').waitFor();
  await page.locator("#plan-box .marker[data-device=gas-x10-01][data-state=l1]").waitFor();
  assert.match(await cell(page, "F1", "3").textContent(), /L1 emergency: 1/);
  assert.notEqual(await cell(page, "F2", "1").getAttribute("data-state"), "l1", "the other building stays as it was");
  const tk = await until("the alarm's ticket", async () => {
    const { data } = await api("operator", "GET", "/api/tickets?limit=1000");
    return data.tickets.find((x) => x.device_id === "gas-x10-01" && x.level === 1);
  });
  ticketId = tk.id;
  const link = page.locator(`#floor-faults a[href="#/ticket/${tk.id}"]`);
  await link.waitFor();
  // Every open ticket of the floor is counted (a detector silent since
  // the suite began may have an offline ticket too).
  await until("the floor's open tickets counted", async () => {
    const { data } = await api("operator", "GET", "/api/tickets?limit=1000");
    const n = data.tickets.filter((x) => x.device_id === "gas-x10-01" && ["new", "dispatched", "accepted", "on_site"].includes(x.status)).length;
    return (await cell(page, "F1", "3").textContent()).includes("Open tickets: " + n);
  }, 10000);
  await noSidewaysScroll(page, "desktop");
  await shot(page, "x10-02-operator-red-live");

  // In Chinese: the same floor, the same counts, in Chinese words.
  await page.click("#lang");
  await page.locator("#view h2", { hasText: "楼层分布" }).waitFor();
  await page.locator("#nav a[data-nav=floors]", { hasText: "楼层分布" }).waitFor();
  await cell(page, "F1", "3").click();
  await page.locator('#floors-grid button.floor-cell[data-building="F1"][data-floor="3"]', { hasText: "一级紧急告警：1" }).waitFor();
  await page.locator("#floor-detail h4", { hasText: "本层实时故障" }).waitFor();
  await page.locator(`#floor-faults a[href="#/ticket/${tk.id}"]`, { hasText: "工单" }).waitFor();
  await page.locator("#plan-box .marker[data-device=gas-x10-01][data-state=l1]").waitFor();
  await shot(page, "x10-03-operator-zh-CN");
  await page.click("#lang");
  await page.locator("#view h2", { hasText: "Floors" }).waitFor();

  // The link opens the ticket.
  await cell(page, "F1", "3").click();
  await page.click(`#floor-faults a[href="#/ticket/${tk.id}"]`);
  await page.waitForFunction((id) => location.hash === "#/ticket/" + id, tk.id);
  await page.locator("#view", { hasText: tk.number }).waitFor();
  assert.equal(page.cspViolations.length, 0, page.cspViolations.join("\n"));
  await page.close();
});

test("on a phone (390 px) the floor view shows the same, in English and Chinese, with no sideways scrolling", async () => {
  assert.ok(ticketId, "the alarm test ran first");
  const page = await openFloors("operator", PHONE);
  await hideBanner(page);
  await page.locator('#floors-grid button.floor-cell[data-building="F1"][data-floor="3"][data-state="l1"]').waitFor();
  await noSidewaysScroll(page, "phone, the grid");
  await cell(page, "F1", "3").click();
  await page.locator("#plan-box .marker[data-device=gas-x10-01][data-state=l1]").waitFor();
  await page.locator(`#floor-faults a[href="#/ticket/${ticketId}"]`).waitFor();
  await page.waitForFunction(() => { const i = document.querySelector("#floor-plan"); return i && i.complete && i.naturalWidth === 600; });
  const img = await page.locator("#floor-plan").boundingBox();
  assert.ok(img.width <= PHONE.width, "the plan fits the screen: " + img.width);
  await noSidewaysScroll(page, "phone, the plan");
  await shot(page, "x10-04-phone");
  // A floor without a plan lists its devices.
  await cell(page, "F2", "1").click();
  await page.locator("#floor-no-plan").waitFor();
  await page.locator("#floor-devices li[data-device=gas-x10-03]").waitFor();
  await page.click("#lang");
  await page.locator("#floor-no-plan", { hasText: "本层还没有平面图。" }).waitFor();
  await page.locator("#floor-detail h4", { hasText: "本层设备" }).waitFor();
  await noSidewaysScroll(page, "phone, zh-CN");
  await cell(page, "F1", "3").click();
  await page.locator('#floors-grid button.floor-cell[data-building="F1"][data-floor="3"]', { hasText: "一级紧急告警：1" }).waitFor();
  await page.locator("#plan-box .marker[data-device=gas-x10-01][data-state=l1]").waitFor();
  await noSidewaysScroll(page, "phone, zh-CN plan");
  await shot(page, "x10-05-phone-zh-CN");
  await page.click("#lang");
  await page.close();
});

test("the engineer and the manager may look (the engineer may place, not upload)", async () => {
  for (const role of ["engineer", "manager"]) {
    const page = await openFloors(role, DESKTOP);
    await page.locator("#nav a[data-nav=floors][aria-current=page]").waitFor();
    await page.locator('#floors-grid button.floor-cell[data-building="F1"][data-floor="3"][data-state="l1"]').waitFor();
    await cell(page, "F1", "3").click();
    await page.locator("#plan-box .marker[data-device=gas-x10-01][data-state=l1]").waitFor();
    assert.equal(await page.locator("#plan-upload").count(), 0, role + " uploads no plans");
    assert.equal(await page.locator("#place-device").count(), role === "engineer" ? 1 : 0, role + " placing");
    await shot(page, "x10-06-" + role);
    await page.close();
  }
  assert.equal((await api("engineer", "PUT", "/api/floors/plan?site=s11&building=F1&floor=3", undefined)).status, 403, "an engineer uploads no plans");
  assert.equal((await api("manager", "PUT", "/api/devices/gas-x10-03/position", { x: 0.5, y: 0.5 })).status, 403, "a manager places no devices");
});
