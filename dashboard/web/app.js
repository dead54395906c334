// Caretaker control-room screen. Plain JS, no dependencies.
// Every piece of data goes into the page through textContent, never
// innerHTML, so a description such as "<script>" shows as text.
"use strict";

const I18N = {
  en: {
    title: "Caretaker", login: "Log in", logout: "Log out", token: "Access token",
    badToken: "That token was not accepted.", liveFaults: "Live faults", manualReports: "Manual reports",
    number: "No.", level: "Level", place: "Place", device: "Device", description: "Description", age: "Age",
    none: "Nothing open.", ack: "Ack", acked: "Acked", fileReport: "File a report", source: "Source",
    category: "Category", levelAuto: "Automatic", site: "Site", building: "Building", location: "Location",
    send: "Send", live: "live", connecting: "connecting…", offline: "offline", created: "Ticket {n} created.",
    merged: "Merged into open ticket {n}.", failed: "Not sent: {e}", alarm: "alarm",
    src_patrol: "Patrol", src_phone: "Phone", src_front_desk: "Front desk", src_resident: "Resident", src_third_party: "Third party",
    cat_water_electric: "Water and electric", cat_civil: "Civil", cat_equipment: "Equipment",
    cat_public_area: "Public area", cat_gas: "Gas", cat_fire: "Fire",
    s: "{n} s", m: "{n} min", h: "{n} h", d: "{n} d", lang: "中文",
  },
  "zh-CN": {
    title: "物业报修监控", login: "登录", logout: "退出", token: "访问令牌",
    badToken: "令牌无效。", liveFaults: "实时故障", manualReports: "人工报事",
    number: "编号", level: "等级", place: "位置", device: "设备", description: "描述", age: "时长",
    none: "暂无未结事项。", ack: "确认", acked: "已确认", fileReport: "提交报事", source: "来源",
    category: "类别", levelAuto: "自动", site: "项目", building: "楼栋", location: "具体位置",
    send: "提交", live: "在线", connecting: "连接中…", offline: "离线", created: "工单 {n} 已创建。",
    merged: "已合并到未结工单 {n}。", failed: "提交失败：{e}", alarm: "告警",
    src_patrol: "巡检发现", src_phone: "电话", src_front_desk: "前台", src_resident: "业主", src_third_party: "第三方平台",
    cat_water_electric: "水电", cat_civil: "土建", cat_equipment: "设备",
    cat_public_area: "公共区域维护", cat_gas: "燃气", cat_fire: "消防",
    s: "{n} 秒", m: "{n} 分钟", h: "{n} 小时", d: "{n} 天", lang: "English",
  },
};

const state = {
  lang: localStorage.getItem("caretaker.lang") || (navigator.language === "zh-CN" ? "zh-CN" : "en"),
  token: "",
  me: null,
  seq: null,          // last event number seen, for ?since= on reconnect
  alarms: new Map(),  // id -> alarm (active only)
  tickets: new Map(), // id -> open ticket
  devices: new Map(), // device_id -> status
  ws: null,
  retry: 0,
  retryTimer: null,
};

const $ = (id) => document.getElementById(id);

function t(key, vars) {
  let s = (I18N[state.lang] && I18N[state.lang][key]) || I18N.en[key] || key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace("{" + k + "}", String(v));
  return s;
}

function applyLang() {
  document.documentElement.lang = state.lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  $("lang").textContent = t("lang");
  document.title = t("title");
  setConn($("conn").dataset.state);
  render();
}

// ---- login ----------------------------------------------------------------

function tokenFromHash() {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (!m) return "";
  history.replaceState(null, "", location.pathname + location.search); // keep the token off the screen
  return decodeURIComponent(m[1]);
}

