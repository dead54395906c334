// The archive searched by house, fault type and time (the server does the
// searching, the filters stay in the address); the alarm search; the
// phone report whose building, unit, floor and room come from the site's
// lists, its send button where the thumb is; the technician's card with
// age, clock and a call to the reporter. Site s10 (东区) and its device
// gas-x8-01 are this file's own. In English and Chinese.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, open, shot, api, publish, until, BASE, TOKENS } from "./lib.js";

const PHONE = { width: 390, height: 844 };
const RUN = "x8" + Date.now().toString(36); // a word only this run's tickets have
let br;
const made = {};

// day: the site's date (Asia/Shanghai) of now plus days.
function day(days) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date(Date.now() + days * 86400e3));
}

before(async () => {
  br = await launch({ timezoneId: "America/New_York" }); // the page reads dates in the site's zone, not the browser's
  for (const [key, r] of Object.entries({
    leak: { category: "water_electric", building: "10号楼", unit: "2", room: "1201", floor: "12", scope: "in_home", location: "bathroom", description: RUN + " basin leak under the sink" },
    crack: { category: "civil", building: "10号楼", unit: "1", room: "1201", floor: "12", scope: "in_home", location: "bedroom", description: RUN + " ceiling crack" },
    door: { category: "equipment", building: "会所", scope: "public", location: "entrance", description: RUN + " door closer broken" },
  })) {
    const { status, data } = await api("operator", "POST", "/api/tickets", Object.assign({ source: "phone", site: "s10", level: 2, reporter: { name: "Feng", phone: "+8613900000801" } }, r));
    assert.equal(status, 201, JSON.stringify(data));
    made[key] = data;
  }
});
after(async () => {
  assert.deepEqual(br.errors, [], "no uncaught page errors");
  await br.close();
});

// found waits for the search's answer and returns the ticket numbers shown.
async function found(page, list = "#ts-results", count = "#ts-count") {
  await page.locator(count + "[data-found]").waitFor();
  return page.locator(list + " li").evaluateAll((els) => els.map((e) => e.dataset.number || e.dataset.device));
}

async function search(page, fields) {
  for (const [sel, v] of Object.entries(fields)) {
    const el = page.locator(sel);
    if ((await el.evaluate((e) => e.tagName)) === "SELECT") await el.selectOption(v);
    else await el.fill(v);
  }
  await page.evaluate(() => { for (const el of document.querySelectorAll(".search-count")) delete el.dataset.found; });
  await page.locator(Object.keys(fields)[0]).evaluate((e) => e.form.requestSubmit());
}

