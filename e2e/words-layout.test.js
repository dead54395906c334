// Every page as each user reads it: in Chinese with no English word the
// dictionary should have said (item 6), the red banner compact on a phone
// and sounding there only for the user's own work (7), no page wider than
// a 390 px phone and no control cut off at either size (8), alarms in
// plain words with units and the peak kept on the ticket (9), and every
// time in the site's time zone, whatever the browser's (11). The browser
// here lives in New York; the estate (time_zone) in Shanghai.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, shot, publish, api, track, waitLive, TOKENS } from "./lib.js";
import path from "node:path";

// view: what the screen shows (not the whole page), for the eye.
async function view(pg, name) {
  await pg.screenshot({ path: path.join(process.env.E2E_ARTIFACTS, name + ".png") });
}

const PHONE = { width: 390, height: 844 };
const DESK = { width: 1440, height: 900 };
const SIZES = [["desk", DESK], ["phone", PHONE]];

let br;
let gasTicket; // the L1 ticket of gas-b8-01's alarm
let inHome; // an in-home report, dispatched to tech1

before(async () => {
  br = await launch({ timezoneId: "America/New_York" });
  await br.context.addInitScript(() => {
    window.__tones = 0;
    const osc = AudioContext.prototype.createOscillator;
    AudioContext.prototype.createOscillator = function () { window.__tones++; return osc.call(this); };
  });
  // Gas in the B8 kitchen riser: 22.9 %LEL first, then the peak of 41.3.
  const t0 = Date.now();
  await publish("sites/s1/devices/gas-b8-01/telemetry", { ts: t0 - 2000, metrics: { lel_pct: 22.9, co_ppm: 2, fault: false } });
  gasTicket = await until("the gas ticket", async () => {
    const { data } = await api("operator", "GET", "/api/tickets?device=gas-b8-01");
    // The gas alarm's L1 ticket (the detector, silent since the suite
    // began, may also have an L2 "offline" alarm, in the triage queue).
    return (data.tickets || []).find((tk) => tk.source === "sensor" && tk.level === 1);
  });
  await publish("sites/s1/devices/gas-b8-01/telemetry", { ts: t0, metrics: { lel_pct: 41.3, co_ppm: 3, fault: false } });
  await until("the ticket keeps the peak", async () => {
    const { data } = await api("operator", "GET", "/api/tickets/" + gasTicket.id);
    return /41\.3/.test(data.description) && data;
  });
  // A leak and an entrapment: three L1s at once.
  await publish("sites/s1/devices/wl-b1-01/telemetry", { ts: t0, metrics: { leak: true, battery_pct: 80 } });
  await publish("sites/s1/devices/el-e3/event", { ts: t0, event: "entrapment", active: true });
  await until("three active L1 alarms", async () => {
    const { data } = await api("operator", "GET", "/api/alarms?state=active");
    return (data.alarms || []).filter((a) => a.level === 1 && !a.shadow).length >= 3;
  });
  // In-home work for the technician, and a public report beside it.
  const r = await api("operator", "POST", "/api/tickets", {
    source: "phone", category: "water_electric", site: "s1", building: "B7", location: "kitchen", scope: "in_home",
    unit: "2", floor: "12", room: "1201", description: "tap drips under the sink", reporter: { name: "Wang", phone: "13900000000" },
  });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  inHome = r.data;
  const p = await api("patrol", "POST", "/api/tickets", {
    source: "patrol", category: "public_area", site: "s1", building: "B7", location: "B7 lobby door", scope: "public",
    description: "lobby door closer broken", reporter: { name: "pat1", phone: "" },
  });
  assert.ok(p.status === 201 || p.status === 200, JSON.stringify(p.data));
});

after(async () => {
  assert.deepEqual(br.errors, [], "no uncaught page errors");
  await br.close();
});

