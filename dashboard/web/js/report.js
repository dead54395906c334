// The phone page for patrol staff and front-desk agents: what, where,
// photos from the camera; it suggests a level and confirms with the
// ticket number.

import { h, field, options, showFieldError, clearFieldErrors } from "./dom.js";
import { t, label, getLang, siteName } from "./i18n.js";
import { api, enc } from "./api.js";
import { session } from "./session.js";

const CATEGORIES = ["water_electric", "civil", "equipment", "public_area", "gas", "fire"];
const SOURCES = ["patrol", "resident", "phone", "front_desk", "third_party"];

// Words that make a report an emergency whatever its category.
const URGENT = /gas|smell|leak|flood|pour|burst|trapped|stuck|smoke|fire|spark|short circuit|power cut|燃气|煤气|漏水|跑水|爆管|困人|冒烟|着火|火|短路|停电/i;

export function suggestLevel(category, text) {
  if (category === "gas" || category === "fire" || URGENT.test(text || "")) return 1;
  if (category === "public_area") return 3;
  return 2;
}

// urgentWord is the word that makes a report sound like an emergency
// when only its wording does (not its category); "" otherwise. Such a
// report is not made L1 silently: the page asks.
export function urgentWord(category, text) {
  if (category === "gas" || category === "fire") return "";
  const m = URGENT.exec(text || "");
  return m ? m[0] : "";
}