test("the control room searches the archive by text, fault type, house and date, kept in the address (en, zh-CN)", async () => {
  const ops = await open(br.context, "operator", "#/");
  await ops.locator("#archive").waitFor();
  await search(ops, { "#ts-q": RUN + " LEAK" });
  assert.deepEqual(await found(ops), [made.leak.number], "text, any case, every word");
  await search(ops, { "#ts-q": RUN, "#ts-category": "civil" });
  assert.deepEqual(await found(ops), [made.crack.number], "fault type");
  await search(ops, { "#ts-category": "", "#ts-building": "10号楼", "#ts-unit": "2", "#ts-room": "1201" });
  assert.deepEqual(await found(ops), [made.leak.number], "the house: building, unit and room");
  await search(ops, { "#ts-unit": "", "#ts-room": "", "#ts-from": day(0), "#ts-to": day(0) });
  assert.deepEqual((await found(ops)).sort(), [made.leak.number, made.crack.number].sort(), "today, the site's day");
  await search(ops, { "#ts-building": "", "#ts-from": day(-3), "#ts-to": day(-1) });
  assert.deepEqual(await found(ops), [], "nothing in the days before");
  await ops.locator("#ts-count", { hasText: "No tickets match these filters." }).waitFor();
  await shot(ops, "80-archive-empty");

  // The filters are in the address: a reload shows the same search.
  await search(ops, { "#ts-q": RUN + " crack", "#ts-site": "s10", "#ts-from": "", "#ts-to": "" });
  assert.deepEqual(await found(ops), [made.crack.number]);
  assert.match(await ops.evaluate(() => location.hash), /^#\/\?q=x8.*&site=s10/);
  await ops.reload();
  await ops.locator("#ts-count[data-found]").waitFor();
  assert.equal(await ops.inputValue("#ts-q"), RUN + " crack", "the text is kept");
  assert.equal(await ops.inputValue("#ts-site"), "s10", "the site is kept");
  assert.deepEqual(await found(ops), [made.crack.number], "the same answer after a reload");
  await ops.locator(`#ts-results a[href="#/ticket/${made.crack.id}"]`).waitFor();

  // Chinese.
  await ops.click("#lang");
  await ops.locator("#archive-h", { hasText: "工单档案查询" }).waitFor();
  await search(ops, { "#ts-q": RUN, "#ts-category": "water_electric", "#ts-building": "10号楼" });
  assert.deepEqual(await found(ops), [made.leak.number]);
  await ops.locator("#ts-count", { hasText: "找到 1 条。" }).waitFor();
  await ops.locator("#ts-results .hit-cat", { hasText: "水电" }).waitFor();
  await search(ops, { "#ts-category": "gas" });
  await ops.locator("#ts-count", { hasText: "没有符合条件的工单。" }).waitFor();
  await shot(ops, "81-archive-zh");
  await ops.click("#lang");
  await ops.close();
});

// The list read as the page opens is held back until the operator's own
// search has answered; when it lands at last, the search's answer stays.
test("a search sent while the opening list is on its way keeps its answer when the older one lands last", async () => {
  const ops = await br.context.newPage();
  // In the page (a service worker's answers pass by Playwright's routes):
  // the opening list's answer is held until releaseOpening(), and each
  // /api/tickets answer taken in is noted in ticketAnswers, in a task of
  // its own, so after the code that awaited it has run.
  await ops.addInitScript(() => {
    window.ticketAnswers = [];
    let held = false;
    const fetch0 = window.fetch;
    window.fetch = async function (input, init) {
      const url = String((input && input.url) || input);
      const resp = await fetch0.call(this, input, init);
      if (!url.includes("/api/tickets?")) return resp;
      if (!held && url.endsWith("/api/tickets?limit=20&offset=0")) {
        held = true;
        await new Promise((go) => { window.releaseOpening = go; });
      }
      const text = resp.text.bind(resp);
      resp.text = () => text().then((body) => { setTimeout(() => window.ticketAnswers.push(url), 0); return body; });
      return resp;
    };
  });
  await ops.goto(BASE + "/#token=" + encodeURIComponent(TOKENS.operator));
  await ops.locator("#archive").waitFor();
  await ops.waitForFunction(() => typeof window.releaseOpening === "function"); // the opening list is answered, and held
  await search(ops, { "#ts-q": RUN + " LEAK" });
  assert.deepEqual(await found(ops), [made.leak.number], "the search's answer");
  await ops.evaluate(() => window.releaseOpening());
  await ops.waitForFunction(() => window.ticketAnswers.some((u) => u.endsWith("/api/tickets?limit=20&offset=0")));
  assert.deepEqual(await ops.locator("#ts-results li").evaluateAll((els) => els.map((e) => e.dataset.number)), [made.leak.number],
    "the opening list, landed last, did not replace the search's answer");
  assert.equal(await ops.locator("#ts-count").getAttribute("data-found"), "1");
  await ops.close();
});

test("the manager's reports page searches the archive too, on a phone without sideways scrolling", async () => {
  const pm = await open(br.context, "manager", "#/reports", PHONE);
  await pm.locator("#archive").waitFor();
  await search(pm, { "#ts-q": RUN, "#ts-building": "会所" });
  assert.deepEqual(await found(pm), [made.door.number]);
  assert.ok(await pm.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), "no horizontal overflow at 390 px");
  await shot(pm, "82-archive-manager-phone");
  await pm.close();
});

