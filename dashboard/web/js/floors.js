// Where the live faults are: a site's buildings (columns) and floors
// (rows), each floor with its active alarms by level and open tickets,
// coloured by the worst. A floor opens into its plan with the devices on
// it, coloured by their state, and the list of its live faults linking to
// their tickets; a floor without a plan lists its devices. The layout
// (devices, plans, positions) comes from GET /api/floors; what is wrong
// where comes from the live picture (the server's snapshot, then its
// events), so the page changes as alarms arrive. An admin uploads a
// floor's plan; an engineer or admin places devices on it by clicking.

import { h, options, statusLine, say, perFrame, keyed } from "./dom.js";
import { getLang, siteName } from "./i18n.js";
import { kindName } from "./words.js";
import { describeAlarm, describeTicket } from "./describe.js";
import { live, subscribe } from "./live.js";
import { api, enc, getToken, latest } from "./api.js";
import { session } from "./session.js";

const WORDS = {
  en: {
    title: "Floors", intro: "Where the live faults are: each column a building, each row a floor. Open a floor to see its plan and its faults.",
    site: "Site", floor: "Floor", noFloor: "Floor not given", floorN: "Floor {f}", building: "Building {b}",
    a1: "L1 emergency: {n}", a2: "L2 alarms: {n}", a3: "L3 alarms: {n}", tickets: "Open tickets: {n}", offline: "Not reporting: {n}",
    ok: "All fine", noDevices: "No devices", loading: "Loading…", failed: "Not loaded: {e}", none: "No devices are placed by building yet.",
    st_l1: "L1 emergency", st_l2: "L2 alarm", st_l3: "L3 alarm", st_offline: "not reporting", st_ok: "fine",
    legend: "Colours", faults: "Live faults on this floor", noFaults: "No live faults on this floor.", devices: "Devices on this floor",
    noPlan: "This floor has no plan yet.", plan: "Floor plan of {b}, {f}", openTicket: "ticket {n}", noTicket: "no ticket yet",
    upload: "Upload a floor plan (PNG or JPEG)", uploadBtn: "Upload plan", uploaded: "Floor plan saved.", uploading: "Uploading…",
    tooLarge: "The image is too large.", badType: "That is not a PNG or JPEG image.", chooseFile: "Choose an image first.",
    place: "Place a device on the plan", placeHint: "Pick a device, then click on the plan where it is.", pick: "— pick a device —",
    clickPlan: "Now click on the plan where {d} is.", placed: "{d} placed.", notPlaced: "not placed on the plan",
    close: "Back to all floors", alarm: "alarm", more: "(and {n} more alarm(s) of this ticket)",
  },
  "zh-CN": {
    title: "楼层分布", intro: "实时故障在哪里：每列一栋楼，每行一层。点开一层可看平面图和该层的故障。",
    site: "项目", floor: "楼层", noFloor: "未注明楼层", floorN: "{f} 层", building: "{b}",
    a1: "一级紧急告警：{n}", a2: "二级告警：{n}", a3: "三级告警：{n}", tickets: "未完成工单：{n}", offline: "离线设备：{n}",
    ok: "正常", noDevices: "无设备", loading: "加载中…", failed: "未能加载：{e}", none: "还没有按楼栋登记的设备。",
    st_l1: "一级紧急", st_l2: "二级告警", st_l3: "三级告警", st_offline: "离线", st_ok: "正常",
    legend: "颜色说明", faults: "本层实时故障", noFaults: "本层没有实时故障。", devices: "本层设备",
    noPlan: "本层还没有平面图。", plan: "{b} {f} 平面图", openTicket: "工单 {n}", noTicket: "尚未生成工单",
    upload: "上传楼层平面图（PNG 或 JPEG）", uploadBtn: "上传平面图", uploaded: "平面图已保存。", uploading: "正在上传…",
    tooLarge: "图片太大。", badType: "这不是 PNG 或 JPEG 图片。", chooseFile: "请先选择图片。",
    place: "在平面图上标出设备位置", placeHint: "先选设备，再在平面图上点击它所在的位置。", pick: "— 选择设备 —",
    clickPlan: "请在平面图上点击 {d} 所在的位置。", placed: "已标出 {d} 的位置。", notPlaced: "尚未标在平面图上",
    close: "返回全部楼层", alarm: "告警", more: "（本工单另有 {n} 条告警）",
  },
};

