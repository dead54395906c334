// Caretaker web UI: login, navigation between the pages, the L1 banner.
// Plain ES modules, no build step, no dependencies. Every piece of data
// goes into the page through textContent (dom.js), never innerHTML.

import { h, $, perFrame, keyed } from "./dom.js";
import { t, setLang, getLang, onLangChange, applyStatic, when, setSites, label } from "./i18n.js";
import { roleName } from "./words.js";
import { loadRules } from "./rulebook.js";
import { describeAlarm, describeTicket } from "./describe.js";
import { api, setToken, latest } from "./api.js";
import { live, subscribe, connect, reset, rev } from "./live.js";
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
import * as floors from "./floors.js";

const ROUTES = [
  { re: /^#\/?$/, view: board, nav: "board" },
  { re: /^#\/ticket\/(\d+)$/, view: detail, nav: "board", anyRole: true },
  { re: /^#\/report$/, view: report, nav: "report" },
  { re: /^#\/tech$/, view: tech, nav: "tech" },
  { re: /^#\/rules(?:\/([^/]+))?$/, view: rules, nav: "rules" },
  { re: /^#\/reports$/, view: reports, nav: "reports" },
  { re: /^#\/codes$/, view: codes, nav: "codes" },
  { re: /^#\/daily$/, view: daily, nav: "daily" },
  { re: /^#\/floors$/, view: floors, nav: "floors" },
];
const NAV = [["board", "#/"], ["report", "#/report"], ["tech", "#/tech"], ["rules", "#/rules"], ["reports", "#/reports"], ["codes", "#/codes"], ["daily", "#/daily"], ["floors", "#/floors"]];

let unmount = () => {};

// ---- routing ----------------------------------------------------------------

// pages are the role's pages, as /api/me lists them (its home first);
// a server that lists none gets every page.
function pages() {
  const p = session.me && session.me.pages;
  return Array.isArray(p) ? p : NAV.map(([k]) => k);
}

function home() {
  const first = pages()[0];
  const hit = NAV.find(([k]) => k === first);
  return hit ? hit[1] : "#/";
}

// notYours says so, in place of a page the role does not use.
const notYours = {
  mount(root) {
    root.replaceChildren(h("section", { class: "column narrow", id: "not-your-page" },
      h("p", { role: "alert", text: t("notYourPage", { role: label("role", session.me.role) }) }),
      h("a", { class: "button", href: home(), text: t("goHome") })));
  },
};

function route() {
  if (!session.me) return;
  // What follows a "?" is a page's filters (search.js), not the route.
  const hash = (location.hash || "#/").replace(/\?.*$/, "") || "#/";
  const r = ROUTES.find((x) => x.re.test(hash));
  if (!r) { location.hash = home(); return; }
  const m = r.re.exec(hash);
  unmount();
  const root = $("view");
  root.replaceChildren();
  const arg = m[1] ? decodeURIComponent(m[1]) : undefined;
  const view = r.anyRole || pages().includes(r.nav) ? r.view : notYours;
  unmount = view.mount(root, arg) || (() => {});
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.nav === r.nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function drawNav() {
  const nav = $("nav");
  const mine = pages();
  nav.replaceChildren(...NAV.filter(([k]) => mine.includes(k)).map(([k, href]) => h("a", { href, dataset: { nav: k }, text: t("nav_" + k) })));
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
  drawNav();
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
  banner.hidden.clear();
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
  drawCluster();
}

// ---- alarm changes the ticket store has not taken yet -------------------------
// /readyz counts them (the rules engine retries them on its tick); while any
// wait, an alarm may have no ticket yet, and the page says so.

let pendingHandoffs = 0;
let clusterView = null; // /readyz "cluster": this instance and each partition's leader

// Asked every 5 s: a slow answer landing after a newer one is dropped.
const newestReady = latest();
async function checkHandoffs() {
  if (!session.me) return;
  try {
    const body = await newestReady(fetch("/readyz", { cache: "no-store" }).then((r) => r.json()));
    pendingHandoffs = Number(body.pending_alarm_handoffs) || 0;
    clusterView = body.cluster || null;
  } catch {
    return; // the server is unreachable: the connection note says so
  }
  drawHandoffs();
  drawCluster();
}

// In a cluster: which instance serves this page, and which leads each
// partition (takes the devices' data, runs the rules and the clocks).
function drawCluster() {
  const el = $("cluster");
  el.hidden = !(session.me && clusterView);
  if (el.hidden) return;
  const parts = (clusterView.partitions || []).map((p) =>
    p.leader ? t("clusterLeader", { p: p.partition, leader: p.leader }) : t("clusterNoLeader", { p: p.partition }));
  el.textContent = [t("clusterServedBy", { me: clusterView.instance }), ...parts].join(" · ");
}

function drawHandoffs() {
  const el = $("handoff-note");
  el.hidden = !(session.me && pendingHandoffs > 0);
  if (!el.hidden) el.textContent = t("handoffsPending", { n: pendingHandoffs });
}

// ---- the L1 banner ------------------------------------------------------------
// L1 alarms not yet acknowledged (active or cleared: a cleared one stays
// until someone acknowledges it), new L1 reports not yet dispatched and
// L1 tickets whose clock ran out show in a red banner at the top of every
// page with a tone, repeated every 30 s. The banner is rebuilt from the
// server's snapshot after a reload, so nothing of level 1 leaves it
// unseen. "Hide for now" only hides an item on this screen (it is not an
// acknowledgement; a button brings hidden ones back); acknowledging is
// its own button and is recorded on the server. On a phone the banner is
// one compact line that opens into the list, and it sounds only for the
// user's own work (a ticket assigned to them, or a report they filed):
// the control room has the alarms, the phone has the job in hand.

const banner = { items: new Map(), hidden: new Set(), open: false };
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

function escalationKey(tk) {
  return "e:" + tk.id + ":" + tk.escalated.clock + ":" + tk.escalated.step;
}

// bannerFromLive rebuilds the banner from the live picture (a snapshot).
function bannerFromLive() {
  banner.items.clear();
  for (const a of live.alarms.values()) {
    if (a.level === 1 && !a.acked && !a.shadow) banner.items.set("a:" + a.id, { alarm: a });
  }
  for (const tk of live.tickets.values()) {
    if (tk.level !== 1) continue;
    if (tk.source !== "sensor" && tk.status === "new") banner.items.set("t:" + tk.id, { ticket: tk });
    if (tk.escalated) banner.items.set(escalationKey(tk), { escalation: Object.assign({ ticket_id: tk.id, number: tk.number, site: tk.site, building: tk.building, location: tk.location, level: tk.level }, tk.escalated) });
    if (tk.status === "dispatched" && session.me && tk.assignee === session.me.name) banner.items.set("m:" + tk.id, { ticket: tk });
  }
}

function bannerWatch(msg) {
  const d = (msg.data && (msg.data.alarm || msg.data.ticket)) || msg.data || {};
  let fresh = false;
  switch (msg.type) {
    case "snapshot":
      bannerFromLive();
      break;
    case "alarm.raised":
    case "alarm.updated":
    case "alarm.cleared":
      if (d.level === 1 && !d.acked && !d.shadow) {
        const isNew = msg.type === "alarm.raised" || !banner.items.has("a:" + d.id);
        banner.items.set("a:" + d.id, { alarm: live.alarms.get(d.id) || d });
        if (isNew) fresh = banner.items.get("a:" + d.id);
      }
      break;
    case "alarm.acked":
      banner.items.delete("a:" + d.id);
      break;
    case "ticket.created":
      if (d.level === 1 && d.source !== "sensor") {
        banner.items.set("t:" + d.id, { ticket: d });
        fresh = banner.items.get("t:" + d.id);
      }
      break;
    case "ticket.updated":
      if (d.status && d.status !== "new") {
        for (const key of [...banner.items.keys()]) if (key === "t:" + d.id || key.startsWith("e:" + d.id + ":")) banner.items.delete(key);
      }
      if (d.status && d.status !== "dispatched") banner.items.delete("m:" + d.id);
      break;
    case "ticket.escalated":
      // An L1 whose clock ran out without anyone acting on it.
      if (d.level === 1) {
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
      session.me && d.assignee === session.me.name && !banner.items.has("m:" + d.id)) {
    banner.items.set("m:" + d.id, { ticket: d });
    fresh = banner.items.get("m:" + d.id);
  }
  scheduleBanner();
  if (fresh) tone([fresh]);
}

// scheduleBanner draws the banner once a frame however many events came.
const scheduleBanner = perFrame(() => drawBanner());

function bannerText(it) {
  const x = it.alarm || it.ticket || it.escalation;
  if (it.alarm) {
    const text = describeAlarm(x) || x.message || "";
    return x.state === "cleared" ? text + " · " + t("bannerCleared", { t: when(x.cleared_at, x.site) }) : text;
  }
  if (it.ticket) return (x.number || "") + " " + describeTicket(x) + (x.source !== "sensor" && x.status === "new" ? " · " + t("bannerNewReport") : "");
  return (x.number || "") + " " + t("bannerEscalated", { clock: label("clock", x.clock), to: label("to", x.to || "supervisor") });
}

function drawBanner() {
  const el = $("banner");
  const all = [...banner.items.entries()];
  const list = all.filter(([key]) => !banner.hidden.has(key));
  const hidden = all.length - list.length;
  el.hidden = all.length === 0;
  document.body.classList.toggle("has-banner", list.length > 0);
  const compact = phone.matches && !banner.open;
  el.classList.toggle("compact", compact);
  // A phone's one line is the user's own work first, else the newest.
  const shown = compact && list.length ? [list.find(([, it]) => mine(it)) || list[list.length - 1]] : list;
  const seen = new Set();
  const rows = shown.map(([key, it]) => {
    const x = it.alarm || it.ticket || it.escalation;
    // A row whose item has not changed stays as it is.
    const sig = [compact, mine(it), session.may("ack"), x.state, x.status, x.cleared_at, rev(x), getLang(), session.me && session.me.name].join(",");
    seen.add(key);
    const had = bannerRows.get(key);
    if (had && had.x === x && had.sig === sig) return had.el;
    const row = bannerRow(key, it, x, compact);
    bannerRows.set(key, { x, sig, el: row });
    return row;
  });
  for (const k of bannerRows.keys()) if (!seen.has(k)) bannerRows.delete(k);
  if (phone.matches && list.length > 1) {
    rows.push(h("button", { type: "button", class: "banner-more", "aria-expanded": String(banner.open), onclick: () => { banner.open = !banner.open; drawBanner(); },
      text: banner.open ? "▲" : t("bannerMore", { n: list.length - 1 }) + " ▼" }));
  }
  if (hidden > 0) {
    rows.push(h("div", { class: "banner-row banner-hidden-note" },
      h("button", { type: "button", class: "banner-show", id: "banner-show", text: t("bannerShowHidden", { n: hidden }), onclick: () => {
        banner.hidden.clear();
        drawBanner();
      } })));
  }
  keyed(el, rows);
}

// bannerRows keeps the banner's rows by key, to keep those that did not
// change.
const bannerRows = new Map();

function bannerRow(key, it, x, compact) {
  const cls = "banner-row" + (mine(it) ? " mine" : "") + (it.alarm && x.state === "cleared" ? " cleared" : "");
  const row = h("div", { class: cls, dataset: { key, status: (it.alarm && x.status) || "" } },
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
  // The phone's one line keeps the text in view: its hide button is a
  // cross that says the same in its label.
  buttons.append(h("button", { type: "button", class: "banner-dismiss banner-hide", title: t("dismissHint"), "aria-label": compact ? t("bannerHide") : null,
    text: compact ? "✕" : t("bannerHide"), onclick: () => {
    banner.hidden.add(key);
    drawBanner();
  } }));
  row.append(buttons);
  return row;
}
phone.addEventListener("change", () => drawBanner());

setInterval(() => {
  const shown = [...banner.items.entries()].filter(([k]) => !banner.hidden.has(k)).map(([, it]) => it);
  if (shown.length && session.me) tone(shown);
}, 30000);

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
    // Tests (and curious people) can tell that the server's picture is in.
    if (msg.type === "snapshot") document.body.dataset.snapshot = String(Number(document.body.dataset.snapshot || 0) + 1);
  });
  setInterval(drawConn, 5000);
  setInterval(checkHandoffs, 5000);
  applyLang();
  const tok = tokenFromHash() || sessionStorage.getItem("caretaker.token") || "";
  if (tok) login(tok);
  else showLogin("");
});