test("alarms are searched by text, level and date (en, zh-CN)", async () => {
  await publish("sites/s10/devices/gas-x8-01/telemetry", { ts: Date.now(), metrics: { lel_pct: 35, co_ppm: 2, fault: false } });
  await until("the gas-x8-01 alarm", async () => ((await api("operator", "GET", "/api/alarms?q=gas-x8-01")).data.alarms || []).length > 0);
  const ops = await open(br.context, "operator", "#/");
  await ops.locator("#alarm-archive").waitFor();
  // The gas passed the pre-alarm (L2) and the alarm (L1) levels: two
  // alarms at least (a third if the probe was reported offline before).
  await search(ops, { "#as-q": "GAS-X8" });
  const all = await found(ops, "#as-results", "#as-count");
  assert.ok(all.length >= 2 && all.every((d) => d === "gas-x8-01"), "the probe's alarms: " + all);
  await search(ops, { "#as-q": "GAS-X8 lel-critical" });
  assert.deepEqual(await found(ops, "#as-results", "#as-count"), ["gas-x8-01"], "by device and rule");
  await search(ops, { "#as-q": "GAS-X8", "#as-level": "1", "#as-from": day(0), "#as-to": day(0) });
  assert.deepEqual(await found(ops, "#as-results", "#as-count"), ["gas-x8-01"], "L1, today");
  await search(ops, { "#as-level": "3" });
  await ops.locator("#as-count", { hasText: "No alarms match these filters." }).waitFor();
  await search(ops, { "#as-level": "", "#as-from": day(-3), "#as-to": day(-1) });
  assert.deepEqual(await found(ops, "#as-results", "#as-count"), [], "nothing raised before today");
  assert.match(await ops.evaluate(() => location.hash), /aq=GAS-X8/);
  await ops.click("#lang");
  await ops.locator("#alarm-archive-h", { hasText: "告警查询" }).waitFor();
  await search(ops, { "#as-q": "GAS-X8 lel-warning", "#as-level": "2", "#as-from": "", "#as-to": "" });
  assert.deepEqual(await found(ops, "#as-results", "#as-count"), ["gas-x8-01"]);
  await ops.locator("#as-count", { hasText: "找到 1 条。" }).waitFor();
  await search(ops, { "#as-level": "3" });
  await ops.locator("#as-count", { hasText: "没有符合条件的告警。" }).waitFor();
  await ops.click("#lang");
  await ops.close();
});

// checkThumb: at the top of the page the send button is on the screen,
// clear of the banner, and what is at its middle is the button.
async function checkThumb(page) {
  await page.evaluate(() => window.scrollTo(0, 0));
  const box = await page.locator("#report-form button[type=submit]").boundingBox();
  assert.ok(box && box.y >= 0 && box.y + box.height <= PHONE.height, "the send button is on the screen: " + JSON.stringify(box));
  const banner = await page.locator("#banner").boundingBox();
  if (banner) assert.ok(box.y >= banner.y + banner.height, "the send button is below the banner: " + JSON.stringify({ box, banner }));
  assert.ok(await page.evaluate(({ x, y }) => !!document.elementFromPoint(x, y).closest("#report-form button[type=submit]"), { x: box.x + box.width / 2, y: box.y + box.height / 2 }), "nothing covers it");
  assert.ok(box.y + box.height > PHONE.height * 0.75, "it is in the bottom quarter, where the thumb is: " + JSON.stringify(box));
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), "no horizontal overflow at 390 px");
}

