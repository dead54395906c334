// Roles and safety: each role sees only its pages in the navigation, and a
// page it does not use says so instead of a raw error; the manager reads
// the reports; the phone report's level suggestion asks rather than
// decides ("small sink leak under the basin" is not an L1 by itself). In
// English and Chinese. (L1 rule changes needing a reason and a
// confirmation: rules.test.js.)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, open, shot, api, hideBanner } from "./lib.js";

let br;

before(async () => { br = await launch(); });
after(async () => {
  assert.deepEqual(br.errors, [], "no uncaught page errors");
  await br.close();
});

// The nav items of each role (in the nav's order) and its home page.
const NAV = {
  operator: [["board", "report", "reports", "codes", "daily", "floors"], "board"],
  patrol: [["report"], "report"],
  technician: [["report", "tech", "daily"], "tech"],
  engineer: [["board", "rules", "floors"], "rules"],
  manager: [["board", "reports", "daily", "floors"], "reports"],
};

test("each role sees only its pages; another page says it is not for the role, with no raw error", async () => {
  for (const [role, [pages, home]] of Object.entries(NAV)) {
    const page = await open(br.context, role, "#/", role === "patrol" || role === "technician" ? { width: 390, height: 844 } : undefined);
    await page.waitForSelector("#nav a");
    assert.deepEqual(await page.locator("#nav a").evaluateAll((els) => els.map((e) => e.dataset.nav)), pages, role + " nav");
    // Home is the role's first page.
    await page.locator(`#nav a[data-nav=${home}][aria-current=page]`).waitFor();
    const other = ["board", "report", "tech", "rules", "reports"].find((p) => !pages.includes(p));
    const hash = { board: "#/", report: "#/report", tech: "#/tech", rules: "#/rules", reports: "#/reports" }[other];
    await page.evaluate((h) => { location.hash = h; }, hash);
    await page.locator("#not-your-page", { hasText: "This page is not for your role (" + role + ")." }).waitFor();
    const text = await page.locator("#view").textContent();
    assert.doesNotMatch(text, /may not|Not done|403|error/i, role + " on " + other + ": " + text);
    await shot(page, "x6-01-" + role + "-not-" + other);
    await page.close();
  }
});

test("the manager reads the reports (KPIs), in English and Chinese", async () => {
  const me = await api("manager", "GET", "/api/me");
  assert.equal(me.data.role, "manager");
  assert.equal(me.data.may.stats, true);
  assert.equal(me.data.may.ack, false);
  assert.equal((await api("manager", "GET", "/api/stats")).status, 200);
  assert.equal((await api("manager", "POST", "/api/tickets", {})).status, 403, "a manager files no reports");
  const page = await open(br.context, "manager", "#/");
  await page.locator("#nav a[data-nav=reports][aria-current=page]").waitFor();
  await page.waitForSelector("#view svg");
  await shot(page, "x6-02-manager-reports");
  await page.click("#lang");
  await page.locator("#nav a[data-nav=reports]", { hasText: "统计报表" }).waitFor();
  assert.deepEqual(await page.locator("#nav a").evaluateAll((els) => els.map((e) => e.textContent)), ["监控中心", "统计报表", "遗留工单", "楼层分布"]);
  await shot(page, "x6-03-manager-reports-zh-CN");
  await page.click("#lang");
  await page.close();
});

async function reportsAt(location) {
  const { data } = await api("operator", "GET", "/api/tickets?limit=1000");
  return data.tickets.filter((tk) => tk.location === location);
}

test("a small sink leak is not made L1 silently: the phone asks, and the patrol says L2", async () => {
  const phone = await open(br.context, "patrol", "#/report", { width: 390, height: 844 });
  await phone.waitForSelector("#report-form");
  await hideBanner(phone);
  await phone.selectOption("#report-category", "water_electric");
  await phone.fill("#report-site", "s1");
  await phone.fill("#report-building", "C4");
  await phone.fill("#report-location", "C4 washroom 2F");
  await phone.fill("#report-description", "small sink leak under the basin");
  assert.equal(await phone.inputValue("#report-level"), "", "no level chosen");
  await phone.click("#report-form button[type=submit]");
  await phone.locator("#report-level-ask", { hasText: "\u201cleak\u201d may mean an emergency. Is it an L1 emergency?" }).waitFor();
  await phone.locator("#report-result", { hasText: "Say whether this is an emergency first." }).waitFor();
  assert.equal((await reportsAt("C4 washroom 2F")).length, 0, "nothing filed before the answer");
  await shot(phone, "x6-04-level-asks");
  await phone.click("#report-level-l2");
  await phone.locator("#report-number", { hasText: /Ticket \S+ created/ }).waitFor();
  const filed = await reportsAt("C4 washroom 2F");
  assert.equal(filed.length, 1);
  assert.equal(filed[0].level, 2, "the patrol's answer, not the word, set the level");
  await shot(phone, "x6-05-level-answered");

  // In Chinese: 漏水 asks the same question, in Chinese; "yes" makes it L1.
  await phone.click("#lang");
  // The page is drawn again in Chinese: the form starts afresh.
  await phone.locator("#report-form h2", { hasText: "报事报修" }).waitFor();
  await phone.selectOption("#report-category", "water_electric");
  await phone.fill("#report-site", "s1");
  await phone.fill("#report-building", "C4");
  await phone.fill("#report-location", "C4 洗衣房");
  await phone.fill("#report-description", "洗衣机下面漏水，水流到走廊");
  await phone.click("#report-form button[type=submit]");
  await phone.locator("#report-level-ask", { hasText: "描述中的“漏水”可能是紧急情况。是否为一级紧急？" }).waitFor();
  assert.equal(await phone.locator("#report-level-l1").textContent(), "是：一级紧急");
  await shot(phone, "x6-06-level-asks-zh-CN");
  await phone.click("#report-level-l1");
  await phone.locator("#report-number").waitFor();
  const zh = await reportsAt("C4 洗衣房");
  assert.equal(zh.length, 1);
  assert.equal(zh[0].level, 1);
  await phone.click("#lang");
  await phone.close();
});
