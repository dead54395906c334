// The control room: live faults (active alarms and sensor tickets, L1 on
// top) beside manual reports, each row with place, device, level, age and
// SLA countdown; filters; device status. Events are drawn once a frame,
// only the rows and chips they changed.

import { h, options, perFrame, keyed } from "./dom.js";
import { t, duration, label, siteName, clockTime, zoneLabel } from "./i18n.js";
import { kindName, skillName, recipientName } from "./words.js";
import { describeAlarm, describeTicket, technical } from "./describe.js";
import { live, subscribe, apply, rev } from "./live.js";
import { api, enc, latest } from "./api.js";
import { dueOf } from "./sla.js";
import { session } from "./session.js";
import { mountTriage, loadTriage, tickTriage } from "./triage.js";
import { ticketSearch, alarmSearch } from "./search.js";

const filters = { site: "", building: "", level: "", source: "" };

export function mount(root) {
  const selects = {};
  const filterBar = h("form", { class: "filters", "aria-label": t("filters"), onsubmit: (e) => e.preventDefault() },
    ["site", "building", "level", "source"].map((name) => {
      const sel = h("select", { name, id: "filter-" + name, onchange: () => { filters[name] = sel.value; schedule(["rows", "devices", "filters", "triage"]); } });
      selects[name] = sel;
      return h("label", { class: "inline" }, h("span", { text: t(name) }), sel);
    }));
  const liveBody = h("tbody", { id: "live-rows" });
  const manualBody = h("tbody", { id: "manual-rows" });
  const liveCount = h("span", { class: "count", id: "live-count" });
  const manualCount = h("span", { class: "count", id: "manual-count" });
  const liveEmpty = h("p", { class: "empty", id: "live-empty", text: t("none") });
  const manualEmpty = h("p", { class: "empty", id: "manual-empty", text: t("none") });
  const deviceList = h("ul", { class: "device-list", id: "device-list" });
  const dutyList = h("ul", { class: "duty-list", id: "duty-list" });
  const dutyNote = h("p", { class: "empty", id: "duty-note" });

  const head = (withActions) => h("thead", {}, h("tr", {},
    h("th", { scope: "col", text: t("level") + " / " + t("number") }),
    ["place", "description"].map((k) => h("th", { scope: "col", text: t(k) })),
    h("th", { scope: "col", text: t("age") + " / " + t("sla") }),
    h("th", { scope: "col" }, h("span", { class: "sr-only", text: t("open") }))));

  // Alarms below level 1 waiting for an operator (triage.js).
  const triage = mountTriage();
  const reloadTriage = () => loadTriage().then(() => schedule(["triage"]), (e) => {
    if (e.status !== 403) triage.status.textContent = t("failed", { e: e.message });
  });
  root.replaceChildren(
    filterBar,
    triage.section,
    h("div", { class: "board" },
      h("section", { class: "column", "aria-labelledby": "live-h" },
        h("h2", { id: "live-h" }, t("liveFaults"), " ", liveCount),
        h("div", { class: "table-wrap" }, h("table", { class: "rows", id: "live-table" }, head(true), liveBody)), liveEmpty),
      h("section", { class: "column", "aria-labelledby": "manual-h" },
        h("h2", { id: "manual-h" }, t("manualReports"), " ", manualCount),
        h("div", { class: "table-wrap" }, h("table", { class: "rows", id: "manual-table" }, head(false), manualBody)), manualEmpty)),
    h("section", { class: "column duty", id: "duty-panel", "aria-labelledby": "duty-h" },
      h("h2", { id: "duty-h", text: t("onDutyNow") }), dutyList, dutyNote),
    h("section", { class: "column devices", "aria-labelledby": "devices-h" },
      h("h2", { id: "devices-h", text: t("devices") }), deviceList),
    ticketSearch(), alarmSearch());

  // Who is on duty now, by the rosters (or the technicians list): asked
  // again every minute, since shifts change by the clock (a slow answer
  // landing after the next one is dropped).
  const newestDuty = latest();
  async function loadDuty() {
    try {
      const d = await newestDuty(api("GET", "/api/duty"));
      dutyList.replaceChildren(...(d.people || []).map((p) => h("li", { class: "duty-person", dataset: { name: p.name } },
        h("span", { class: "duty-name", text: p.name }),
        h("span", { class: "sub", text: " · " + (p.zones && p.zones.length ? p.zones.join(", ") : t("dutyAllZones")) +
          (p.skills && p.skills.length ? " · " + p.skills.map(skillName).join(", ") : "") }))));
      dutyNote.textContent = (d.people || []).length ? t(d.source === "rosters" ? "dutyByRosters" : "dutyByFlags", { tz: zoneLabel(d.timezone) || d.timezone || "" }) : t("dutyNobody");
      dutyNote.dataset.source = d.source || "";
    } catch (e) {
      dutyNote.textContent = e.status === 503 ? t("notAvailable", { what: t("onDutyNow") }) : t("failed", { e: e.message });
    }
  }
  loadDuty();
  const dutyTimer = setInterval(loadDuty, 60000);

  // Keyed rows and chips: an event marks what it touched, and one draw a
  // frame rebuilds only the rows and chips whose data changed (live.js's
  // rev), moves the rest into order and writes the counts. Ages and
  // countdowns are tick's, once a second.
  const rowCache = new Map(); // item key -> { sig, el }
  const chipCache = new Map(); // device id -> { sig, el }
  let ranked = new Map(); // device id -> its place in id order
  const dirty = { rows: true, devices: true, filters: true, triage: true };
  const frame = perFrame(() => draw());
  function schedule(what) {
    for (const k of what) dirty[k] = true;
    frame();
  }

  function draw() {
    const d = Object.assign({}, dirty);
    dirty.rows = dirty.devices = dirty.filters = dirty.triage = false;
    if (d.filters) fillFilters(selects);
    const focusKey = document.activeElement && document.activeElement.dataset.focusKey;
    const fresh = [];
    if (d.rows) {
      const liveItems = liveFaults().filter(pass).sort(byUrgency);
      const manualItems = manualReports().filter(pass).sort(byUrgency);
      const seen = new Set();
      keyed(liveBody, liveItems.map((it) => rowOf(it, seen, fresh)));
      keyed(manualBody, manualItems.map((it) => rowOf(it, seen, fresh)));
      for (const k of rowCache.keys()) if (!seen.has(k)) rowCache.delete(k);
      setText(liveCount, liveItems.length ? "(" + liveItems.length + ")" : "");
      setText(manualCount, manualItems.length ? "(" + manualItems.length + ")" : "");
      if (liveEmpty.hidden !== liveItems.length > 0) liveEmpty.hidden = liveItems.length > 0;
      if (manualEmpty.hidden !== manualItems.length > 0) manualEmpty.hidden = manualItems.length > 0;
    }
    if (d.triage || d.rows) triage.draw(pass);
    if (d.devices) {
      const devs = [...live.devices.values()].filter((x) => (!filters.site || x.site === filters.site) && (!filters.building || x.building === filters.building));
      // Offline first, then by id: the ids' order is worked out once.
      if (ranked.size !== live.devices.size || devs.some((x) => !ranked.has(x.device_id))) {
        ranked = new Map([...live.devices.keys()].sort(byID).map((id, i) => [id, i]));
      }
      devs.sort((a, b) => (a.online === b.online ? 0 : a.online ? 1 : -1) || ranked.get(a.device_id) - ranked.get(b.device_id));
      const seen = new Set();
      keyed(deviceList, devs.map((x) => {
        seen.add(x.device_id);
        const sig = rev(x);
        let c = chipCache.get(x.device_id);
        if (!c || c.sig !== sig) {
          c = { sig, el: deviceChip(x) };
          chipCache.set(x.device_id, c);
        }
        return c.el;
      }));
      for (const k of chipCache.keys()) if (!seen.has(k)) chipCache.delete(k);
    }
    if (focusKey && (!document.activeElement || !document.activeElement.isConnected || document.activeElement === document.body)) {
      const el = root.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
      if (el) el.focus();
    }
    for (const tr of fresh) tick(tr);
  }

  // rowOf is the row of item: the one on screen if nothing it shows
  // changed, else a new one (added to fresh, for its clocks).
  function rowOf(item, seen, fresh) {
    seen.add(item.key);
    const sig = [item.level, item.acked, item.status, item.more, rev(item.ticket), rev(live.paging.get(item.ticketId)),
      ...(item.kind === "alarm" ? liveAlarmsOf(item) : [])].join(",");
    let c = rowCache.get(item.key);
    if (!c || c.sig !== sig) {
      const el = row(item);
      if (c) c.el.replaceWith(el);
      c = { sig, el };
      rowCache.set(item.key, c);
      fresh.push(el);
    }
    return c.el;
  }

  const unsub = subscribe((msg) => {
    switch (msg.type) {
      case "reading": return;
      case "snapshot":
        reloadTriage(); // the snapshot has no queue: read it again
        schedule(["rows", "devices", "filters", "triage"]);
        return;
      case "device.status": {
        // A device new to the board may bring a site or building.
        const known = chipCache.has(msg.data && msg.data.device_id);
        schedule(known ? ["devices"] : ["devices", "filters"]);
        return;
      }
      case "triage.queued": case "triage.decided": case "triage.escalated":
        schedule(["triage"]);
        return;
      case "conn":
        return;
      default:
        schedule(["rows", "filters"]);
    }
  });
  const timer = setInterval(() => { tick(root); tickTriage(root); }, 1000);
  draw();
  tick(root);
  reloadTriage();
  return () => { unsub(); clearInterval(timer); clearInterval(dutyTimer); newestDuty.drop(); frame.cancel(); };
}