test("a phone report picks building, unit, floor and room from the site's lists; the send button is where the thumb is (en, zh-CN)", async () => {
  const pat = await open(br.context, "patrol", "#/report", PHONE);
  await pat.locator("#report-form").waitFor();
  await pat.locator("#report-sites option[value=s10]").waitFor({ state: "attached" }); // the sites' lists are in
  // A site with no list of buildings takes them typed.
  await pat.fill("#report-site", "s1");
  assert.equal(await pat.locator("#report-building").evaluate((e) => e.tagName), "INPUT", "s1 has no buildings listed: typed");
  await pat.selectOption("#report-category", "water_electric");
  await pat.selectOption("#report-scope", "in_home");
  await pat.fill("#report-site", "s10");
  await pat.locator("select#report-building").waitFor();
  assert.deepEqual(await pat.locator("#report-building option").evaluateAll((os) => os.map((o) => o.textContent)),
    ["Choose…", "Building 10 (10号楼)", "Clubhouse (会所)"]);
  await pat.selectOption("#report-building", "10号楼");
  await pat.selectOption("select#report-unit", "2");
  assert.ok(await pat.locator("select#report-room").isDisabled(), "the room waits for the floor");
  await pat.selectOption("select#report-floor", "12");
  assert.deepEqual(await pat.locator("#report-room option").evaluateAll((os) => os.map((o) => o.value)), ["", "1201", "1202"]);
  await pat.selectOption("select#report-room", "1202");
  await pat.fill("#report-location", "kitchen");
  await pat.fill("#report-description", RUN + " tap drips all night");
  await pat.fill("#report-phone", "+8613900000802");
  await checkThumb(pat);
  await shot(pat, "83-report-house-picked");
  await pat.locator("#report-form button[type=submit]").click();
  const number = (await pat.locator("#report-number").textContent()).match(/[A-Z]+\d{8}-\d{4}/)[0];
  const conf = await pat.locator("#report-number").boundingBox();
  assert.ok(conf.y >= 0 && conf.y + conf.height <= PHONE.height, "the confirmation is on the screen by the button: " + JSON.stringify(conf));
  const { data } = await api("operator", "GET", "/api/tickets?q=" + encodeURIComponent(number));
  const tk = data.tickets[0];
  assert.deepEqual([tk.site, tk.building, tk.unit, tk.floor, tk.room, tk.location], ["s10", "10号楼", "2", "12", "1202", "kitchen"]);
  await shot(pat, "84-report-house-sent");
  // Typed past the lists, the API refuses it, naming the field.
  for (const [k, v] of [["building", "9号楼"], ["room", "1203"]]) {
    const bad = await api("patrol", "POST", "/api/tickets", Object.assign({ source: "patrol", category: "civil", site: "s10", building: "10号楼",
      unit: "2", floor: "12", room: "1201", scope: "in_home", location: "hall", description: RUN + " typed" }, { [k]: v }));
    assert.equal(bad.status, 400, JSON.stringify(bad.data));
    assert.equal(bad.data.field, k);
  }

  // Chinese: the same lists, a public place with no units.
  await pat.click("#lang");
  await pat.locator("#report-form h2", { hasText: "报事报修" }).waitFor();
  await pat.fill("#report-site", "s10");
  await pat.locator("select#report-building").waitFor();
  assert.deepEqual(await pat.locator("#report-building option").evaluateAll((os) => os.map((o) => o.textContent)),
    ["请选择…", "10号楼", "会所"]);
  await pat.selectOption("#report-scope", "in_home");
  await pat.selectOption("#report-building", "10号楼");
  await pat.selectOption("select#report-unit", "1");
  await pat.selectOption("select#report-floor", "3");
  await pat.selectOption("select#report-room", "301");
  await pat.selectOption("#report-category", "equipment");
  await pat.fill("#report-location", "门口");
  await pat.fill("#report-description", RUN + " 门铃坏了");
  await checkThumb(pat);
  await pat.locator("#report-form button[type=submit]").click();
  await pat.locator("#report-number", { hasText: "已创建" }).waitFor();
  const zhNumber = (await pat.locator("#report-number").textContent()).match(/[A-Z]+\d{8}-\d{4}/)[0];
  const zh = (await api("operator", "GET", "/api/tickets?building=" + encodeURIComponent("10号楼") + "&unit=1&room=301")).data.tickets;
  assert.deepEqual(zh.map((x) => x.number), [zhNumber]);
  await shot(pat, "85-report-house-zh");
  await pat.click("#lang");
  await pat.close();
});