export function mount(root) {
  const el = (name, tag, attrs) => h(tag || "input", Object.assign({ name, id: "report-" + name }, attrs || {}));
  const source = options(el("source", "select"), SOURCES.map((s) => [s, label("src", s)]));
  if (session.me && session.me.role === "patrol") source.value = "patrol";
  const category = options(el("category", "select"), CATEGORIES.map((c) => [c, label("cat", c)]));
  const scope = options(el("scope", "select"), [["public", t("scope_public")], ["in_home", t("scope_in_home")]]);
  const level = options(el("level", "select"), [["", t("levelAuto")], ["1", "L1"], ["2", "L2"], ["3", "L3"]]);
  const site = el("site", "input", { required: true, autocomplete: "off", list: "report-sites" });
  const sites = h("datalist", { id: "report-sites" });
  // The house: picked from the site's buildings, units, floors and rooms
  // when the server lists them (GET /api/sites), typed otherwise.
  const building = slot("building", { required: true, list: "report-buildings" });
  const buildings = h("datalist", { id: "report-buildings" });
  const unit = slot("unit");
  const floor = slot("floor", { inputmode: "numeric" });
  const room = slot("room");
  const location = el("location", "input", { required: true, autocomplete: "off" });
  const description = el("description", "textarea", { rows: 3, required: true });
  const photos = el("photos", "input", { type: "file", accept: "image/*", capture: "environment", multiple: true });
  const reporter = el("reporter", "input", { autocomplete: "name", value: session.me ? session.me.name : "" });
  const phone = el("phone", "input", { type: "tel", autocomplete: "tel" });
  const hint = h("p", { class: "hint", id: "report-suggested", role: "status" });
  const result = h("div", { class: "result", id: "report-result", role: "status", "aria-live": "polite" });
  const sendBtn = h("button", { type: "submit", class: "primary big", text: t("send") });
  // The question when the words alone suggest an emergency: the reporter
  // decides, the page does not.
  const ask = h("div", { class: "level-ask", id: "report-level-ask", role: "alertdialog", hidden: true });

  const suggest = () => {
    hint.textContent = t("suggested", { n: suggestLevel(category.value, description.value) });
    ask.hidden = true;
  };
  level.addEventListener("change", () => { ask.hidden = true; });
  category.addEventListener("change", suggest);
  description.addEventListener("input", suggest);
  const inHome = () => { for (const x of [unit, room]) x.wrap.hidden = scope.value !== "in_home"; };
  scope.addEventListener("change", inHome);

  const form = h("form", { class: "card phone", id: "report-form", novalidate: true, onsubmit: submit },
    h("h2", { text: t("fileReport") }),
    field(t("category"), category), field(t("description"), description), hint,
    h("div", { class: "grid2" }, field(t("scope"), scope), field(t("source"), source)),
    h("div", { class: "grid2 report-house" }, field(t("site"), site), building.wrap),
    h("div", { class: "grid3 report-house" }, unit.wrap, floor.wrap, room.wrap),
    field(t("location"), location), sites, buildings,
    field(t("takePhoto"), photos),
    field(t("level"), level),
    h("div", { class: "grid2" }, field(t("reporter"), reporter), field(t("phone"), phone)),
    // Where the thumb is: the question, the button and the answer stay at
    // the bottom of the screen (style.css .submit-bar).
    h("div", { class: "submit-bar", id: "report-submit-bar" }, ask, sendBtn, result));
  root.replaceChildren(form);
  inHome();
  suggest();
  prefill();

  // registry: the sites as the server lists them (with their buildings);
  // devices: the buildings the devices are in, offered to a site with none.
  let registry = [];
  let devices = [];
  async function prefill() {
    try { registry = (await api("GET", "/api/sites")).sites || []; } catch (_) { /* typed then */ }
    try { devices = (await api("GET", "/api/devices")).devices || []; } catch (_) { /* typed then */ }
    const ids = [...new Set([...registry.map((s) => s.id), ...devices.map((d) => d.site)].filter(Boolean))];
    sites.replaceChildren(...ids.map((s) => h("option", { value: s, text: siteName(s) })));
    if (!site.value && ids.length === 1) site.value = ids[0];
    house();
  }

  // house offers the building, unit, floor and room of the site typed or
  // picked: from its lists where it has them, typed where it has none.
  function house() {
    const st = registry.find((x) => x.id === site.value.trim());
    const list = (st && st.buildings) || [];
    building.offer(list.length ? list.map((b) => [b.id, buildingName(b), [b.name, b.name_en]]) : null);
    const seen = [...new Set(devices.filter((d) => d.site === site.value.trim() && d.building).map((d) => d.building))].sort();
    buildings.replaceChildren(...seen.map((b) => h("option", { value: b })));
    const b = list.find((x) => x.id === building.value);
    unit.offer(b && b.units && b.units.length ? b.units.map((u) => [u, u]) : null);
    floor.offer(b && b.floors ? Array.from({ length: b.floors }, (_, i) => [String(i + 1), String(i + 1)]) : null);
    if (b && b.floors && b.rooms && b.rooms.length) {
      const f = Number(floor.value);
      room.offer(f ? b.rooms.map((r) => [String(f) + r, String(f) + r]) : [], f ? "" : t("pickFloorFirst"));
    } else {
      room.offer(null);
    }
    inHome();
  }
  site.addEventListener("input", house);
  site.addEventListener("change", house);
  for (const x of [building, floor]) x.onPick(house);

  async function submit(ev) {
    ev.preventDefault();
    clearFieldErrors(form);
    result.className = "result";
    result.replaceChildren();
    for (const [name, v] of [["description", description.value], ["site", site.value], ["building", building.value], ["location", location.value]]) {
      if (!v.trim()) { showFieldError(form, name, t("required")); return; }
    }
    const word = urgentWord(category.value, description.value);
    if (word && !level.value) {
      const pick = (n) => () => { level.value = String(n); ask.hidden = true; form.requestSubmit(); };
      ask.replaceChildren(h("p", { class: "warn", id: "report-level-q", text: t("levelAsk", { w: word }) }),
        h("div", { class: "grid2" },
          h("button", { type: "button", class: "warn", id: "report-level-l1", text: t("levelAskYes"), onclick: pick(1) }),
          h("button", { type: "button", id: "report-level-l2", text: t("levelAskNo"), onclick: pick(2) })));
      ask.hidden = false;
      result.className = "result error";
      result.textContent = t("levelAskFirst");
      ask.querySelector("button").focus();
      return;
    }
    const body = {
      source: source.value, category: category.value, scope: scope.value,
      site: site.value.trim(), building: building.value, location: location.value.trim(),
      description: description.value.trim(),
      reporter: { name: reporter.value.trim(), phone: phone.value.trim() },
    };
    for (const [k, c] of [["unit", unit], ["floor", floor], ["room", room]]) if (c.value && !c.wrap.hidden) body[k] = c.value;
    if (level.value) body.level = Number(level.value);
    sendBtn.disabled = true;
    try {
      const tk = await api("POST", "/api/tickets", body);
      const lines = [h("p", { class: "ticket-number", id: "report-number", text: t(tk.merged ? "merged" : "created", { n: tk.number }) })];
      if (tk.verification_code) lines.push(h("p", { text: t("codeForOwner", { c: tk.verification_code }) }));
      result.className = "result ok";
      result.replaceChildren(...lines);
      if (photos.files.length) result.append(await upload(tk.id, photos.files, "before", tk.report_id));
      description.value = "";
      location.value = "";
      photos.value = "";
      level.value = "";
      suggest();
    } catch (e) {
      result.className = "result error";
      result.textContent = t("failed", { e: e.message });
      if (e.field) showFieldError(form, e.field, e.message);
    } finally {
      sendBtn.disabled = false;
    }
  }
  return () => {};
}

