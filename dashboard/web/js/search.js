// The archive's search (domain.md: kept five years, searched by house,
// fault type and time): the ticket list by free text, fault type, site,
// building, unit, room and a date range, and the alarm list by free text,
// level and a date range. The server does the searching (GET /api/tickets,
// GET /api/alarms); the dates are the site's (the server reads a date
// without an offset in the site's zone). The filters live in the page's
// address after the route ("#/reports?q=leak&category=water_electric"),
// so a reload or a shared link shows the same list.

import { h, options } from "./dom.js";
import { t, label, when, siteName } from "./i18n.js";
import { api, enc } from "./api.js";
import { describeAlarm, describeTicket } from "./describe.js";

const CATEGORIES = ["water_electric", "civil", "equipment", "public_area", "gas", "fire"];
const TICKET_KEYS = ["q", "category", "site", "building", "unit", "room", "from", "to"];
const ALARM_KEYS = ["aq", "alevel", "afrom", "ato"];
const PAGE = 20; // tickets per page of the answer
const ALARMS_SHOWN = 100;

// hashParams are the filters in the address, after the route.
export function hashParams() {
  const i = location.hash.indexOf("?");
  return new URLSearchParams(i < 0 ? "" : location.hash.slice(i + 1));
}

// keepParams writes the given keys (empty values dropped) into the
// address without a new history entry or a route change.
function keepParams(keys, values) {
  const p = hashParams();
  for (const k of keys) {
    if (values[k]) p.set(k, values[k]);
    else p.delete(k);
  }
  const base = location.hash.replace(/\?.*$/, "") || "#/";
  const s = p.toString();
  history.replaceState(history.state, "", location.pathname + location.search + base + (s ? "?" + s : ""));
}

// nextDay: the date after "2026-12-01" ("2026-12-02"); a "to" date is
// taken as the whole of that day.
function nextDay(d) {
  const m = /^(\d{4})-(\d\d)-(\d\d)$/.exec(d || "");
  if (!m) return d;
  const x = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3] + 1));
  return x.toISOString().slice(0, 10);
}

function input(id, name, attrs) {
  return h("input", Object.assign({ id, name, autocomplete: "off" }, attrs || {}));
}

function labelled(text, control) {
  return h("label", { class: "field" }, h("span", { class: "label", text }), control);
}

// sitesAndBuildings reads the sites (with their buildings) and the
// devices' buildings, for the house filters' suggestions.
async function sitesAndBuildings() {
  const out = { sites: [], devices: [] };
  try { out.sites = (await api("GET", "/api/sites")).sites || []; } catch (_) { /* typed then */ }
  try { out.devices = (await api("GET", "/api/devices")).devices || []; } catch (_) { /* typed then */ }
  return out;
}