test("a building typed before the site's lists apply is picked when it names one, and said to be missing when not (en, zh-CN)", async () => {
  const pat = await open(br.context, "patrol", "#/report", PHONE);
  await pat.locator("#report-form").waitFor();
  await pat.locator("#report-sites option[value=s10]").waitFor({ state: "attached" }); // the sites' lists are in
  // Typed while the site had no list (s1), then the site with lists: the
  // building's own name picks it.
  await pat.fill("#report-site", "s1");
  await pat.locator("input#report-building").waitFor();
  await pat.fill("#report-building", "clubhouse");
  await pat.fill("#report-site", "s10");
  await pat.locator("select#report-building").waitFor();
  assert.equal(await pat.locator("#report-building").inputValue(), "会所", "the typed name picks its building");
  assert.equal(await pat.locator("#report-building").getAttribute("aria-invalid"), null);
  // A word that names none stays on the screen, with what to do.
  await pat.fill("#report-site", "s1");
  await pat.locator("input#report-building").waitFor();
  await pat.fill("#report-building", "Block Z");
  await pat.fill("#report-site", "s10");
  await pat.locator("select#report-building").waitFor();
  assert.equal(await pat.locator("#report-building").inputValue(), "");
  const note = pat.locator("label:has(#report-building) .field-error");
  assert.equal(await note.textContent(), "“Block Z” is not in this site's list: choose from it");
  assert.equal(await pat.locator("#report-building").getAttribute("aria-invalid"), "true");
  await shot(pat, "86-report-typed-not-listed");
  await pat.selectOption("#report-building", "10号楼");
  assert.equal(await note.textContent(), "", "picking one takes the note away");
  // In Chinese, the same.
  await pat.click("#lang");
  await pat.locator("#report-form h2", { hasText: "报事报修" }).waitFor();
  await pat.fill("#report-site", "s1");
  await pat.locator("input#report-building").waitFor();
  await pat.fill("#report-building", "Z座");
  await pat.fill("#report-site", "s10");
  await pat.locator("select#report-building").waitFor();
  assert.equal(await pat.locator("label:has(#report-building) .field-error").textContent(), "“Z座”不在本项目的列表中，请从列表中选择");
  await pat.click("#lang");
  await pat.close();
});

test("the technician's card shows the ticket's age, its clock and a one-tap call to the reporter (en, zh-CN)", async () => {
  const mk = async (description, phone) => {
    const { status, data } = await api("operator", "POST", "/api/tickets", { source: "phone", category: "water_electric", level: 2, site: "s10",
      building: "会所", location: "pump " + description, scope: "public", description: RUN + " " + description, reporter: { name: "Jiang", phone } });
    assert.equal(status, 201, JSON.stringify(data));
    return data;
  };
  const mine = await mk("pump noisy", "+86 139-0000-0803");
  const other = await mk("pump leaking", "+8613900000804");
  assert.equal((await api("operator", "POST", `/api/tickets/${mine.id}/actions`, { action: "assign", technician: "tech1" })).status, 200);

  const tech = await open(br.context, "technician", "#/tech", PHONE);
  const card = tech.locator(`#tech-mine article[data-ticket="${mine.id}"]`);
  await card.waitFor();
  await card.locator(".card-age", { hasText: /^Age \d/ }).waitFor();
  const sla = card.locator(".clocks .sla");
  await sla.locator("xpath=self::*[contains(., 'left') or contains(., 'overdue')]").waitFor();
  assert.ok(["claim", "arrive", "dispatch", "close"].includes(await sla.getAttribute("data-stage")), "the clock that matters: " + (await sla.getAttribute("data-stage")));
  const call = card.locator("a.call-reporter");
  assert.equal(await call.getAttribute("href"), "tel:+8613900000803");
  assert.match(await call.textContent(), /^Call Jiang · \+86 139-0000-0803$/);
  // Another technician's ticket: its reporter's phone is nowhere on
  // this page, and no card of the pool has a call link.
  assert.equal((await api("operator", "POST", `/api/tickets/${other.id}/actions`, { action: "assign", technician: "tech2" })).status, 200);
  await until("the other ticket is tech2's on the page", () => tech.evaluate((id) => !document.querySelector(`#tech-mine article[data-ticket="${id}"]`), other.id));
  assert.doesNotMatch(await tech.locator("#view").textContent(), /13900000804/, "no other technician's reporter phone");
  assert.equal(await tech.locator("#tech-pool a.call-reporter").count(), 0, "no call link on a pool card");
  assert.ok(await tech.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), "no horizontal overflow at 390 px");
  await shot(tech, "86-tech-card-clocks");
  await tech.click("#lang");
  await card.locator(".card-age", { hasText: /^时长 / }).waitFor();
  await card.locator(".clocks .sla", { hasText: /剩余|已超时/ }).waitFor();
  await card.locator("a.call-reporter", { hasText: "致电 Jiang" }).waitFor();
  await shot(tech, "87-tech-card-clocks-zh");
  await tech.click("#lang");
  await tech.close();
});