// until polls fn until it answers something truthy, up to a deadline.
async function until(what, fn, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out waiting for " + what);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

// page opens a role's page in a language at a size.
async function page(role, hash, lang, size) {
  const pg = await br.context.newPage();
  await pg.addInitScript((l) => localStorage.setItem("caretaker.lang", l), lang);
  await pg.setViewportSize(size);
  track(pg);
  await pg.goto(process.env.CARETAKER_URL + "/#token=" + encodeURIComponent(TOKENS[role]));
  await waitLive(pg);
  await pg.evaluate((h) => { if (location.hash !== h) location.hash = h; }, hash);
  return pg;
}

// The words a person reads that are data, not the dictionary's: what was
// configured (places, device ids, names, channels) and what people typed.
async function dataWords() {
  const words = new Set(["ops1", "pat1", "tech1", "eng1", "desk", "screen", "hook", "sms", "Wang"]);
  const { data: dev } = await api("operator", "GET", "/api/devices");
  for (const d of dev.devices || []) for (const v of [d.id, d.location, d.building, d.zone, d.site]) if (v) words.add(v);
  const { data: tl } = await api("operator", "GET", "/api/tickets?limit=1000");
  for (const tk of tl.tickets || []) {
    for (const v of [tk.location, tk.building, tk.reporter && tk.reporter.name, tk.carry_reason]) if (v) words.add(v);
    if (tk.source !== "sensor") words.add(tk.description); // a sensor ticket's text is the system's, to be translated
  }
  // The reasons engineers gave for a rule's versions are theirs.
  const { data: hist } = await api("engineer", "GET", "/api/rules/gas-lel-critical/history");
  for (const v of (Array.isArray(hist) ? hist : hist.versions || hist.items || [])) if (v.reason) words.add(v.reason);
  return [...words].filter(Boolean).sort((a, b) => b.length - a.length);
}

// Words that are the same in Chinese: units, brand and format names.
const ALLOWED = new Set(["LEL", "ppm", "mm", "kW", "kWh", "Hz", "mA", "CSV", "HVAC", "English", "MQTT", "Modbus"]);
const METRIC_IDS = /\b(lel_pct|co_ppm|leak|battery_pct|motor_temp_c|vibration_mm_s|voltage_v|frequency_hz|power_factor|door_open)\b/;

// englishOnPage: the visible text of the page (not the technical form
// marked .tech, which engineers read) with the data taken out, and the
// English words left in it.
async function englishOnPage(pg, data) {
  const text = await pg.evaluate(() => {
    const out = [];
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      const el = n.parentElement;
      if (!el || el.closest(".tech, script, style, option, [hidden]") || !el.checkVisibility()) continue;
      if (n.textContent.trim()) out.push(n.textContent);
    }
    for (const s of document.querySelectorAll("select")) if (s.checkVisibility() && s.selectedOptions[0]) out.push(s.selectedOptions[0].textContent);
    for (const b of document.querySelectorAll("input[type=submit], input[type=button]")) if (b.checkVisibility()) out.push(b.value);
    return out.join("\n");
  });
  // Ids first (gas-b8-01, BX20261201-0002, notify:hook, lel_pct): they are
  // names, not words; then the data.
  let rest = text.replace(/[A-Za-z0-9]+(?:[:_.\-@][A-Za-z0-9]+)+/g, (id) => (METRIC_IDS.test(id) || !/[\d:_]/.test(id) ? id : " "));
  for (const w of data) rest = rest.split(w).join(" ");
  const bad = [];
  if (METRIC_IDS.test(rest)) bad.push(METRIC_IDS.exec(rest)[0]);
  for (const token of rest.split(/[\s，。：；、（）()【】“”"'·,:;!?|/…↑▲▼✓✗→+\-–—=<>\[\]]+/)) {
    if (!token || /[\d_.@]/.test(token)) continue; // ids, numbers, versions, ticket numbers
    for (const w of token.match(/[A-Za-z]{2,}/g) || []) if (!ALLOWED.has(w)) bad.push(w);
  }
  return { bad: [...new Set(bad)], text };
}

const PAGES = [
  ["operator", "#/", "board"],
  ["operator", () => "#/ticket/" + gasTicket.id, "ticket"],
  ["operator", () => "#/ticket/" + inHome.id, "ticket-in-home"],
  ["patrol", "#/report", "report"],
  ["technician", "#/tech", "tech"],
  ["engineer", "#/rules", "rules"],
  ["engineer", "#/rules/gas-lel-critical", "rule"],
  ["operator", "#/reports", "reports"],
];

// ready waits for what each page loads.
async function ready(pg, name) {
  const sel = {
    board: "#live-rows tr", ticket: "#ticket-history li", "ticket-in-home": "#ticket-history li", report: "#report-form",
    tech: "#tech-mine article, #tech-pool article", rules: "#rules-table tbody tr", rule: "#rule-versions li", reports: "#kpi-charts svg",
  }[name];
  await pg.locator(sel).first().waitFor();
  if (name === "ticket") await pg.locator("#readings-chart svg, #readings-chart .empty").first().waitFor();
}

test("a zh-CN page shows no English word the dictionary should have translated (#17.6)", async () => {
  const data = await dataWords();
  for (const [sizeName, size] of SIZES) {
    for (const [role, hashOf, name] of PAGES) {
      const pg = await page(role, typeof hashOf === "function" ? hashOf() : hashOf, "zh-CN", size);
      await ready(pg, name);
      const { bad, text } = await englishOnPage(pg, data);
      await shot(pg, "40-zh-" + name + "-" + sizeName);
      assert.deepEqual(bad, [], `${name} (${role}, ${sizeName}) shows English: ${bad.join(", ")}\n---\n${text.slice(0, 3000)}`);
      await pg.close();
    }
  }
});

test("the server's refusals read in the user's language (#17.6)", async () => {
  // The technician takes the in-home work, then gives a wrong code.
  const got = await api("technician", "GET", "/api/tickets/" + inHome.id);
  if (got.data.status === "new") assert.equal((await api("technician", "POST", `/api/tickets/${inHome.id}/actions`, { action: "claim" })).status, 200);
  else if (got.data.status === "dispatched") assert.equal((await api("technician", "POST", `/api/tickets/${inHome.id}/actions`, { action: "accept" })).status, 200);
  const wrong = inHome.verification_code === "000000" ? "111111" : "000000";
  for (const [lang, want] of [["zh-CN", /到场：验证码错误（第 1 次，共 5 次）/], ["en", /arrived: wrong verification code \(2 of 5 attempts\)/]]) {
    const pg = await page("technician", "#/tech", lang, PHONE);
    const card = pg.locator(`#tech-mine article[data-ticket="${inHome.id}"]`);
    await card.locator("input[name=code]").fill(wrong);
    await card.locator("button[type=submit]").click();
    await pg.locator("#tech-result.error").waitFor();
    const said = await pg.locator("#tech-result").textContent();
    assert.match(said, want, said);
    assert.doesNotMatch(said, lang === "zh-CN" ? /[A-Za-z]{3,}/ : /验证码/, said);
    await shot(pg, "41-code-refused-" + lang);
    await pg.close();
  }
});

test("the banner's hide button is not an acknowledgement (#17.6)", async () => {
  for (const lang of ["en", "zh-CN"]) {
    const pg = await page("operator", "#/", lang, DESK);
    const row = pg.locator("#banner .banner-row").first();
    await row.waitFor();
    const key = await row.getAttribute("data-key");
    const hide = row.locator(".banner-dismiss");
    assert.equal((await hide.textContent()).trim(), lang === "en" ? "Hide for now (not acknowledged)" : "暂时收起（不算确认）");
    assert.match(await hide.getAttribute("title"), lang === "en" ? /not acknowledged/ : /并不确认/);
    await hide.click();
    await pg.locator(`#banner .banner-row[data-key="${key}"]`).waitFor({ state: "detached" });
    if (key.startsWith("a:")) {
      const { data } = await api("operator", "GET", "/api/alarms?state=active");
      const a = (data.alarms || []).find((x) => x.id === key.slice(2));
      assert.ok(a && !a.acked, "hiding did not acknowledge " + key);
    }
    await pg.close();
  }
});

test("on a phone the banner is one compact line, sounding only for the user's own work (#17.7)", async () => {
  for (const lang of ["en", "zh-CN"]) {
    const pg = await page("patrol", "#/report", lang, PHONE);
    await pg.locator("#banner .banner-row").first().waitFor();
    await pg.locator("#banner .banner-more").waitFor(); // three L1s: one line, "2 more"
    const box = await pg.locator("#banner").boundingBox();
    assert.ok(box.height <= 100, `banner ${box.height} px high on a 844 px phone`);
    assert.equal(await pg.locator("#banner .banner-row").count(), 1);
    await pg.locator("#report-scope").selectOption("in_home");
    const send = pg.locator("#report-form button[type=submit]");
    await send.scrollIntoViewIfNeeded();
    const b = await send.boundingBox();
    const hit = await pg.evaluate(([x, y]) => { const el = document.elementFromPoint(x, y); return el && el.closest("button") && el.closest("button").type; }, [b.x + b.width / 2, b.y + b.height / 2]);
    assert.equal(hit, "submit", "the banner covers the report form's button");
    await shot(pg, "42-phone-banner-compact-" + lang);
    await pg.evaluate(() => window.scrollTo(0, 0));
    await view(pg, "42b-phone-banner-compact-screen-" + lang);
    await pg.locator("#banner .banner-more").click();
    await pg.locator("#banner .banner-row").nth(2).waitFor();
    await shot(pg, "43-phone-banner-open-" + lang);
    await pg.close();
  }
  // Sound: a patrol phone stays quiet for an alarm that is not its work;
  // the control room sounds; a technician's phone sounds for an L1 of its own.
  const patrol = await page("patrol", "#/report", "en", PHONE);
  const desk = await page("operator", "#/", "en", DESK);
  const tech = await page("technician", "#/tech", "en", PHONE);
  for (const pg of [patrol, desk, tech]) await pg.click("h1"); // touched once: sound may play
  // The patrol's one line is its own report; opened, its list shows every L1.
  await patrol.locator("#banner .banner-more").click();
  await publish("sites/s1/devices/gas-b9-01/telemetry", { ts: Date.now(), metrics: { lel_pct: 33, co_ppm: 1, fault: false } });
  for (const pg of [patrol, desk]) await pg.locator("#banner .banner-row", { hasText: "B9 plant room" }).first().waitFor({ state: "attached" });
  await until("the control room's tone", () => desk.evaluate(() => window.__tones > 0));
  assert.equal(await patrol.evaluate(() => window.__tones), 0, "the patrol phone beeped for an alarm that is not its work");
  const mine = await api("operator", "POST", "/api/tickets", {
    source: "phone", category: "gas", site: "s1", building: "B9", location: "B9 corridor", scope: "public",
    description: "strong smell of gas in the corridor", reporter: { name: "Li", phone: "" },
  });
  await until("the report dispatched to tech1", async () => (await api("technician", "GET", "/api/tickets/" + mine.data.id)).data.assignee === "tech1");
  await tech.locator(`#tech-mine article[data-ticket="${mine.data.id}"]`).waitFor();
  await until("the technician's tone for its own L1", () => tech.evaluate(() => window.__tones > 0));
  for (const pg of [patrol, desk, tech]) await pg.close();
});

// clipped lists every visible control that lies outside the viewport
// horizontally or outside a box that clips it.
async function clipped(pg) {
  return pg.evaluate(() => {
    const out = [];
    const vw = document.documentElement.clientWidth;
    for (const el of document.querySelectorAll("button, a, input, select, textarea, .age, .sla")) {
      if (!el.checkVisibility() || el.closest(".sr-only, .skip")) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className ? "." + String(el.className).split(" ")[0] : "") + " " + (el.textContent || el.name || "").trim().slice(0, 30);
      // Inside a box that scrolls sideways, a control is in reach; one
      // that clips without scrolling cuts it off.
      let scroller = null;
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        const st = getComputedStyle(p);
        if (st.overflowX === "visible") continue;
        if ((st.overflowX === "auto" || st.overflowX === "scroll") && p.scrollWidth > p.clientWidth) { scroller = p; break; }
        const pr = p.getBoundingClientRect();
        if (r.left < pr.left - 0.5 || r.right > pr.right + 0.5) { out.push(name + " cut off by " + p.tagName.toLowerCase() + (p.id ? "#" + p.id : "." + p.className)); scroller = p; break; }
      }
      if (!scroller && (r.left < -0.5 || r.right > vw + 0.5)) out.push(name + ` outside the viewport (${Math.round(r.left)}..${Math.round(r.right)} of ${vw})`);
    }
    return out;
  });
}