function w(key, vars) {
  let out = (WORDS[getLang()] || WORDS.en)[key] || WORDS.en[key] || key;
  for (const [k, v] of Object.entries(vars || {})) out = out.split("{" + k + "}").join(String(v));
  return out;
}

const STATES = ["l1", "l2", "l3", "offline", "ok"];
// The page's choices survive a redraw (a language change mounts it again).
const view = { site: "", open: null }; // open: {building, floor}

const key = (b, f) => b + "\u0000" + (f || "");
const floorName = (f) => (f ? w("floorN", { f }) : w("noFloor"));

export function mount(root) {
  const status = h("p", { id: "floors-status", role: "status", text: w("loading") });
  const siteSel = h("select", { id: "floors-site", onchange: () => { view.site = siteSel.value; view.open = null; draw(); } });
  const siteBox = h("label", { class: "inline", hidden: true }, h("span", { text: w("site") }), siteSel);
  const legend = h("ul", { class: "floor-legend", "aria-label": w("legend") },
    STATES.map((s) => h("li", { class: "state-" + s }, h("span", { class: "swatch", "aria-hidden": "true" }), w("st_" + s))));
  const gridBox = h("div", { class: "table-wrap floors-wrap" });
  const detail = h("section", { class: "card floor-detail", id: "floor-detail", hidden: true, "aria-live": "polite" });
  const result = statusLine("floor-result");
  root.replaceChildren(h("section", { class: "card floors" },
    h("h2", { text: w("title") }), h("p", { class: "hint", text: w("intro") }), siteBox, legend, status, gridBox), detail);

  let layout = null; // GET /api/floors
  let gone = false;
  let reloadAt = 0;
  const plans = new Map(); // plan key -> data: URL
  let placing = ""; // device being placed

  // Reads overlap (a fault on an unknown floor, an upload): an older
  // layout landing last would hide a plan just uploaded.
  const newest = latest();
  async function load() {
    try {
      layout = await newest(api("GET", "/api/floors"));
      if (gone) return;
      status.textContent = "";
      draw();
    } catch (e) {
      if (!gone) status.textContent = w("failed", { e: e.message });
    }
  }

  function sites() { return (layout && layout.sites) || []; }
  function current() {
    const list = sites();
    return list.find((s) => s.site === view.site) || list[0] || null;
  }

  // compute folds the live picture onto the site's floors.
  function compute(sf) {
    const where = new Map(sf.devices.map((d) => [d.device_id, key(d.building, d.floor)]));
    const cells = new Map();
    for (const c of sf.floors) {
      cells.set(key(c.building, c.floor), { building: c.building, floor: c.floor, plan: c.plan, a: { 1: 0, 2: 0, 3: 0 }, tickets: 0, devices: 0, offline: 0, worst: 0, faults: [] });
    }
    const devs = new Map();
    for (const d of sf.devices) {
      const st = live.devices.get(d.device_id);
      const online = st ? !!st.online : !!d.online;
      devs.set(d.device_id, Object.assign({}, d, { online, worst: 0 }));
      const c = cells.get(where.get(d.device_id));
      if (c) { c.devices++; if (!online) c.offline++; }
    }
    let unknown = false;
    const worse = (cur, l) => (l >= 1 && l <= 3 && (!cur || l < cur) ? l : cur);
    const cellOf = (dev, building, floor) => {
      const k = where.get(dev) || (building ? key(building, floor) : null);
      if (!k) return null;
      if (!cells.has(k)) { unknown = true; return null; }
      return cells.get(k);
    };
    const listed = new Set(); // tickets shown through their alarm
    for (const a of live.alarms.values()) {
      if (a.shadow || a.state === "cleared" || a.site !== sf.site) continue;
      const c = cellOf(a.device_id, a.building, "");
      if (!c) continue;
      if (c.a[a.level] !== undefined) c.a[a.level]++;
      c.worst = worse(c.worst, a.level);
      const d = devs.get(a.device_id);
      if (d) d.worst = worse(d.worst, a.level);
      // The alarms of one ticket (gas past the pre-alarm, then the
      // alarm level) are one fault: one row, led by the most severe.
      const tk = a.ticket_id && live.tickets.get(a.ticket_id);
      const fkey = a.ticket_id ? "t:" + a.ticket_id : "a:" + a.id;
      const prev = c.faults.find((f) => f.key === fkey);
      if (prev && (prev.level || 9) <= (a.level || 9)) { prev.more++; continue; }
      if (a.ticket_id) listed.add(a.ticket_id);
      const row = { key: fkey, level: a.level, text: describeAlarm(a) || a.message || w("alarm"), device: a.device_id,
        ticketId: a.ticket_id, number: a.ticket_number || (tk && tk.number), more: prev ? prev.more + 1 : 0 };
      if (prev) Object.assign(prev, row);
      else c.faults.push(row);
    }
    for (const tk of live.tickets.values()) {
      if (tk.site !== sf.site) continue;
      const c = cellOf(tk.device_id, tk.building, tk.floor || "");
      if (!c) continue;
      c.tickets++;
      c.worst = worse(c.worst, tk.level);
      const d = devs.get(tk.device_id);
      if (d) d.worst = worse(d.worst, tk.level);
      if (!listed.has(tk.id)) c.faults.push({ key: "t:" + tk.id, level: tk.level, text: describeTicket(tk), device: tk.device_id, ticketId: tk.id, number: tk.number, more: 0 });
    }
    for (const c of cells.values()) {
      c.state = c.worst ? "l" + c.worst : c.offline ? "offline" : "ok";
      c.faults.sort((x, y) => (x.level || 9) - (y.level || 9));
    }
    for (const d of devs.values()) d.state = d.worst ? "l" + d.worst : d.online ? "ok" : "offline";
    // A fault on a floor the layout does not know yet: ask again (at
    // most every few seconds), the server orders the floors.
    if (unknown && Date.now() > reloadAt) { reloadAt = Date.now() + 3000; load(); }
    return { cells, devs };
  }

  function cellWords(c) {
    const out = [];
    for (const l of [1, 2, 3]) if (c.a[l]) out.push(w("a" + l, { n: c.a[l] }));
    if (c.tickets) out.push(w("tickets", { n: c.tickets }));
    if (c.offline && !c.worst) out.push(w("offline", { n: c.offline }));
    if (!out.length) out.push(c.devices ? w("ok") : w("noDevices"));
    return out;
  }

  function draw() {
    if (gone || !layout) return;
    const list = sites();
    siteBox.hidden = list.length < 2;
    options(siteSel, list.map((s) => [s.site, siteName(s.site)]));
    const sf = current();
    if (!sf) { status.textContent = w("none"); gridBox.replaceChildren(); detail.hidden = true; return; }
    siteSel.value = sf.site;
    const { cells, devs } = compute(sf);
    const table = h("table", { class: "floor-grid", id: "floors-grid" },
      h("caption", { class: "sr-only", text: w("title") + " · " + siteName(sf.site) }),
      h("thead", {}, h("tr", {}, h("th", { scope: "col", text: w("floor") }), sf.buildings.map((b) => h("th", { scope: "col", text: b })))),
      h("tbody", {}, sf.floor_order.map((f) => h("tr", {},
        h("th", { scope: "row", text: f || w("noFloor") }),
        sf.buildings.map((b) => {
          const c = cells.get(key(b, f));
          if (!c) return h("td", { class: "empty-cell" });
          const isOpen = view.open && view.open.building === b && view.open.floor === f;
          return h("td", {}, h("button", { type: "button", class: "floor-cell state-" + c.state + (isOpen ? " open" : ""),
            "aria-pressed": String(!!isOpen), dataset: { building: b, floor: f, state: c.state },
            "aria-label": w("building", { b }) + " " + floorName(f) + ": " + cellWords(c).join(", "),
            onclick: () => { view.open = { building: b, floor: f }; placing = ""; draw(); detail.scrollIntoView({ block: "nearest" }); } },
          cellWords(c).map((line) => h("span", { class: "cell-line", text: line }))));
        })))));
    // A redraw keeps the keyboard where it was.
    const had = document.activeElement && document.activeElement.closest && document.activeElement.closest(".floor-cell");
    gridBox.replaceChildren(table);
    if (had) {
      const again = table.querySelector(`.floor-cell[data-building="${CSS.escape(had.dataset.building)}"][data-floor="${CSS.escape(had.dataset.floor)}"]`);
      if (again) again.focus();
    }
    drawDetail(sf, cells, devs);
  }

  function drawDetail(sf, cells, devs) {
    const c = view.open && cells.get(key(view.open.building, view.open.floor));
    if (!c) { detail.hidden = true; detail.replaceChildren(); forms.clear(); return; }
    detail.hidden = false;
    const here = [...devs.values()].filter((d) => d.building === c.building && (d.floor || "") === (c.floor || ""));
    const title = w("building", { b: c.building }) + " · " + floorName(c.floor);
    const faults = c.faults.length
      ? h("ul", { class: "floor-faults", id: "floor-faults" }, c.faults.map((f) => h("li", { class: "level-" + (f.level || 3), dataset: { key: f.key } },
        h("span", { class: "badge l" + (f.level || 3), text: "L" + (f.level || 3) }), " ", f.text, f.more ? h("span", { class: "sub", text: " " + w("more", { n: f.more }) }) : null,
        f.device ? h("span", { class: "sub", text: " · " + f.device }) : null, " ",
        f.ticketId ? h("a", { href: "#/ticket/" + f.ticketId, text: w("openTicket", { n: f.number || f.ticketId }) }) : h("span", { class: "sub", text: w("noTicket") }))))
      : h("p", { class: "empty", id: "floor-faults-none", text: w("noFaults") });
    const devList = h("ul", { class: "floor-devices", id: "floor-devices" }, here.map((d) => h("li", { class: "state-" + d.state, dataset: { device: d.device_id, state: d.state } },
      h("span", { class: "swatch", "aria-hidden": "true" }), h("strong", { text: d.device_id }), " · " + kindName(d.kind) + (d.location ? " · " + d.location : "") + " · " + w("st_" + d.state) +
      (c.plan && d.x == null ? " · " + w("notPlaced") : ""))));
    const parts = [h("div", { class: "floor-head" }, h("h3", { text: title }),
      h("button", { type: "button", id: "floor-close", text: w("close"), onclick: () => { view.open = null; draw(); } })),
    h("h4", { text: w("faults") }), faults];
    if (c.plan) parts.push(planBox(sf, c, here));
    else parts.push(h("p", { class: "hint", id: "floor-no-plan", text: w("noPlan") }));
    parts.push(h("h4", { text: w("devices") }), devList);
    if (session.may("place") && c.plan && here.length) parts.push(formOf("place:" + key(sf.site, key(c.building, c.floor)) + ":" + here.map((d) => d.device_id + "\u0000" + (d.location || "")).join("|"), () => placeForm(here)));
    if (session.may("floorplan")) parts.push(formOf("upload:" + key(sf.site, key(c.building, c.floor)), () => uploadForm(sf.site, c)));
    parts.push(result);
    for (const k of [...forms.keys()]) if (!parts.includes(forms.get(k))) forms.delete(k);
    // keyed: the forms kept stay in place, with their focus.
    keyed(detail, parts);
    const sel = detail.querySelector("#place-device");
    if (sel && sel.value !== placing) sel.value = placing;
  }

  function planBox(sf, c, here) {
    const pk = key(sf.site, key(c.building, c.floor)) + "@" + c.plan.uploaded_at;
    const img = h("img", { class: "plan-img", id: "floor-plan", alt: w("plan", { b: c.building, f: floorName(c.floor) }), width: c.plan.width, height: c.plan.height });
    const box = h("div", { class: "plan-box" + (placing ? " placing" : ""), id: "plan-box" }, img);
    if (plans.has(pk)) img.src = plans.get(pk);
    else fetchPlan(sf.site, c, pk).then((url) => { if (url) img.src = url; });
    for (const d of here) {
      if (d.x == null || d.y == null) continue;
      const m = h("button", { type: "button", class: "marker state-" + d.state, dataset: { device: d.device_id, state: d.state },
        title: d.device_id + " · " + w("st_" + d.state), "aria-label": d.device_id + ": " + w("st_" + d.state),
        onclick: () => { const li = detail.querySelector(`.floor-devices li[data-device="${CSS.escape(d.device_id)}"]`); if (li) li.scrollIntoView({ block: "nearest" }); } },
      h("span", { class: "marker-dot", "aria-hidden": "true" }), h("span", { class: "marker-label", text: d.device_id }));
      // CSSOM, not a style attribute: the page's CSP allows no inline style.
      m.style.left = (d.x * 100) + "%";
      m.style.top = (d.y * 100) + "%";
      box.append(m);
    }
    box.addEventListener("click", async (e) => {
      if (!placing || e.target.closest(".marker")) return;
      const r = img.getBoundingClientRect();
      if (!r.width || !r.height) return;
      const x = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
      const y = Math.min(1, Math.max(0, (e.clientY - r.top) / r.height));
      const dev = placing;
      try {
        const pos = await api("PUT", "/api/devices/" + enc(dev) + "/position", { x: Math.round(x * 10000) / 10000, y: Math.round(y * 10000) / 10000 });
        const d = sf.devices.find((v) => v.device_id === dev);
        if (d) { d.x = pos.x; d.y = pos.y; }
        placing = "";
        draw();
        say(result, "ok", w("placed", { d: dev }));
      } catch (err) {
        say(result, "error", err.message);
      }
    });
    return box;
  }

  // The image needs the token, which an <img> cannot send: it is fetched
  // and shown as a data: URL (the CSP allows images from 'self' and data:).
  async function fetchPlan(site, c, pk) {
    try {
      const q = "site=" + enc(site) + "&building=" + enc(c.building) + "&floor=" + enc(c.floor || "");
      const resp = await fetch("/api/floors/plan?" + q, { headers: { Authorization: "Bearer " + getToken() } });
      if (!resp.ok) return "";
      const blob = await resp.blob();
      const url = await new Promise((ok, fail) => { const r = new FileReader(); r.onload = () => ok(r.result); r.onerror = fail; r.readAsDataURL(blob); });
      plans.set(pk, url);
      return url;
    } catch (_) {
      return "";
    }
  }

  function placeForm(here) {
    const sel = h("select", { id: "place-device" });
    options(sel, [["", w("pick")], ...here.map((d) => [d.device_id, d.device_id + (d.location ? " · " + d.location : "")])]);
    sel.value = placing;
    sel.addEventListener("change", () => {
      placing = sel.value;
      const box = detail.querySelector("#plan-box");
      if (box) box.classList.toggle("placing", !!placing);
      say(result, "", placing ? w("clickPlan", { d: placing }) : "");
    });
    return h("div", { class: "place-form" }, h("label", { class: "field" }, h("span", { class: "label", text: w("place") }), sel,
      h("span", { class: "hint", text: w("placeHint") })));
  }

  // The open floor's forms are kept across redraws: every event redraws
  // the floor, and new ones would lose the file chosen, the focus, an
  // open list.
  const forms = new Map(); // key -> form
  function formOf(k, make) {
    if (!forms.has(k)) forms.set(k, make());
    return forms.get(k);
  }

  function uploadForm(site, c) {
    const input = h("input", { type: "file", id: "plan-file", name: "plan", accept: "image/png,image/jpeg" });
    const form = h("form", { class: "upload-form", id: "plan-upload" },
      h("label", { class: "field" }, h("span", { class: "label", text: w("upload") }), input),
      h("button", { type: "submit", class: "primary", text: w("uploadBtn") }));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const file = input.files && input.files[0];
      if (!file) { say(result, "error", w("chooseFile")); return; }
      const fd = new FormData();
      fd.append("plan", file);
      say(result, "", w("uploading"));
      try {
        const q = "site=" + enc(site) + "&building=" + enc(c.building) + "&floor=" + enc(c.floor || "");
        await api("PUT", "/api/floors/plan?" + q, fd);
        input.value = "";
        say(result, "ok", w("uploaded"));
        load();
      } catch (err) {
        say(result, "error", err.status === 413 ? w("tooLarge") : err.status === 415 ? w("badType") : err.message);
      }
    });
    return form;
  }

  // Events are drawn once a frame, however many came.
  const frame = perFrame(() => { if (!gone) draw(); });
  const unsub = subscribe((msg) => { if (msg.type !== "reading" && msg.type !== "conn") frame(); });
  load();
  return () => { gone = true; newest.drop(); unsub(); frame.cancel(); };
}