// liveAlarmsOf lists the revisions of every alarm of an alarm row (its
// group), so that a change to any of them redraws the row.
function liveAlarmsOf(item) {
  return item.group.map(rev);
}

const collator = new Intl.Collator();
const byID = collator.compare;

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function fillFilters(selects) {
  const seen = { site: new Set(), building: new Set(), source: new Set() };
  for (const x of [...live.alarms.values(), ...live.tickets.values(), ...live.devices.values()]) {
    if (x.site) seen.site.add(x.site);
    if (x.building && (!filters.site || x.site === filters.site)) seen.building.add(x.building);
  }
  for (const tk of live.tickets.values()) seen.source.add(tk.source);
  seen.source.add("sensor");
  const lists = {
    site: [...seen.site].sort().map((v) => [v, siteName(v)]),
    building: [...seen.building].sort().map((v) => [v, v]),
    level: [["1", "L1"], ["2", "L2"], ["3", "L3"]],
    source: [...seen.source].sort().map((v) => [v, label("src", v)]),
  };
  for (const [name, sel] of Object.entries(selects)) {
    const cur = filters[name];
    const list = lists[name];
    if (cur && !list.some(([v]) => v === cur)) list.push([cur, cur]);
    const want = [["", t("all")], ...list];
    const have = [...sel.options].map((o) => o.value + "\u0000" + o.textContent).join("|");
    if (have !== want.map(([v, l]) => v + "\u0000" + l).join("|")) options(sel, want);
    sel.value = cur;
  }
}

