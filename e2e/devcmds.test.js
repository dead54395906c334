// Device actions: a wet probe in B8 raises an L1 leak alarm; its ticket
// shows "close water valve wv-b8: waits for an operator"; the operator
// presses the button; firmware-sim's valve closes and reports it, and
// the ticket turns to "done", live, naming who pressed it; in Chinese
// too, and on a phone.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, open, shot, api, publish } from "./lib.js";

let br;

before(async () => { br = await launch(); });
after(async () => {
  assert.deepEqual(br.errors, [], "no uncaught page errors");
  await br.close();
});

async function ticketOf(device) {
  const deadline = Date.now() + 25000;
  while (Date.now() < deadline) {
    const { data } = await api("operator", "GET", "/api/tickets");
    const tk = (data.tickets || []).find((t) => t.device_id === device);
    if (tk) return tk;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("no ticket of " + device);
}

test("a leak's water valve closes once the operator confirms it on the alarm's ticket", async () => {
  // The probe stays wet 10 s (the rule's for) before the alarm.
  const wet = () => publish("sites/s8/devices/wl-b8-01/telemetry", { ts: Date.now(), metrics: { leak: true, battery_pct: 80 } });
  await wet();
  const keepWet = setInterval(wet, 2000);
  let tk;
  try {
    tk = await ticketOf("wl-b8-01");
  } finally {
    clearInterval(keepWet);
  }
  const ops = await open(br.context, "operator", "#/ticket/" + tk.id);
  const item = ops.locator("#ticket-commands li.command");
  await item.locator(".cmd-state", { hasText: "waits for an operator" }).waitFor({ timeout: 15000 });
  assert.match(await item.textContent(), /close water valve wv-b8/);
  await shot(ops, "50-device-action-waiting");
  const id = await item.getAttribute("data-command");
  await ops.click("#cmd-confirm-" + id);
  await ops.locator(`#ticket-commands li[data-command="${id}"][data-state="done"]`).waitFor({ timeout: 15000 });
  const text = await item.textContent();
  assert.match(text, /done/);
  assert.match(text, /confirmed by ops1/);
  assert.match(text, /read back open 0/);
  assert.equal(await ops.locator("#cmd-confirm-" + id).count(), 0, "no button once confirmed");
  await shot(ops, "51-device-action-done");

  const { data: full } = await api("operator", "GET", "/api/tickets/" + tk.id);
  const notes = full.history.filter((h) => h.action === "device_command").map((h) => h.actor + ": " + h.note);
  assert.deepEqual(notes.slice(0, 3), [
    "device actions: close water_valve wv-b8: waits for an operator to confirm",
    "ops1: close water_valve wv-b8: confirmed by ops1",
    "device actions: close water_valve wv-b8: sent (attempt 1)",
  ]);
  assert.match(notes[notes.length - 1], /done, read back open 0/);
  const { data: valve } = await api("operator", "GET", "/api/devices/wv-b8");
  assert.equal(valve.readings.open.value, false, "the valve reports closed");

  await ops.click("#lang");
  await ops.locator("#ticket-commands .cmd-state", { hasText: "已完成" }).waitFor();
  assert.match(await item.textContent(), /关闭 水阀 wv-b8/);
  await shot(ops, "52-device-action-zh-CN");
  await ops.click("#lang");
  assert.deepEqual(ops.cspViolations, [], "no CSP violations");
  await ops.close();

  const phone = await open(br.context, "operator", "#/ticket/" + tk.id, { width: 390, height: 844 });
  await phone.locator("#ticket-commands li[data-state=done]").waitFor();
  const w = await phone.locator("#ticket-commands").evaluate((el) => el.scrollWidth);
  assert.ok(w <= 390, "the device actions fit a phone: " + w);
  await shot(phone, "53-device-action-phone");
  await phone.close();

  // A technician sees the actions but has no button, and may not confirm.
  const { status } = await api("technician", "POST", `/api/tickets/${tk.id}/commands/${id}/confirm`);
  assert.equal(status, 403);
});
