// The technician's page without signal (a basement): Chromium goes
// offline (context.setOffline); the page, served by the service worker,
// still shows the technician's tickets; accept, arrive and resolve with a
// note and a photo are kept on the phone with its time; meanwhile the
// control room gives another ticket to tech2; back online, the steps go
// out in order, the server counts the phone's times, and the page reports
// the conflict of the reassigned ticket.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, open, shot, api } from "./lib.js";

// A 1×1 PNG: the photo of the finished work.
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");
let br;

before(async () => { br = await launch(); });
after(async () => {
  assert.deepEqual(br.errors, [], "no uncaught page errors");
  await br.context.setOffline(false);
  await br.close();
});

async function ticketFor(what, location) {
  const { status, data } = await api("operator", "POST", "/api/tickets", {
    source: "phone", category: "water_electric", level: 2, site: "s1", building: "B9", location, scope: "public",
    description: what, reporter: { name: "Zhou", phone: "" },
  });
  assert.equal(status, 201, JSON.stringify(data));
  const r = await api("operator", "POST", `/api/tickets/${data.id}/actions`, { action: "assign", technician: "tech1" });
  assert.equal(r.status, 200, JSON.stringify(r.data));
  return data;
}

test("steps taken offline are kept with the phone's time and sent in order when the signal is back", async () => {
  const a = await ticketFor("basement pump room light dead", "B9 basement pump room");
  const b = await ticketFor("garage barrier stuck open", "B9 garage barrier");
  const tech = await open(br.context, "technician", "#/tech", { width: 390, height: 844 });
  const cardA = tech.locator(`#tech-mine article[data-ticket="${a.id}"]`);
  const cardB = tech.locator(`#tech-mine article[data-ticket="${b.id}"]`);
  await cardA.waitFor();
  await cardB.waitFor();
  // The service worker takes over, and the page's reads pass through it.
  await tech.waitForFunction(() => navigator.serviceWorker && navigator.serviceWorker.controller !== null, null, { timeout: 15000 });
  await tech.reload();
  await cardA.waitFor();

  // In the basement: no signal. The page opens from the phone.
  await br.context.setOffline(true);
  await tech.reload();
  await tech.locator("#tech-offline", { hasText: "No signal" }).waitFor();
  await cardA.waitFor();
  await cardB.waitFor();
  await shot(tech, "60-offline-tickets");

  const before = Date.now();
  await cardA.locator("button", { hasText: "Accept" }).click();
  await cardA.locator(".status[data-status=accepted]").waitFor();
  await cardA.locator("button", { hasText: "Arrived" }).click();
  await cardA.locator(".status[data-status=on_site]").waitFor();
  await cardA.locator("textarea[name=note]").fill("lamp and starter replaced");
  await cardA.locator("input[name=photos]").setInputFiles({ name: "after.png", mimeType: "image/png", buffer: PNG });
  await cardA.locator("button", { hasText: "Resolve" }).click();
  await cardA.locator(".status[data-status=resolved]").waitFor();
  assert.equal(await cardA.locator(".queued li").count(), 3, "three steps kept on the phone");
  // Meanwhile the control room gives B to tech2; the phone does not know.
  const re = await api("operator", "POST", `/api/tickets/${b.id}/actions`, { action: "assign", technician: "tech2" });
  assert.equal(re.status, 200, JSON.stringify(re.data));
  await cardB.locator("button", { hasText: "Accept" }).click();
  await tech.locator("#tech-queued", { hasText: "4 step(s)" }).waitFor();
  await shot(tech, "61-offline-queued");
  const { data: still } = await api("operator", "GET", "/api/tickets/" + a.id);
  assert.equal(still.status, "dispatched", "nothing reached the server offline");
  const after = Date.now();

  // Signal back: the steps go out in order.
  await br.context.setOffline(false);
  await tech.locator("#tech-conflicts .conflict", { hasText: b.number }).waitFor({ timeout: 20000 });
  const conflict = await tech.locator("#tech-conflicts .conflict").first().textContent();
  assert.match(conflict, /your accept of .* was not applied: .*tech2/);
  await tech.locator("#tech-result", { hasText: "Sent the 3 step(s) taken offline." }).waitFor();
  assert.equal(await tech.locator("#tech-queued").count(), 0, "nothing left on the phone");
  await shot(tech, "62-offline-sent-conflict");

  const { data: done } = await api("operator", "GET", "/api/tickets/" + a.id);
  assert.equal(done.status, "resolved");
  assert.equal(done.resolution, "lamp and starter replaced");
  assert.equal(done.photos.length, 1, "the photo went too");
  const offline = done.history.filter((h) => h.action === "offline").map((h) => h.note);
  assert.deepEqual(offline.map((n) => n.split(" ")[0]), ["accept", "arrive", "resolve"], "sent in order");
  const arrive = done.deadlines.find((d) => d.clock === "arrive");
  const metAt = new Date(arrive.met_at).getTime();
  assert.ok(metAt >= before - 1000 && metAt <= after, "the arrive clock counts the phone's time: " + arrive.met_at);
  const { data: other } = await api("operator", "GET", "/api/tickets/" + b.id);
  assert.equal(other.assignee, "tech2");
  assert.equal(other.status, "dispatched");

  // In Chinese, the conflict line stays until dismissed.
  await tech.click("#lang");
  await tech.locator("#tech-conflicts-dismiss", { hasText: "知道了" }).waitFor();
  await shot(tech, "63-offline-conflict-zh-CN");
  await tech.click("#tech-conflicts-dismiss");
  assert.equal(await tech.locator("#tech-conflicts .conflict").count(), 0);
  await tech.click("#lang");
  await tech.close();
});