test("no page is wider than the screen and no control is cut off, at 390 and 1440 px (#17.8)", async () => {
  for (const [sizeName, size] of SIZES) {
    for (const lang of ["en", "zh-CN"]) {
      for (const [role, hashOf, name] of PAGES) {
        const pg = await page(role, typeof hashOf === "function" ? hashOf() : hashOf, lang, size);
        await ready(pg, name);
        if (name === "report") await pg.locator("#report-scope").selectOption("in_home"); // "inside a home" adds fields
        if (name === "board") {
          // The board needs no sideways scrolling: level, place, what, age,
          // time limit and the buttons all in view.
          for (const wrap of await pg.locator(".board .table-wrap").all()) {
            const w = await wrap.evaluate((el) => [el.scrollWidth, el.clientWidth]);
            assert.ok(w[0] <= w[1], `a board table scrolls sideways at ${sizeName} (${w[0]} > ${w[1]})`);
          }
          for (const sel of ["#live-rows tr .age", "#live-rows tr .sla", "#live-rows tr td.actions a", "#manual-rows tr td.actions a"]) {
            assert.ok(await pg.locator(sel).first().isVisible(), `${sel} hidden on the board at ${sizeName}`);
          }
        }
        if (lang === "en" || sizeName === "phone") await shot(pg, "44-layout-" + name + "-" + lang + "-" + sizeName);
        if (sizeName === "phone") await view(pg, "47-screen-" + name + "-" + lang);
        const over = await pg.evaluate(() => {
          const cw = document.documentElement.clientWidth;
          const wide = [...document.querySelectorAll("body *")].filter((el) => el.getBoundingClientRect().right > cw + 0.5 && el.checkVisibility())
            .slice(0, 5).map((el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : el.className ? "." + String(el.className).split(" ")[0] : ""));
          return { sw: document.documentElement.scrollWidth, cw, wide };
        });
        assert.ok(over.sw <= over.cw, `${name} (${lang}, ${sizeName}) is ${over.sw} px wide on a ${over.cw} px screen: ${over.wide.join(", ")}`);
        const cut = await clipped(pg);
        assert.deepEqual(cut, [], `${name} (${lang}, ${sizeName}): ${cut.join("; ")}`);
        await pg.close();
      }
    }
  }
});