// ticketSearch is the "Search the archive" section.
export function ticketSearch() {
  const q = input("ts-q", "q", { type: "search", placeholder: t("searchHint"), enterkeyhint: "search" });
  const category = options(h("select", { id: "ts-category", name: "category" }), [["", t("all")], ...CATEGORIES.map((c) => [c, label("cat", c)])]);
  const site = options(h("select", { id: "ts-site", name: "site" }), [["", t("all")]]);
  const building = input("ts-building", "building", { list: "ts-buildings" });
  const unit = input("ts-unit", "unit", { list: "ts-units" });
  const room = input("ts-room", "room", { list: "ts-rooms", inputmode: "numeric" });
  const from = input("ts-from", "from", { type: "date" });
  const to = input("ts-to", "to", { type: "date" });
  const lists = { building: h("datalist", { id: "ts-buildings" }), unit: h("datalist", { id: "ts-units" }), room: h("datalist", { id: "ts-rooms" }) };
  const count = h("p", { class: "search-count", id: "ts-count", role: "status", "aria-live": "polite" });
  const results = h("ol", { class: "search-results", id: "ts-results" });
  const more = h("button", { type: "button", id: "ts-more", hidden: true, text: t("searchMore"), onclick: () => run(true) });
  const siteField = labelled(t("site"), site);
  const controls = { q, category, site, building, unit, room, from, to };
  const form = h("form", { class: "search-form", id: "ticket-search", role: "search", onsubmit: (e) => { e.preventDefault(); run(false); } },
    labelled(t("searchText"), q),
    h("div", { class: "grid3" }, labelled(t("faultType"), category), siteField, labelled(t("building"), building),
      labelled(t("unit"), unit), labelled(t("room"), room)),
    h("div", { class: "grid2" }, labelled(t("fromDay"), from), labelled(t("toDay"), to)),
    h("div", { class: "search-actions" },
      h("button", { type: "submit", class: "primary", id: "ts-go", text: t("searchGo") }),
      h("button", { type: "button", id: "ts-clear", text: t("searchClear"), onclick: () => {
        for (const c of Object.values(controls)) c.value = "";
        run(false);
      } })),
    Object.values(lists));
  const section = h("section", { class: "column wide search", id: "archive", "aria-labelledby": "archive-h" },
    h("h2", { id: "archive-h", text: t("archiveTitle") }), form, count, results, more);

  let registry = { sites: [], devices: [] };
  let offset = 0;
  // asked counts the searches: only the newest one's answer is shown, so
  // the first list, read as the page opens, cannot land over a search
  // sent while it was on its way.
  let asked = 0;
  const start = hashParams();
  // The site asked for is an option before the sites are read.
  if (start.get("site")) site.append(h("option", { value: start.get("site"), text: siteName(start.get("site")) }));
  for (const k of TICKET_KEYS) if (start.get(k)) controls[k].value = start.get(k);
  const suggest = () => {
    const sites = registry.sites.filter((s) => !site.value || s.id === site.value);
    const bs = sites.flatMap((s) => s.buildings || []);
    const names = new Set(bs.map((b) => b.id));
    for (const d of registry.devices) if (d.building && (!site.value || d.site === site.value)) names.add(d.building);
    options(lists.building, [...names].sort().map((v) => [v, v]));
    const b = bs.find((x) => x.id === building.value.trim());
    options(lists.unit, ((b && b.units) || []).map((v) => [v, v]));
    const rooms = [];
    if (b && b.floors) for (let f = 1; f <= b.floors; f++) for (const r of b.rooms || []) rooms.push(String(f) + r);
    options(lists.room, rooms.map((v) => [v, v]));
  };
  site.addEventListener("change", suggest);
  building.addEventListener("change", suggest);
  sitesAndBuildings().then((r) => {
    registry = r;
    const want = site.value;
    options(site, [["", t("all")], ...r.sites.map((s) => [s.id, siteName(s.id)])]);
    if (want && !r.sites.some((s) => s.id === want)) site.append(h("option", { value: want, text: want }));
    site.value = want;
    siteField.hidden = r.sites.length < 2 && !want;
    suggest();
  });

  async function run(append) {
    const values = {};
    for (const k of TICKET_KEYS) values[k] = controls[k].value.trim();
    keepParams(TICKET_KEYS, values);
    const p = new URLSearchParams();
    for (const k of TICKET_KEYS) if (values[k]) p.set(k, k === "to" ? nextDay(values[k]) : values[k]);
    offset = append ? offset : 0;
    p.set("limit", String(PAGE));
    p.set("offset", String(offset));
    count.className = "search-count";
    count.textContent = t("searching");
    delete count.dataset.found; // set again by this search's answer only
    if (!append) more.hidden = true; // the next page of the list being replaced
    const mine = ++asked;
    try {
      const data = await api("GET", "/api/tickets?" + p);
      if (mine !== asked) return;
      const list = data.tickets || [];
      if (!append) results.replaceChildren();
      results.append(...list.map(ticketHit));
      offset += list.length;
      more.hidden = list.length < PAGE;
      const n = results.children.length;
      count.dataset.found = String(n);
      count.textContent = n ? t(more.hidden ? "searchFound" : "searchFoundMore", { n }) : t("searchNone");
      count.classList.toggle("empty", n === 0);
    } catch (e) {
      if (mine !== asked) return;
      count.className = "search-count error";
      count.dataset.found = "";
      count.textContent = t("failed", { e: e.message });
      if (e.field && controls[e.field]) controls[e.field].setAttribute("aria-invalid", "true");
    }
  }
  for (const c of Object.values(controls)) c.addEventListener("input", () => c.removeAttribute("aria-invalid"));
  run(false);
  return section;
}

function house(tk) {
  return [siteName(tk.site), tk.building, tk.unit && t("unitN", { u: tk.unit }), tk.room].filter(Boolean).join(" / ") +
    (tk.location ? " · " + tk.location : "");
}

function ticketHit(tk) {
  return h("li", { class: "search-hit level-" + tk.level, dataset: { ticket: String(tk.id), number: tk.number || "" } },
    h("div", { class: "hit-head" },
      h("span", { class: "badge l" + tk.level, text: "L" + tk.level }), " ",
      h("a", { href: "#/ticket/" + enc(tk.id), class: "hit-number", text: tk.number || "#" + tk.id }), " ",
      h("span", { class: "status", dataset: { status: tk.status }, text: label("st", tk.status) }), " ",
      h("span", { class: "hit-cat", dataset: { category: tk.category }, text: label("cat", tk.category) })),
    h("div", { class: "hit-place", text: house(tk) }),
    h("div", { class: "hit-desc", text: describeTicket(tk) }),
    h("div", { class: "hit-when", text: when(tk.created_at, tk.site) }));
}