function pass(item) {
  return (!filters.site || item.site === filters.site) &&
    (!filters.building || item.building === filters.building) &&
    (!filters.level || String(item.level) === filters.level) &&
    (!filters.source || item.source === filters.source);
}

function byUrgency(a, b) {
  return (a.level || 9) - (b.level || 9) || (a.acked === b.acked ? 0 : a.acked ? 1 : -1) || new Date(b.since) - new Date(a.since);
}

export function liveFaults() {
  const items = [];
  const alarmIDs = new Set();
  const ticketByAlarm = new Map();
  for (const tk of live.tickets.values()) if (tk.alarm_id) ticketByAlarm.set(tk.alarm_id, tk);
  // The alarms of one ticket (gas past the pre-alarm, then the alarm
  // level) are one incident: one row, led by the most severe.
  const groups = new Map();
  for (const a of live.alarms.values()) {
    if (a.shadow) continue;
    alarmIDs.add(a.id);
    const tk = (a.ticket_id && live.tickets.get(a.ticket_id)) || ticketByAlarm.get(a.id);
    const gkey = tk ? "t" + tk.id : a.ticket_id ? "t" + a.ticket_id : "a" + a.id;
    if (!groups.has(gkey)) groups.set(gkey, { tk, alarms: [] });
    groups.get(gkey).alarms.push(a);
  }
  for (const { tk, alarms } of groups.values()) {
    alarms.sort((x, y) => (x.level || 9) - (y.level || 9) || new Date(x.raised_at) - new Date(y.raised_at));
    const a = alarms[0];
    const unacked = alarms.filter((x) => !x.acked);
    // The row's state: active if any alarm of it is, acknowledged if all are.
    const active = alarms.some((x) => x.state !== "cleared");
    const status = (active ? "active_" : "cleared_") + (unacked.length ? "unack" : "ack");
    const override = alarms.map((x) => x.ticket_override).find(Boolean) || (tk && tk.override);
    items.push({
      key: "alarm:" + a.id, kind: "alarm", alarm: a, alarms: unacked, group: alarms, ticket: tk, ticketId: a.ticket_id || (tk && tk.id),
      level: a.level, acked: unacked.length === 0, status, override, source: "sensor", more: alarms.length - 1,
      number: a.ticket_number || (tk && tk.number) || t("alarm"),
      site: a.site, building: a.building, location: a.location, device: a.device_id,
      description: describeAlarm(a) || a.message || "", technical: a.message, since: alarms.reduce((m, x) => (x.raised_at < m ? x.raised_at : m), a.raised_at),
    });
  }
  for (const tk of live.tickets.values()) {
    if (tk.source !== "sensor" || alarmIDs.has(tk.alarm_id)) continue;
    items.push(ticketItem(tk));
  }
  return items;
}

