// The live picture from /ws: active alarms, open tickets and device status,
// kept up to date by events. It reconnects by itself with ?since=&epoch= so
// that nothing is missed, backing off up to 30 s, and says when it is
// offline. A seq counts only within its epoch (one life of the server):
// after a restart the server answers with a fresh snapshot instead.
// It asks for batches (?batch=true): each message is an array of events,
// several in one frame when they came faster than they could be sent.

import { api, getToken } from "./api.js";

export const live = {
  alarms: new Map(),  // id -> alarm: active (raised, updated, acked or not), or cleared and not yet acknowledged
  tickets: new Map(), // id -> open ticket
  devices: new Map(), // device_id -> status
  paging: new Map(),  // ticket id -> paging state (who was paged, when, by which channel, how it went)
  triage: new Map(),  // alarm id -> its triage while queued or snoozed (triage.js loads it)
  triageMeanwhile: null, // while triage.js loads the queue: what events said meanwhile
  seq: null,          // last event number seen
  epoch: null,        // the life of the server that numbered it
  conn: "offline",    // live | connecting | offline
  offlineSince: null, // Date the connection was lost
  loaded: false,      // a snapshot has arrived
};

const CLOSED = ["resolved", "closed", "cancelled"];

// rev(x) is a number that changes whenever apply changes x (an alarm, a
// ticket, a device's status, a paging state): pages redraw only what
// changed. An object apply has not seen yet gets one of its own.
const revs = new WeakMap();
let revN = 0;
export function rev(x) {
  if (!x) return 0;
  let r = revs.get(x);
  if (r === undefined) { r = ++revN; revs.set(x, r); }
  return r;
}
// touch(x) says x changed in place (outside apply too); it returns x.
export function touch(x) {
  if (x) revs.set(x, ++revN);
  return x;
}
const listeners = new Set();
let ws = null;
let retry = 0;
let retryTimer = null;
let onAuthLost = () => {};

// subscribe(fn) calls fn(msg) after each applied event (msg.type
// "conn" for connection changes). It returns an unsubscribe function.
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit(msg) {
  for (const fn of listeners) {
    try { fn(msg); } catch (e) { console.error(e); }
  }
}

function setConn(state) {
  if (state === "offline" && live.conn !== "offline") live.offlineSince = new Date();
  if (state === "live") live.offlineSince = null;
  live.conn = state;
  emit({ type: "conn" });
}

export function connect(authLost) {
  if (authLost) onAuthLost = authLost;
  disconnect();
  setConn("connecting");
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  let url = proto + "//" + location.host + "/ws?batch=true&token=" + encodeURIComponent(getToken());
  if (live.seq !== null && live.epoch) url += "&since=" + live.seq + "&epoch=" + encodeURIComponent(live.epoch);
  const sock = new WebSocket(url);
  ws = sock;
  sock.onopen = () => { retry = 0; setConn("live"); };
  sock.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch (_) { return; }
    if (Array.isArray(msg)) for (const m of msg) apply(m);
    else apply(msg);
  };
  sock.onclose = () => {
    if (ws !== sock) return; // replaced, or logged out
    ws = null;
    if (live.offlineSince === null) live.offlineSince = new Date();
    setConn("offline");
    const delay = Math.min(30000, 1000 * 2 ** retry++);
    retryTimer = setTimeout(checkThenConnect, delay);
  };
}

// After a drop, make sure the token is still good before reconnecting.
async function checkThenConnect() {
  try {
    await api("GET", "/api/me");
  } catch (e) {
    if (e.status === 401) { onAuthLost(); return; }
  }
  connect();
}

export function disconnect() {
  clearTimeout(retryTimer);
  if (ws) {
    const sock = ws;
    ws = null;
    sock.close();
  }
}

export function reset() {
  disconnect();
  live.seq = null;
  live.epoch = null;
  live.loaded = false;
  live.alarms.clear();
  live.tickets.clear();
  live.devices.clear();
  live.paging.clear();
  live.triage.clear();
  live.conn = "offline";
  live.offlineSince = null;
}

// olderTicket says whether next is an earlier state of the ticket cur
// (by updated_at): an answer that left the server before an event did.
export function olderTicket(next, cur) {
  const a = Date.parse((next && next.updated_at) || ""), b = Date.parse((cur && cur.updated_at) || "");
  return a < b;
}