// alarmSearch is the "Search alarms" section.
export function alarmSearch() {
  const q = input("as-q", "aq", { type: "search", placeholder: t("alarmSearchHint"), enterkeyhint: "search" });
  const level = options(h("select", { id: "as-level", name: "alevel" }), [["", t("all")], ["1", "L1"], ["2", "L2"], ["3", "L3"]]);
  const from = input("as-from", "afrom", { type: "date" });
  const to = input("as-to", "ato", { type: "date" });
  const controls = { aq: q, alevel: level, afrom: from, ato: to };
  const count = h("p", { class: "search-count", id: "as-count", role: "status", "aria-live": "polite" });
  const results = h("ol", { class: "search-results", id: "as-results" });
  const form = h("form", { class: "search-form", id: "alarm-search", role: "search", onsubmit: (e) => { e.preventDefault(); run(); } },
    labelled(t("alarmSearchText"), q),
    h("div", { class: "grid3" }, labelled(t("level"), level), labelled(t("fromDay"), from), labelled(t("toDay"), to)),
    h("div", { class: "search-actions" },
      h("button", { type: "submit", class: "primary", id: "as-go", text: t("searchGo") }),
      h("button", { type: "button", id: "as-clear", text: t("searchClear"), onclick: () => {
        for (const c of Object.values(controls)) c.value = "";
        run();
      } })));
  const section = h("section", { class: "column wide search", id: "alarm-archive", "aria-labelledby": "alarm-archive-h" },
    h("h2", { id: "alarm-archive-h", text: t("alarmSearchTitle") }), form, count, results);
  const start = hashParams();
  let inAddress = false;
  for (const k of ALARM_KEYS) if (start.get(k)) { controls[k].value = start.get(k); inAddress = true; }
  let asked = 0; // as for the tickets: only the newest search's answer is shown

  async function run() {
    const values = {};
    for (const k of ALARM_KEYS) values[k] = controls[k].value.trim();
    keepParams(ALARM_KEYS, values);
    const p = new URLSearchParams();
    if (values.aq) p.set("q", values.aq);
    if (values.alevel) p.set("level", values.alevel);
    if (values.afrom) p.set("from", values.afrom);
    if (values.ato) p.set("to", nextDay(values.ato));
    count.className = "search-count";
    count.textContent = t("searching");
    delete count.dataset.found;
    const mine = ++asked;
    try {
      const data = await api("GET", "/api/alarms?" + p);
      if (mine !== asked) return;
      const list = (data.alarms || []).slice(0, ALARMS_SHOWN);
      results.replaceChildren(...list.map(alarmHit));
      count.dataset.found = String(list.length);
      const all = (data.alarms || []).length;
      count.textContent = !list.length ? t("alarmSearchNone") : all > list.length ? t("searchNewest", { n: list.length }) : t("searchFound", { n: list.length });
      count.classList.toggle("empty", list.length === 0);
    } catch (e) {
      if (mine !== asked) return;
      count.className = "search-count error";
      count.dataset.found = "";
      count.textContent = t("failed", { e: e.message });
      const c = controls[{ q: "aq", level: "alevel", from: "afrom", to: "ato" }[e.field]];
      if (c) c.setAttribute("aria-invalid", "true");
    }
  }
  // The live alarms are on the board above: the search answers when asked
  // (or when the address holds its filters).
  if (inAddress) run();
  else count.textContent = t("alarmSearchAsk");
  return section;
}

function alarmHit(a) {
  return h("li", { class: "search-hit level-" + a.level, dataset: { alarm: a.id, device: a.device_id || "" } },
    h("div", { class: "hit-head" },
      h("span", { class: "badge l" + a.level, text: "L" + a.level }), " ",
      a.ticket_id ? h("a", { href: "#/ticket/" + enc(a.ticket_id), class: "hit-number", text: a.ticket_number || t("open") }) : null, " ",
      h("span", { class: "alarm-state " + a.status, text: t("as_" + a.status) })),
    h("div", { class: "hit-desc", text: describeAlarm(a) || a.message || "" }),
    h("div", { class: "hit-place", text: [siteName(a.site), a.building, a.location].filter(Boolean).join(" / ") + (a.device_id ? " · " + a.device_id : "") }),
    h("div", { class: "hit-when", text: when(a.raised_at, a.site) }));
}