function manualReports() {
  return [...live.tickets.values()].filter((tk) => tk.source !== "sensor").map(ticketItem);
}

function ticketItem(tk) {
  return {
    key: "ticket:" + tk.id, kind: "ticket", ticket: tk, ticketId: tk.id, level: tk.level, source: tk.source,
    number: tk.number, site: tk.site, building: tk.building, location: tk.location, device: tk.device_id,
    description: describeTicket(tk), technical: tk.source === "sensor" ? tk.description : "", since: tk.created_at, escalated: tk.escalated,
  };
}

export function place(x) {
  return [siteName(x.site), x.building, x.location].filter(Boolean).join(" / ");
}

function row(item) {
  const tr = h("tr", { class: "level-" + (item.level || 3) + (item.acked ? " is-acked" : "") + (item.status ? " " + item.status : ""),
    dataset: { key: item.key, status: item.status || "" } });
  tr.append(
    h("td", { class: "lvl" }, h("span", { class: "badge l" + (item.level || 3), text: item.level ? "L" + item.level : "" }),
      h("div", { class: "num", text: item.number || "" })),
    h("td", { class: "place" },
      h("div", { class: "loc", text: item.location || "" }),
      h("div", { class: "sub", text: [siteName(item.site), item.building].filter(Boolean).join(" / ") + (item.device ? " · " : "") }, item.device ? h("span", { class: "dev", text: item.device }) : null)),
    h("td", { class: "desc" }, item.description || "", technical(item.technical) ? h("div", { class: "tech", lang: "en", text: item.technical }) : null, item.more ? h("span", { class: "more", text: " +" + item.more }) : null,
      item.ticket && item.ticket.escalated ? h("span", { class: "escalated", dataset: { clock: item.ticket.escalated.clock || "" },
        text: t("escalatedTo", { to: label("to", item.ticket.escalated.to || "supervisor") }) }) : null,
      item.status ? h("div", { class: "alarm-state " + item.status, text: t("as_" + item.status) }) : null,
      item.override ? h("div", { class: "override-mark", role: "note",
        text: t("overrideMark", { who: item.override.by, why: item.override.reason }) }) : null),
    h("td", { class: "time" }, h("div", { class: "age", dataset: { since: item.since || "" } }), slaLine(item.ticket),
      pagedLine(item.ticketId && live.paging.get(item.ticketId))),
  );
  const actions = h("td", { class: "actions" });
  if (item.kind === "alarm") {
    if (item.acked) actions.append(h("span", { class: "acked", text: t("acked") }));
    else if (session.may("ack")) {
      const b = h("button", { type: "button", class: "ack", dataset: { focusKey: "ack:" + item.alarm.id }, text: t("ack") });
      b.addEventListener("click", () => ackAll(item.alarms, b));
      actions.append(b);
    }
  }
  if (item.ticketId) {
    actions.append(h("a", { class: "button", href: "#/ticket/" + item.ticketId, dataset: { focusKey: "open:" + item.key }, text: t("open") }));
  }
  tr.append(actions);
  return tr;
}