// send asks the server for something (a subscribe message).
export function send(obj) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
}

// apply folds one server message into the picture; it is exported so that
// the answer of an API call (an ack) shows at once.
export function apply(msg) {
  if (typeof msg.seq === "number" && msg.type !== "reading" && typeof msg.epoch === "string") {
    live.seq = msg.seq;
    live.epoch = msg.epoch;
  }
  const d = msg.data || {};
  switch (msg.type) {
    case "snapshot":
      live.alarms = new Map((d.alarms || []).map((a) => [a.id, a]));
      live.tickets = new Map((d.tickets || []).map((tk) => [tk.id, tk]));
      live.devices = new Map((d.devices || []).map((st) => [st.device_id, st]));
      live.paging = new Map((d.paging || []).map((p) => [p.ticket_id, p]));
      live.loaded = true;
      break;
    case "alarm.raised":
    case "alarm.updated":
    case "alarm.acked":
    case "alarm.cleared": {
      const a = d.alarm || d;
      if (!a.id) return;
      // A cleared alarm stays until someone acknowledges it
      // (cleared_unack); acknowledged and cleared, it is over.
      const merged = Object.assign(live.alarms.get(a.id) || {}, a);
      if (msg.type === "alarm.cleared") merged.state = "cleared";
      merged.status = (merged.state === "cleared" ? "cleared_" : "active_") + (merged.acked ? "ack" : "unack");
      touch(merged);
      if (merged.state === "cleared" && merged.acked) live.alarms.delete(a.id);
      else live.alarms.set(a.id, merged);
      break;
    }
    case "ticket.created":
    case "ticket.updated": {
      const tk = d.ticket || d;
      if (!tk.id) return;
      // An API's answer applied here may land after a newer event.
      if (olderTicket(tk, live.tickets.get(tk.id))) return;
      // The alarms of the ticket show how it stands (resolved over an
      // active alarm: the board marks it).
      for (const a of live.alarms.values()) {
        if (a.ticket_id !== tk.id) continue;
        a.ticket_status = tk.status;
        if (tk.override) a.ticket_override = tk.override;
        touch(a);
      }
      if (CLOSED.includes(tk.status)) {
        live.tickets.delete(tk.id);
        break;
      }
      const cur = Object.assign(live.tickets.get(tk.id) || {}, tk);
      // An event that carries the clocks says the escalation too: none
      // means it is over (a fresh clock after a dispatch).
      if (Array.isArray(tk.deadlines)) {
        delete cur.due; // the clocks are the server's again
        if (!tk.escalated) delete cur.escalated;
      }
      touch(cur);
      live.tickets.set(tk.id, cur);
      break;
    }
    case "ticket.warning":
    case "ticket.escalated": {
      // A clock of a ticket: about to run out (warning) or run out and
      // passed up the chain (escalated).
      const tk = live.tickets.get(d.ticket_id);
      if (!tk) return;
      tk.due = Object.assign({}, tk.due, { [d.clock]: d.due_at });
      for (const c of tk.deadlines || []) {
        if (c.clock !== d.clock) continue;
        c.warned = true;
        if (msg.type === "ticket.escalated") c.escalations = d.step;
      }
      if (msg.type === "ticket.escalated") tk.escalated = { to: d.to, clock: d.clock, step: d.step, due_at: d.due_at, message: d.message };
      touch(tk);
      break;
    }
    case "ticket.paged":
      if (!d.ticket_id) return;
      live.paging.set(d.ticket_id, d);
      break;
    case "device.status":
      if (d.device_id) {
        const st = Object.assign(live.devices.get(d.device_id) || {}, d);
        touch(st);
        live.devices.set(d.device_id, st);
      }
      break;
    case "triage.queued":
    case "triage.decided":
    case "triage.escalated": {
      // An alarm below level 1 in the operator's triage queue: waiting
      // (queued, snoozed) or decided (it leaves the queue).
      const id = d.alarm && d.alarm.id;
      if (!id) return;
      const waiting = d.state === "queued" || d.state === "snoozed";
      if (waiting) live.triage.set(id, d);
      else live.triage.delete(id);
      if (live.triageMeanwhile) live.triageMeanwhile.set(id, waiting ? d : null); // triage.js loadTriage
      break;
    }
    case "reading":
      break; // passed on to listeners (the detail chart) as is
    default:
      return;
  }
  emit(msg);
}
