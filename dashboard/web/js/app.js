// Caretaker web UI: login, navigation between the pages, the L1 banner.
// Plain ES modules, no build step, no dependencies. Every piece of data
// goes into the page through textContent (dom.js), never innerHTML.

import { h, $ } from "./dom.js";
import { t, setLang, getLang, onLangChange, applyStatic, when } from "./i18n.js";
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

const ROUTES = [
  { re: /^#\/?$/, view: board, nav: "board" },
  { re: /^#\/ticket\/(\d+)$/, view: detail, nav: "board" },
  { re: /^#\/report$/, view: report, nav: "report" },
  { re: /^#\/tech$/, view: tech, nav: "tech" },
  { re: /^#\/rules(?:\/([^/]+))?$/, view: rules, nav: "rules" },
  { re: /^#\/reports$/, view: reports, nav: "reports" },
  { re: /^#\/codes$/, view: codes, nav: "codes" },
];
const NAV = [["board", "#/"], ["report", "#/report"], ["tech", "#/tech"], ["rules", "#/rules"], ["reports", "#/reports"], ["codes", "#/codes"]];

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
  // A token limited to sites says which: what the screens show is theirs only.
  $("who").textContent = session.me.name + " (" + session.me.role + (session.me.sites ? " · " + session.me.sites.join(", ") : "") + ")";
  $("logout").hidden = false;
  $("nav").hidden = false;
  $("login-view").hidden = true;
  $("view").hidden = false;
  connect(logout);
  checkHandoffs();
  if (!location.hash || location.hash === "#" || location.hash === "#/" && home() !== "#/") location.hash = home();
  route();
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
// dismissed.

const banner = { items: new Map(), dismissed: new Set() };

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
        fresh = msg.type === "alarm.raised" || !banner.items.has("a:" + d.id);
        banner.items.set("a:" + d.id, { alarm: live.alarms.get(d.id) || d });
      }
      break;
    case "alarm.acked":
    case "alarm.cleared":
      banner.items.delete("a:" + d.id);
      break;
    case "ticket.created":
      if (d.level === 1 && d.source !== "sensor") {
        banner.items.set("t:" + d.id, { ticket: d });
        fresh = true;
      }
      break;
    case "ticket.updated":
      if (d.status && d.status !== "new") banner.items.delete("t:" + d.id);
      break;
    case "ticket.escalated":
      // An L1 whose clock ran out without anyone acting on it.
      if (d.level === 1 && !banner.dismissed.has("e:" + d.ticket_id + ":" + d.clock + ":" + d.step)) {
        banner.items.set("e:" + d.ticket_id + ":" + d.clock + ":" + d.step, { escalation: d });
        fresh = true;
      }
      break;
    default:
      return;
  }
  drawBanner();
  if (fresh) beep();
}

function drawBanner() {
  const el = $("banner");
  const list = [...banner.items.entries()];
  el.hidden = list.length === 0;
  document.body.classList.toggle("has-banner", list.length > 0);
  el.replaceChildren(...list.map(([key, it]) => {
    const x = it.alarm || it.ticket || it.escalation;
    const text = it.alarm ? (x.message || x.rule_name || x.rule_id) : it.ticket ? (x.number + " " + (x.description || "")) : (x.number + " " + (x.message || ""));
    const row = h("div", { class: "banner-row", dataset: { key } },
      h("strong", { text: t("bannerL1") }), " ",
      h("span", { class: "banner-place", text: place(x) }), " ",
      h("span", { class: "banner-dev", text: x.device_id || "" }), " ",
      h("span", { class: "banner-text", text }));
    const buttons = h("span", { class: "banner-actions" });
    if (it.alarm && session.may("ack")) {
      buttons.append(h("button", { type: "button", class: "banner-ack", text: t("ack"), onclick: (e) => ack(x.id, e.target) }));
    }
    const tid = it.alarm || it.escalation ? x.ticket_id : x.id;
    if (tid) buttons.append(h("a", { class: "button", href: "#/ticket/" + tid, text: t("open") }));
    buttons.append(h("button", { type: "button", class: "banner-dismiss", text: t("dismiss"), onclick: () => {
      banner.items.delete(key);
      banner.dismissed.add(key);
      drawBanner();
    } }));
    row.append(buttons);
    return row;
  }));
}

setInterval(() => { if (banner.items.size && session.me) beep(); }, 30000);

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
  drawConn();
  drawSound();
  drawBanner();
  route();
}

document.addEventListener("DOMContentLoaded", () => {
  $("lang").addEventListener("click", () => setLang(getLang() === "en" ? "zh-CN" : "en"));
  onLangChange(applyLang);
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