// pagedLine says who the latest step paged, when, and how each channel
// fared: "paged tech1 · 09:31 · email ✓ webhook ✗ (retrying)".
export function pagedLine(p) {
  if (!p || !p.recipients || !p.recipients.length) return null;
  const tk = live.tickets.get(p.ticket_id);
  const hhmm = clockTime(p.at, tk && tk.site);
  const div = h("div", { class: "paged", dataset: { ticket: String(p.ticket_id), step: p.step || "" } },
    h("span", { class: "paged-who", text: t("pagedWho", { who: p.recipients.map(recipientName).join(", ") }) }),
    hhmm ? " · " + hhmm : "", " ·");
  for (const c of p.channels || []) {
    const ok = c.state === "sent";
    div.append(" ", h("span", { class: "paged-ch " + c.state, dataset: { channel: c.channel, state: c.state } },
      c.channel + " " + (ok ? "✓" : c.state === "queued" ? "…" : "✗") + (ok ? "" : " (" + t("pch_" + c.state) + ")")));
  }
  return div;
}

function slaLine(tk) {
  const due = dueOf(tk);
  if (!due) return null;
  return h("div", { class: "sla" + (due.estimated ? " estimated" : ""), dataset: { due: due.at.toISOString(), stage: due.stage } });
}

// tick refreshes ages and countdowns in place, without redrawing rows.
export function tick(root) {
  const now = Date.now();
  for (const el of root.querySelectorAll("[data-since]")) {
    const since = new Date(el.dataset.since).getTime();
    setText(el, isNaN(since) ? "" : duration(Math.max(0, (now - since) / 1000)));
  }
  for (const el of root.querySelectorAll("[data-due]")) {
    const left = (new Date(el.dataset.due).getTime() - now) / 1000;
    const what = t("due_" + el.dataset.stage);
    if (el.dataset.missed !== String(left < 0)) el.dataset.missed = String(left < 0);
    setText(el, what + " " + (left >= 0 ? t("dueIn", { d: duration(left) }) : t("overdue", { d: duration(left) })));
    if (el.classList.contains("overdue") !== left < 0) el.classList.toggle("overdue", left < 0);
    if (el.classList.contains("soon") !== (left >= 0 && left < 300)) el.classList.toggle("soon", left >= 0 && left < 300);
  }
}

async function ackAll(alarms, button) {
  button.disabled = true;
  let ok = true;
  for (const a of alarms) ok = (await ack(a.id)) && ok;
  if (!ok) button.disabled = false;
}

export async function ack(id, button) {
  if (button) button.disabled = true;
  try {
    const a = await api("POST", "/api/alarms/" + enc(id) + "/ack");
    // Shown at once, unless events already settled it: the answer may
    // land after the alarm's clear, which ended it (a late answer would
    // bring it back as active).
    if (a && a.id && live.alarms.has(a.id)) apply({ type: "alarm.acked", data: a });
    return true;
  } catch (e) {
    if (button) {
      button.disabled = false;
      button.title = e.message;
    }
    return false;
  }
}

function deviceChip(d) {
  const state = d.online ? "online" : "offline";
  const title = [kindName(d.kind), place(d), d.online ? t("online") : d.last_seen ? t("offlineDev") : t("neverSeen")].filter(Boolean).join(" · ");
  return h("li", { class: "chip " + state, title, dataset: { device: d.device_id } },
    h("span", { class: "dot", "aria-hidden": "true" }),
    h("span", { class: "id", text: d.device_id }),
    h("span", { class: "state", text: d.online ? t("online") : t("offlineDev") }));
}
