// Caretaker web UI: login, navigation between the pages, the L1 banner.
// Plain ES modules, no build step, no dependencies. Every piece of data
// goes into the page through textContent (dom.js), never innerHTML.

import { h, $ } from "./dom.js";
import { t, setLang, getLang, onLangChange, applyStatic, when, setSites, label } from "./i18n.js";
import { roleName } from "./words.js";
import { loadRules } from "./rulebook.js";
import { describeAlarm } from "./describe.js";
import { api, setToken } from "./api.js";
import { live, subscribe, connect, reset } from "./live.js";
import { session } from "./session.js";
import { beep, soundEnabled, setSound } from "./sound.js";
import { ack, place } from "./board.js";
import * as board from "./board.js";
import * as detail from "./detail.js";
import * as report from "./report.js";
import * as tech from "./tech.js";
import * as rules from "./rules.js";
import * as reports from "./reports.js";
import * as codes from "./codes.js";
import * as daily from "./daily.js";

const ROUTES = [
  { re: /^#\/?$/, view: board, nav: "board" },
  { re: /^#\/ticket\/(\d+)$/, view: detail, nav: "board" },
  { re: /^#\/report$/, view: report, nav: "report" },
  { re: /^#\/tech$/, view: tech, nav: "tech" },
  { re: /^#\/rules(?:\/([^/]+))?$/, view: rules, nav: "rules" },
  { re: /^#\/reports$/, view: reports, nav: "reports" },
  { re: /^#\/codes$/, view: codes, nav: "codes" },
  { re: /^#\/daily$/, view: daily, nav: "daily" },
];
const NAV = [["board", "#/"], ["report", "#/report"], ["tech", "#/tech"], ["rules", "#/rules"], ["reports", "#/reports"], ["codes", "#/codes"], ["daily", "#/daily"]];

let unmount = () => {};

// ---- routing ----------------------------------------------------------------

function home() {
  switch (session.me && session.me.role) {
    case "patrol": return "#/report";
    case "technician": return "#/tech";
    case "engineer": return "#/rules";
    default: return "#/";
  }
}

function route() {
  if (!session.me) return;
  const hash = location.hash || "#/";
  const r = ROUTES.find((x) => x.re.test(hash));
  if (!r) { location.hash = home(); return; }
  const m = r.re.exec(hash);
  unmount();
  const root = $("view");
  root.replaceChildren();
  const arg = m[1] ? decodeURIComponent(m[1]) : undefined;
  unmount = r.view.mount(root, arg) || (() => {});
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.nav === r.nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function drawNav() {
  const nav = $("nav");
  nav.replaceChildren(...NAV.map(([k, href]) => h("a", { href, dataset: { nav: k }, text: t("nav_" + k) })));
}

// ---- login ----------------------------------------------------------------

function tokenFromHash() {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (!m) return "";
  history.replaceState(null, "", location.pathname + location.search + "#/"); // keep the token off the screen
  return decodeURIComponent(m[1]);
}

async function login(token) {
  setToken(token);
  try {
    session.me = await api("GET", "/api/me");
  } catch (e) {
    setToken("");
    session.me = null;
    sessionStorage.removeItem("caretaker.token");
    showLogin(e.status === 401 ? t("badToken") : e.status === 429 ? t("tooManyTries", { n: e.retryAfter || 6 }) : e.message);
    return;
  }
  sessionStorage.setItem("caretaker.token", token);
  // The sites' time zones and the rules come first: every time and every
  // alarm on the pages reads by them.
  try { setSites(await api("GET", "/api/sites")); } catch (_) { setSites(null); }
  await loadRules();
  drawWho();
  $("logout").hidden = false;
  $("nav").hidden = false;
  $("login-view").hidden = true;
  $("view").hidden = false;
  connect(logout);
  checkHandoffs();
  if (!location.hash || location.hash === "#" || location.hash === "#/" && home() !== "#/") location.hash = home();
  route();
}

function drawWho() {
  const me = session.me;
  // A token limited to sites says which: what the screens show is theirs only.
  const role = roleName(me ? me.role : "") + (me && me.sites ? " · " + me.sites.join(", ") : "");
  $("who").textContent = me ? me.name + (getLang() === "zh-CN" ? "（" + role + "）" : " (" + role + ")") : "";
}

function showLogin(msg) {
  unmount();
  unmount = () => {};
  reset();
  drawConn();
  $("view").hidden = true;
  $("nav").hidden = true;
  $("logout").hidden = true;
  $("who").textContent = "";
  $("login-view").hidden = false;
  $("login-error").textContent = msg || "";
  $("token-input").focus();
}

function logout() {
  sessionStorage.removeItem("caretaker.token");
  setToken("");
  session.me = null;
  banner.items.clear();
  drawBanner();
  showLogin("");
}

// ---- connection state -------------------------------------------------------

function drawConn() {
  const el = $("conn");
  el.dataset.state = live.conn;
  el.className = "conn " + live.conn;
  el.textContent = t(live.conn);
  const off = $("offline-note");
  off.hidden = !(session.me && live.conn !== "live" && live.offlineSince);
  if (!off.hidden) off.textContent = t("offlineSince", { t: when(live.offlineSince) });
  drawHandoffs();
}

// ---- alarm changes the ticket store has not taken yet -------------------------
// /readyz counts them (the rules engine retries them on its tick); while any
// wait, an alarm may have no ticket yet, and the page says so.

let pendingHandoffs = 0;

async function checkHandoffs() {
  if (!session.me) return;
  try {
    const resp = await fetch("/readyz", { cache: "no-store" });
    pendingHandoffs = Number((await resp.json()).pending_alarm_handoffs) || 0;
  } catch {
    return; // the server is unreachable: the connection note says so
  }
  drawHandoffs();
}

function drawHandoffs() {
  const el = $("handoff-note");
  el.hidden = !(session.me && pendingHandoffs > 0);
  if (!el.hidden) el.textContent = t("handoffsPending", { n: pendingHandoffs });
}

// ---- the L1 banner ------------------------------------------------------------
// New L1 alarms and L1 reports show in a red banner at the top of every
// page with a tone, repeated every 30 s until each is acknowledged or
// hidden ("Hide for now" hides it on this screen only: it is not an
// acknowledgement). On a phone the banner is one compact line that opens
// into the list, and it sounds only for the user's own work (a ticket
// assigned to them, or a report they filed): the control room has the
// alarms, the phone has the job in hand.

const banner = { items: new Map(), dismissed: new Set(), open: false };
const phone = window.matchMedia("(max-width: 600px)");

// mine: the banner item is about the user's own work.
function mine(it) {
  const me = session.me && session.me.name;
  if (!me) return false;
  const x = it.alarm || it.ticket || it.escalation || {};
  const tk = it.ticket || live.tickets.get(it.alarm ? x.ticket_id : it.escalation ? x.ticket_id : x.id);
  return !!tk && (tk.assignee === me || tk.created_by === me);
}

// tone sounds the alarm: always in the control room, on a phone only for
// the user's own work. document's data-alarm-tones counts the tones asked
// for (what a browser test can see of a sound).
function tone(items) {
  if (phone.matches && !items.some(mine)) return;
  const root = document.documentElement;
  root.dataset.alarmTones = String(Number(root.dataset.alarmTones || 0) + 1);
  beep();
}

function bannerWatch(msg) {
  const d = (msg.data && (msg.data.alarm || msg.data.ticket)) || msg.data || {};
  let fresh = false;
  switch (msg.type) {
    case "snapshot":
      for (const a of live.alarms.values()) {
        if (a.level === 1 && !a.acked && !a.shadow && !banner.dismissed.has("a:" + a.id)) banner.items.set("a:" + a.id, { alarm: a });
      }
      for (const key of [...banner.items.keys()]) {
        if (key.startsWith("a:") && !live.alarms.has(key.slice(2))) banner.items.delete(key);
      }
      break;
    case "alarm.raised":
    case "alarm.updated":
      if (d.level === 1 && !d.acked && !d.shadow && !banner.dismissed.has("a:" + d.id)) {
        const isNew = msg.type === "alarm.raised" || !banner.items.has("a:" + d.id);
        banner.items.set("a:" + d.id, { alarm: live.alarms.get(d.id) || d });
        if (isNew) fresh = banner.items.get("a:" + d.id);
      }
      break;
    case "alarm.acked":
    case "alarm.cleared":
      banner.items.delete("a:" + d.id);
      break;
    case "ticket.created":
      if (d.level === 1 && d.source !== "sensor") {
        banner.items.set("t:" + d.id, { ticket: d });
        fresh = banner.items.get("t:" + d.id);
      }
      break;
    case "ticket.updated":
      if (d.status && d.status !== "new") banner.items.delete("t:" + d.id);
      if (d.status && d.status !== "dispatched") banner.items.delete("m:" + d.id);
      break;
    case "ticket.escalated":
      // An L1 whose clock ran out without anyone acting on it.
      if (d.level === 1 && !banner.dismissed.has("e:" + d.ticket_id + ":" + d.clock + ":" + d.step)) {
        banner.items.set("e:" + d.ticket_id + ":" + d.clock + ":" + d.step, { escalation: d });
        fresh = banner.items.get("e:" + d.ticket_id + ":" + d.clock + ":" + d.step);
      }
      break;
    default:
      return;
  }
  // An L1 just given to this user (a technician): their own work, on
  // their screen until they accept it.
  if ((msg.type === "ticket.created" || msg.type === "ticket.updated") && d.level === 1 && d.status === "dispatched" &&
      session.me && d.assignee === session.me.name && !banner.items.has("m:" + d.id) && !banner.dismissed.has("m:" + d.id)) {
    banner.items.set("m:" + d.id, { ticket: d });
    fresh = banner.items.get("m:" + d.id);
  }
  drawBanner();
  if (fresh) tone(fresh === true ? [...banner.items.values()] : [fresh]);
}

function bannerText(it) {
  const x = it.alarm || it.ticket || it.escalation;
  if (it.alarm) return describeAlarm(x) || x.message || "";
  if (it.ticket) return (x.number || "") + " " + (x.description || "");
  return (x.number || "") + " " + label("clock", x.clock) + " · " + t("escalatedTo", { to: label("to", x.to || "supervisor") });
}

function drawBanner() {
  const el = $("banner");
  const list = [...banner.items.entries()];
  el.hidden = list.length === 0;
  document.body.classList.toggle("has-banner", list.length > 0);
  const compact = phone.matches && !banner.open;
  el.classList.toggle("compact", compact);
  // A phone's one line is the user's own work first, else the newest.
  const shown = compact && list.length ? [list.find(([, it]) => mine(it)) || list[list.length - 1]] : list;
  const rows = shown.map(([key, it]) => {
    const x = it.alarm || it.ticket || it.escalation;
    const row = h("div", { class: "banner-row" + (mine(it) ? " mine" : ""), dataset: { key } },
      h("strong", { text: t("bannerL1") }), " ",
      mine(it) ? h("span", { class: "banner-mine", text: t("bannerMine") }) : null,
      h("span", { class: "banner-place", text: place(x) }), " ",
      h("span", { class: "banner-text", text: compact ? [x.building, x.location].filter(Boolean).join(" ") + " · " + bannerText(it) : bannerText(it) }));
    const buttons = h("span", { class: "banner-actions" });
    if (it.alarm && session.may("ack")) {
      buttons.append(h("button", { type: "button", class: "banner-ack", title: t("tooltipAck"), text: t("ack"), onclick: (e) => ack(x.id, e.target) }));
    }
    const tid = it.alarm || it.escalation ? x.ticket_id : x.id;
    if (tid) buttons.append(h("a", { class: "button", href: "#/ticket/" + tid, text: t("open") }));
    if (!compact) {
      buttons.append(h("button", { type: "button", class: "banner-dismiss", title: t("dismissHint"), "aria-label": t("dismiss") + ": " + t("dismissHint"), text: t("dismiss"), onclick: () => {
        banner.items.delete(key);
        banner.dismissed.add(key);
        drawBanner();
      } }));
    }
    row.append(buttons);
    return row;
  });
  if (phone.matches && list.length > 1) {
    rows.push(h("button", { type: "button", class: "banner-more", "aria-expanded": String(banner.open), onclick: () => { banner.open = !banner.open; drawBanner(); },
      text: banner.open ? "▲" : t("bannerMore", { n: list.length - 1 }) + " ▼" }));
  }
  el.replaceChildren(...rows);
}
phone.addEventListener("change", () => drawBanner());

setInterval(() => { if (banner.items.size && session.me) tone([...banner.items.values()]); }, 30000);

// ---- start ----------------------------------------------------------------

function drawSound() {
  const b = $("sound");
  b.textContent = soundEnabled() ? t("soundOn") : t("soundOff");
  b.setAttribute("aria-pressed", String(soundEnabled()));
}

function applyLang() {
  document.documentElement.lang = getLang();
  applyStatic();
  $("lang").textContent = t("lang");
  document.title = t("title");
  drawNav();
  drawWho();
  drawConn();
  drawSound();
  drawBanner();
  route();
}

document.addEventListener("DOMContentLoaded", () => {
  $("lang").addEventListener("click", () => setLang(getLang() === "en" ? "zh-CN" : "en"));
  onLangChange(applyLang);
  // The service worker keeps the technician's page and tickets for when
  // there is no signal (sw.js).
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
  $("sound").addEventListener("click", () => { setSound(!soundEnabled()); drawSound(); if (soundEnabled()) beep(); });
  $("logout").addEventListener("click", logout);
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const tok = $("token-input").value.trim();
    $("token-input").value = "";
    if (tok) login(tok);
  });
  window.addEventListener("hashchange", () => {
    const tok = tokenFromHash();
    if (tok) { login(tok); return; }
    route();
  });
  subscribe((msg) => {
    if (msg.type === "conn") drawConn();
    else bannerWatch(msg);
  });
  setInterval(drawConn, 5000);
  setInterval(checkHandoffs, 5000);
  applyLang();
  const tok = tokenFromHash() || sessionStorage.getItem("caretaker.token") || "";
  if (tok) login(tok);
  else showLogin("");
});