// The live row of gas-b8-01's over-the-alarm-level alarm (the device may
// have others, such as gas and CO rising together, in rows of their own).
const B8_ROW = '#live-rows tr[data-key^="alarm:gas-lel-critical:gas-b8-01:"]';

test("operators read alarms in plain words with units; engineers also see the technical form (#17.9)", async () => {
  for (const [lang, want] of [["en", /Gas concentration 41\.3 %LEL, above the alarm level 20/], ["zh-CN", /燃气浓度 41\.3 %LEL，超过报警值 20/]]) {
    for (const size of [DESK, PHONE]) {
      const pg = await page("operator", "#/", lang, size);
      const row = pg.locator(B8_ROW);
      await row.waitFor();
      const text = await row.textContent();
      assert.match(text, want, text);
      assert.doesNotMatch(text, /lel_pct|>=/, text);
      await pg.close();
    }
    // The ticket: its title, the chart's unit, a history without ids.
    const d = await page("operator", "#/ticket/" + gasTicket.id, lang, DESK);
    await d.locator("#ticket-history li").first().waitFor();
    assert.match(await d.locator("#ticket-detail h2").textContent(), want);
    await d.locator("#readings-chart svg").waitFor();
    assert.match(await d.locator("#readings-chart svg").textContent(), /%LEL/);
    const hist = await d.locator("#ticket-history").textContent();
    assert.doesNotMatch(hist, /gas-lel-critical:|:\d{13}|\d+h\d+m\d+s|T\d\d:\d\d:\d\dZ/, hist);
    await shot(d, "45-ticket-plain-" + lang);
    await d.close();
  }
  const eng = await page("engineer", "#/", "en", DESK);
  const row = eng.locator(B8_ROW);
  await row.locator(".tech", { hasText: "lel_pct" }).waitFor();
  await eng.close();
  // Durations read as people say them, not "168h0m0s".
  const rules = await page("engineer", "#/rules", "en", DESK);
  const trend = rules.locator("#rules-table tr", { hasText: "elevator-vibration-trend" }).first();
  assert.match(await trend.textContent(), /within 7 d/);
  await shot(rules, "46-rules-plain-en");
  await rules.close();
});