async function api(method, path, body) {
  const opts = { method, headers: { Authorization: "Bearer " + state.token } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  let data = null;
  try { data = await resp.json(); } catch (_) { /* empty body */ }
  if (!resp.ok) {
    const err = new Error((data && data.error) || resp.statusText);
    err.status = resp.status;
    err.field = data && data.field;
    throw err;
  }
  return data;
}

async function login(token) {
  state.token = token;
  try {
    state.me = await api("GET", "/api/me");
  } catch (e) {
    state.token = "";
    sessionStorage.removeItem("caretaker.token");
    showLogin(e.status === 401 ? t("badToken") : e.message);
    return;
  }
  sessionStorage.setItem("caretaker.token", token);
  $("who").textContent = state.me.name + " (" + state.me.role + ")";
  $("report-form").hidden = !state.me.may.report;
  $("logout").hidden = false;
  $("login-view").hidden = true;
  $("board-view").hidden = false;
  prefillSite();
  connect();
}

function showLogin(msg) {
  disconnect();
  $("board-view").hidden = true;
  $("logout").hidden = true;
  $("who").textContent = "";
  $("login-view").hidden = false;
  $("login-error").textContent = msg || "";
  $("token-input").focus();
}

function logout() {
  sessionStorage.removeItem("caretaker.token");
  state.token = "";
  state.seq = null;
  showLogin("");
}

async function prefillSite() {
  try {
    const data = await api("GET", "/api/devices");
    const site = data.devices.length ? data.devices[0].site : "";
    const input = $("report-form").elements.site;
    if (!input.value) input.value = site;
  } catch (_) { /* the form still works without it */ }
}

// ---- live updates ---------------------------------------------------------

function setConn(s) {
  const el = $("conn");
  el.dataset.state = s;
  el.className = "conn " + s;
  el.textContent = t(s);
}

function connect() {
  disconnect();
  setConn("connecting");
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  let url = proto + "//" + location.host + "/ws?token=" + encodeURIComponent(state.token);
  if (state.seq !== null) url += "&since=" + state.seq;
  const ws = new WebSocket(url);
  state.ws = ws;
  ws.onopen = () => { state.retry = 0; setConn("live"); };
  ws.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch (_) { return; }
    handle(msg);
  };
  ws.onclose = () => {
    if (state.ws !== ws) return; // replaced or logged out
    state.ws = null;
    setConn("offline");
    if (!state.token) return;
    const delay = Math.min(30000, 1000 * 2 ** state.retry++);
    state.retryTimer = setTimeout(checkThenConnect, delay);
  };
}

// After a drop, make sure the token is still good before reconnecting.
async function checkThenConnect() {
  try {
    await api("GET", "/api/me");
  } catch (e) {
    if (e.status === 401) { logout(); return; }
  }
  connect();
}

function disconnect() {
  clearTimeout(state.retryTimer);
  if (state.ws) {
    const ws = state.ws;
    state.ws = null;
    ws.close();
  }
}

function handle(msg) {
  if (typeof msg.seq === "number") state.seq = msg.seq;
  const d = msg.data || {};
  switch (msg.type) {
    case "snapshot":
      state.alarms = new Map((d.alarms || []).map((a) => [a.id, a]));
      state.tickets = new Map((d.tickets || []).map((tk) => [tk.id, tk]));
      state.devices = new Map((d.devices || []).map((s) => [s.device_id, s]));
      break;
    case "alarm.raised":
    case "alarm.updated":
    case "alarm.acked":
    case "alarm.cleared": {
      const a = d.alarm || d;
      if (!a.id) break;
      if (msg.type === "alarm.cleared" || a.state === "cleared") state.alarms.delete(a.id);
      else state.alarms.set(a.id, Object.assign(state.alarms.get(a.id) || {}, a));
      break;
    }
    case "ticket.created":
    case "ticket.updated":
    case "ticket.escalated": {
      const tk = d.ticket || d;
      if (!tk.id) break;
      if (["resolved", "closed", "cancelled"].includes(tk.status)) state.tickets.delete(tk.id);
      else state.tickets.set(tk.id, Object.assign(state.tickets.get(tk.id) || {}, tk));
      break;
    }
    case "device.status":
      if (d.device_id) state.devices.set(d.device_id, d);
      break;
    default:
      return; // readings and unknown types: nothing on this screen
  }
  render();
}

// ---- rendering --------------------------------------------------------------

function age(since) {
  const secs = Math.max(0, (Date.now() - new Date(since).getTime()) / 1000);
  if (!isFinite(secs)) return "";
  if (secs < 60) return t("s", { n: Math.floor(secs) });
  if (secs < 3600) return t("m", { n: Math.floor(secs / 60) });
  if (secs < 86400) return t("h", { n: Math.floor(secs / 3600) });
  return t("d", { n: Math.floor(secs / 86400) });
}

