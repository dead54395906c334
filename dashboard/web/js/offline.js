// Steps a technician takes without signal: kept on the phone (IndexedDB,
// photos included) with the phone's time, in order, and sent in that
// order when the signal is back. The server counts the phone's time for
// the clocks (within bounds); a step it refuses (the ticket was
// reassigned or cancelled meanwhile) is a conflict shown on the page, and
// the later steps of that ticket are not sent.

import { api, APIError, enc } from "./api.js";
import { getLang, when } from "./i18n.js";

const WORDS = {
  en: {
    queued: "Saved on this phone, to send when the signal is back ({n} step(s)).", queuedStep: "offline: {what} at {t}",
    sending: "Signal back: sending the steps taken offline…", sent: "Sent the {n} step(s) taken offline.",
    conflict: "{number}: your {what} of {t} was not applied: {why}", dropped: "{number}: your {what} of {t} was not sent, an earlier step was refused",
    dismiss: "Dismiss", offlineNow: "No signal: steps are saved on this phone and sent when it is back.",
    a_accept: "accept", a_arrive: "arrival", a_resolve: "resolution", a_claim: "claim", a_eta: "ETA",
    etaLbl: "Late? On site in (min)", etaSend: "Send ETA", eta: "ETA", etaAt: "on site by {t}",
    carryLbl: "Cannot finish today? Why", carrySend: "Carry over to tomorrow", carried: "carried over: {why}", a_carry_over: "carry-over",
    a_check: "check", a_uncheck: "uncheck",
  },
  "zh-CN": {
    queued: "已保存在本机，有信号后发送（{n} 步）。", queuedStep: "离线：{what} {t}",
    sending: "信号已恢复：正在发送离线操作…", sent: "已发送 {n} 步离线操作。",
    conflict: "{number}：您 {t} 的{what}未生效：{why}", dropped: "{number}：您 {t} 的{what}未发送，之前的操作被拒绝",
    dismiss: "知道了", offlineNow: "无信号：操作保存在本机，有信号后自动发送。",
    a_accept: "接单", a_arrive: "到场", a_resolve: "完工", a_claim: "抢单", a_eta: "预计到达",
    etaLbl: "晚到？预计几分钟后到（分钟）", etaSend: "报送预计到达", eta: "预计到达", etaAt: "{t} 前到场",
    carryLbl: "今天无法完成？原因", carrySend: "转入明日遗留", carried: "已转遗留：{why}", a_carry_over: "转遗留",
    a_check: "勾选检查项", a_uncheck: "取消检查项",
  },
};

export function ow(key, vars) {
  let out = (WORDS[getLang()] || WORDS.en)[key] || WORDS.en[key] || key;
  for (const [k, v] of Object.entries(vars || {})) out = out.split("{" + k + "}").join(String(v));
  return out;
}

const DB = "caretaker-offline";
const STORE = "steps";

function open() {
  return new Promise((ok, fail) => {
    const r = indexedDB.open(DB, 1);
    r.onupgradeneeded = () => r.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });
}

function tx(mode, fn) {
  return open().then((db) => new Promise((ok, fail) => {
    const t = db.transaction(STORE, mode);
    const out = fn(t.objectStore(STORE));
    t.oncomplete = () => { db.close(); ok(out && out.result !== undefined ? out.result : out); };
    t.onerror = () => { db.close(); fail(t.error); };
  }));
}

// isOffline says whether an API error means no network (not a refusal).
export function isOffline(e) { return e instanceof APIError && e.status === 0; }

// enqueue keeps one step: who (the technician), the ticket (id, number),
// the action's body, the photos (Files) to send first.
export function enqueue(step) {
  return tx("readwrite", (s) => s.add(Object.assign({ client_time: new Date().toISOString() }, step)));
}

// queued lists who's steps, oldest first.
export function queued(who) {
  return tx("readonly", (s) => s.getAll()).then((all) => (all || []).filter((x) => x.who === who).sort((a, b) => a.seq - b.seq));
}

function remove(seq) { return tx("readwrite", (s) => s.delete(seq)); }

// Conflicts stay on the page until dismissed (they outlive a reload).
const conflictKey = (who) => "caretaker.conflicts." + who;
export function conflicts(who) {
  try { return JSON.parse(localStorage.getItem(conflictKey(who)) || "[]"); } catch (_) { return []; }
}
export function dismissConflicts(who) { localStorage.removeItem(conflictKey(who)); }
function addConflict(who, text) {
  const list = conflicts(who);
  list.push(text);
  localStorage.setItem(conflictKey(who), JSON.stringify(list));
}

// flush sends who's queued steps in order; it stops at the first network
// failure (still no signal). It answers how many went through.
export async function flush(who) {
  const steps = await queued(who);
  const refused = new Set();
  let sent = 0;
  for (const st of steps) {
    const what = ow("a_" + st.body.action);
    const at = when(st.client_time);
    if (refused.has(st.ticket)) {
      addConflict(who, ow("dropped", { number: st.number, what, t: at }));
      await remove(st.seq);
      continue;
    }
    try {
      for (const f of st.photos || []) {
        const fd = new FormData();
        fd.append("photo", f, f.name || "photo.jpg");
        await api("POST", "/api/tickets/" + enc(st.ticket) + "/photos?stage=after", fd);
      }
      if ((st.photos || []).length) {
        // Sent: not again if the step itself has to wait.
        st.photos = [];
        await tx("readwrite", (s) => s.put(st));
      }
      await api("POST", "/api/tickets/" + enc(st.ticket) + "/actions", Object.assign({}, st.body, { client_time: st.client_time }));
      sent++;
    } catch (e) {
      if (isOffline(e)) return sent;
      refused.add(st.ticket);
      addConflict(who, ow("conflict", { number: st.number, what, t: at, why: e.message }));
    }
    await remove(st.seq);
  }
  return sent;
}

// The status a step leaves its ticket in, to show before the server says.
export const STATUS_AFTER = { claim: "accepted", accept: "accepted", arrive: "on_site", resolve: "resolved" };