test("times read in the site's time zone, not the browser's (#17.11)", async () => {
  const { data: tk } = await api("operator", "GET", "/api/tickets/" + gasTicket.id);
  const created = new Date(tk.created_at);
  const hhmm = (zone) => new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(created);
  assert.notEqual(hhmm("Asia/Shanghai"), hhmm("America/New_York"));
  for (const lang of ["en", "zh-CN"]) {
    const pg = await page("operator", "#/ticket/" + gasTicket.id, lang, DESK);
    await pg.locator("#ticket-history li").first().waitFor();
    assert.equal(await pg.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone), "America/New_York");
    const first = await pg.locator("#ticket-history li time").first().textContent();
    assert.ok(first.includes(hhmm("Asia/Shanghai")), `history time ${first}: want Shanghai ${hhmm("Asia/Shanghai")}`);
    assert.ok(!first.includes(hhmm("America/New_York")), `history time ${first} is New York's`);
    // The clocks' plan in the notes: Shanghai too, no UTC ISO time.
    const notes = await pg.locator("#ticket-history").textContent();
    assert.doesNotMatch(notes, /\d{4}-\d\d-\d\dT\d\d:\d\d/, notes);
    await pg.close();
  }
  // The KPI page asks for local dates: the site's months.
  const rep = await page("operator", "#/reports", "en", DESK);
  const asked = [];
  rep.on("request", (r) => { if (r.url().includes("/api/stats?")) asked.push(new URL(r.url()).searchParams.get("from")); });
  await rep.locator("#kpi-charts svg").first().waitFor();
  await rep.locator("#view form.inline-form").first().evaluate((f) => f.requestSubmit());
  await until("the stats asked for", () => asked.length > 0);
  for (const f of asked) assert.match(f, /^\d{4}-\d\d-\d\d$/, "stats from " + f + ": want a local date");
  await rep.close();
});