function place(x) {
  return [x.site, x.building, x.location].filter(Boolean).join(" / ");
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function row(item) {
  const tr = document.createElement("tr");
  tr.className = "level-" + (item.level || 3);
  cell(tr, item.number);
  cell(tr, item.level ? "L" + item.level : "", "lvl");
  cell(tr, item.place);
  cell(tr, item.device);
  cell(tr, item.description, "desc");
  cell(tr, age(item.since), "age");
  return tr;
}

function byUrgency(a, b) {
  return (a.level || 9) - (b.level || 9) || new Date(b.since) - new Date(a.since);
}

function liveItems() {
  const items = [];
  const alarmIDs = new Set();
  const ticketOfAlarm = new Map();
  for (const tk of state.tickets.values()) if (tk.alarm_id) ticketOfAlarm.set(tk.alarm_id, tk.number);
  for (const a of state.alarms.values()) {
    alarmIDs.add(a.id);
    items.push({
      kind: "alarm", alarm: a, level: a.level,
      number: a.ticket_number || ticketOfAlarm.get(a.id) || t("alarm"),
      place: place(a), device: a.device_id,
      description: a.message || a.rule_name || "",
      since: a.raised_at,
    });
  }
  for (const tk of state.tickets.values()) {
    if (tk.source !== "sensor" || alarmIDs.has(tk.alarm_id)) continue; // the alarm row shows it
    items.push({ kind: "ticket", level: tk.level, number: tk.number, place: place(tk), device: tk.device_id, description: tk.description, since: tk.created_at });
  }
  return items.sort(byUrgency);
}

function manualItems() {
  const items = [];
  for (const tk of state.tickets.values()) {
    if (tk.source === "sensor") continue;
    items.push({ level: tk.level, number: tk.number, place: place(tk), device: tk.device_id, description: tk.description, since: tk.created_at });
  }
  return items.sort(byUrgency);
}

function render() {
  if (!state.me) return;
  const live = liveItems();
  const liveBody = $("live-rows");
  liveBody.replaceChildren(...live.map((item) => {
    const tr = row(item);
    const td = document.createElement("td");
    if (item.kind === "alarm") {
      if (item.alarm.acked) {
        td.textContent = t("acked");
        td.className = "acked";
      } else if (state.me.may.ack) {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = t("ack");
        b.addEventListener("click", () => ack(item.alarm.id, b));
        td.appendChild(b);
      }
    }
    tr.appendChild(td);
    return tr;
  }));
  $("live-empty").hidden = live.length > 0;
  $("live-count").textContent = live.length ? "(" + live.length + ")" : "";

  const manual = manualItems();
  $("manual-rows").replaceChildren(...manual.map(row));
  $("manual-empty").hidden = manual.length > 0;
  $("manual-count").textContent = manual.length ? "(" + manual.length + ")" : "";
}

async function ack(id, button) {
  button.disabled = true;
  try {
    const a = await api("POST", "/api/alarms/" + encodeURIComponent(id) + "/ack");
    if (a && a.id) handle({ type: "alarm.acked", data: a });
  } catch (e) {
    button.disabled = false;
    button.title = e.message;
  }
}

async function fileReport(ev) {
  ev.preventDefault();
  const f = ev.target;
  const out = $("report-result");
  out.className = "";
  out.textContent = "";
  const body = {
    source: f.elements.source.value,
    category: f.elements.category.value,
    site: f.elements.site.value.trim(),
    building: f.elements.building.value.trim(),
    location: f.elements.location.value.trim(),
    scope: "public",
    description: f.elements.description.value.trim(),
    reporter: { name: state.me.name, phone: "" },
  };
  if (f.elements.level.value) body.level = Number(f.elements.level.value);
  const send = f.querySelector("button[type=submit]");
  send.disabled = true;
  try {
    const tk = await api("POST", "/api/tickets", body);
    out.textContent = t(tk.merged ? "merged" : "created", { n: tk.number });
    out.className = "ok";
    f.elements.description.value = "";
    f.elements.location.value = "";
  } catch (e) {
    out.textContent = t("failed", { e: e.message });
    out.className = "error";
    if (e.field && f.elements[e.field]) f.elements[e.field].focus();
  } finally {
    send.disabled = false;
  }
}

// ---- start ----------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("lang").addEventListener("click", () => {
    state.lang = state.lang === "en" ? "zh-CN" : "en";
    localStorage.setItem("caretaker.lang", state.lang);
    applyLang();
  });
  $("logout").addEventListener("click", logout);
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const tok = $("token-input").value.trim();
    $("token-input").value = "";
    if (tok) login(tok);
  });
  $("report-form").addEventListener("submit", fileReport);
  setInterval(render, 10000); // keep ages fresh
  applyLang();
  const tok = tokenFromHash() || sessionStorage.getItem("caretaker.token") || "";
  if (tok) login(tok);
  else showLogin("");
});
