// The technician's phone and the reports page. The technician claims from
// the pool, or accepts and arrives; the reports page draws its charts from
// GET /api/stats.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, open, shot, api } from "./lib.js";

let br;

before(async () => { br = await launch(); });
after(async () => {
  assert.deepEqual(br.errors, [], "no uncaught page errors");
  await br.close();
});

test("the technician sees the work and takes it on", async () => {
  // A report: auto-dispatch may give it to tech1 at once (skill and
  // zone match), or it waits in the pool to be claimed.
  const rep = await api("patrol", "POST", "/api/tickets", {
    source: "patrol", category: "water_electric", site: "s1", building: "B1", location: "B1 corridor light",
    scope: "public", description: "corridor light flickers", reporter: { name: "pat1", phone: "" },
  });
  assert.ok(rep.status === 201 || rep.status === 200, "report filed: " + rep.status);
  const tech = await open(br.context, "technician", "#/tech", { width: 390, height: 844 });
  const card = tech.locator("#tech-mine article, #tech-pool article", { hasText: "corridor light flickers" });
  await card.waitFor();
  await shot(tech, "20-technician");
  const mine = tech.locator("#tech-mine article", { hasText: "corridor light flickers" });
  if (await tech.locator("#tech-pool article", { hasText: "corridor light flickers" }).count()) {
    await card.locator("button", { hasText: "Claim" }).click();
    await mine.waitFor();
    await tech.locator("#tech-result", { hasText: "Done." }).waitFor();
  } else {
    await mine.locator("button", { hasText: "Accept" }).click();
    await mine.locator(".status[data-status=accepted]").waitFor();
    await mine.locator("button", { hasText: "Arrived" }).click();
    await mine.locator(".status[data-status=on_site]").waitFor();
    // The event may redraw the card before the action's own answer lands.
    await tech.locator("#tech-result", { hasText: "Done." }).waitFor();
  }
  const { data: tk } = await api("technician", "GET", "/api/tickets/" + rep.data.id);
  assert.equal(tk.assignee, "tech1");
  await shot(tech, "21-technician-working");
});

test("the reports page draws KPI charts and offers a CSV export", async () => {
  const ops = await open(br.context, "operator", "#/reports");
  await ops.waitForSelector("#kpi-charts svg");
  assert.equal(await ops.locator("#reports-note").textContent(), "", "charts drawn from /api/stats, not counted in the page");
  assert.ok(await ops.locator("#kpi-charts figure").count() >= 3);
  const [download] = await Promise.all([ops.waitForEvent("download"), ops.click("#export-csv")]);
  assert.match(download.suggestedFilename(), /\.csv$/);
  await shot(ops, "30-reports");
});