// slot is one part of the house: a select of the registry's values when
// offer gets a list, a text field when it gets null. value is what the
// shown one holds, trimmed; onPick(fn) runs fn when either changes.
function slot(name, attrs) {
  const typed = h("input", Object.assign({ name, id: "report-" + name, autocomplete: "off" }, attrs || {}));
  const picked = h("select", { name, id: "report-" + name, required: !!(attrs && attrs.required) });
  const wrap = field(t(name), typed);
  let cur = typed;
  for (const c of [typed, picked]) {
    c.addEventListener("change", () => {
      c.removeAttribute("aria-invalid");
      const msg = wrap.querySelector(".field-error");
      if (msg.dataset.fromList) msg.textContent = msg.dataset.fromList = "";
    });
  }
  return {
    wrap,
    get value() { return cur.value.trim(); },
    onPick(fn) { picked.addEventListener("change", fn); typed.addEventListener("change", fn); },
    // offer(list) makes the slot a choice of list ([value, label,
    // other names]); offer(null) makes it typed. What was typed before
    // the list came (the site's lists land late, or the site changed) is
    // picked when it names an entry, and said to be missing otherwise,
    // never dropped without a word.
    offer(list, placeholder) {
      const keep = cur.value.trim();
      let missed = "";
      if (list) {
        options(picked, [["", placeholder || t("pickOne")], ...list]);
        const norm = (v) => String(v || "").trim().toLowerCase();
        const match = list.find(([v]) => v === keep) ||
          (keep ? list.find(([v, l, also]) => [v, l, ...(also || [])].some((n) => norm(n) === norm(keep))) : null);
        picked.value = match ? match[0] : list.length === 1 ? list[0][0] : "";
        picked.disabled = list.length === 0;
        if (cur === typed && keep && !match) missed = keep;
      }
      const next = list ? picked : typed;
      if (next !== cur) {
        if (next === typed) typed.value = "";
        cur.replaceWith(next);
        cur = next;
      }
      const msg = wrap.querySelector(".field-error");
      if (missed) {
        msg.textContent = t("typedNotListed", { v: missed });
        msg.dataset.fromList = "1";
        picked.setAttribute("aria-invalid", "true");
      } else if (msg.dataset.fromList && (next !== picked || picked.value)) {
        msg.textContent = msg.dataset.fromList = "";
      }
    },
  };
}

// buildingName: the building's name in the user's language, else its id.
function buildingName(b) {
  const n = getLang() === "zh-CN" ? b.name : b.name_en || b.name;
  return n && n !== b.id ? n + " (" + b.id + ")" : b.id;
}

// upload sends the photos one by one; the answer is a line saying how it went.
export async function upload(ticketID, files, stage = "before", reportID = 0) {
  let sent = 0;
  for (const f of files) {
    const fd = new FormData();
    fd.append("photo", f, f.name);
    try {
      await api("POST", "/api/tickets/" + enc(ticketID) + "/photos?stage=" + enc(stage) + (reportID ? "&report=" + enc(reportID) : ""), fd);
      sent++;
    } catch (e) {
      const why = e.missing ? t("notAvailable", { what: "/api/tickets/{id}/photos" }) : e.message;
      return h("p", { class: "error", text: t("photosFailed", { e: why }) });
    }
  }
  return h("p", { text: t("photosSent", { n: sent }) });
}
