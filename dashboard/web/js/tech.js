// The technician's phone: my tickets, the pool to claim from, arrive with
// the owner's code, resolve with notes and photos.

import { h, field, showFieldError, statusLine, say, keyed } from "./dom.js";
import { t, label, when, getLang } from "./i18n.js";
import { api, enc } from "./api.js";
import { live, subscribe, touch, apply, olderTicket } from "./live.js";
import { session } from "./session.js";
import { place, tick } from "./board.js";
import { dueOf } from "./sla.js";
import { upload } from "./report.js";
import { describeTicket } from "./describe.js";
import { enqueue, queued, flush, conflicts, dismissConflicts, isOffline, STATUS_AFTER, ow } from "./offline.js";
import { checklistView, partsEditor, pendingChecks, missingItems, itemText } from "./checklist.js";

// Steps that tick a checklist show in the checklist, not in the card's
// list of queued steps (so the card, and what is typed in it, stays).
const isCheck = (st) => st.body.action === "check" || st.body.action === "uncheck";

export function mount(root) {
  const mine = h("div", { class: "cards", id: "tech-mine" });
  const pool = h("div", { class: "cards", id: "tech-pool" });
  const msg = statusLine("tech-result"); // outside the cards, which every event redraws
  // Steps taken without signal, and those the server refused when they
  // were sent (a conflict: the ticket changed meanwhile).
  const offlineBox = h("div", { id: "tech-offline", class: "offline-box", role: "status" });
  const conflictBox = h("div", { id: "tech-conflicts", class: "conflicts", role: "alert" });
  const me = () => (session.me ? session.me.name : "");
  const emptyMine = h("p", { class: "empty", text: t("nothingMine") });
  const emptyPool = h("p", { class: "empty", text: t("poolEmpty") });
  let pending = []; // queued steps of this technician, oldest first
  root.replaceChildren(msg, conflictBox, offlineBox,
    h("section", { class: "column" }, h("h2", { text: t("myTickets") }), mine),
    h("section", { class: "column" }, h("h2", { text: t("pool") }), pool));

  // Cards are kept while their ticket stands as it did, so that what a
  // technician is typing survives the redraws every live event causes.
  const cards = new Map(); // ticket id -> {sig, el}
  function cached(tk, isMine) {
    const due = dueOf(tk);
    const sig = [isMine, tk.status, tk.assignee, tk.level, tk.description, alarmActive(tk),
      tk.queued ? tk.queued.length : 0, tk.eta, tk.carried_at, due ? due.stage + due.at.getTime() + due.estimated : "",
      tk.reporter ? tk.reporter.phone : ""].join("|");
    const hit = cards.get(tk.id);
    if (hit && hit.sig === sig) return hit.el;
    const el = card(tk, isMine);
    if (hit) keepTyped(hit.el, el);
    cards.set(tk.id, { sig, el });
    return el;
  }

  function draw() {
    const me = session.me ? session.me.name : "";
    drawOffline();
    const open = [...live.tickets.values()].map((tk) => {
      // What the queued steps will make of it, until the server says.
      const steps = pending.filter((st) => st.ticket === tk.id && !isCheck(st));
      if (!steps.length) return tk;
      const last = steps[steps.length - 1].body.action;
      return Object.assign({}, tk, { status: STATUS_AFTER[last] || tk.status, assignee: tk.assignee || me, queued: steps });
    }).sort((a, b) => a.level - b.level || new Date(a.created_at) - new Date(b.created_at));
    const my = open.filter((tk) => tk.assignee === me);
    const free = open.filter((tk) => !tk.assignee && tk.status === "new");
    // keyed, not replaceChildren: taking out the card being typed in,
    // even to put it back, would drop the focus.
    keyed(mine, my.length ? my.map((tk) => cached(tk, true)) : [emptyMine]);
    keyed(pool, free.length ? free.map((tk) => cached(tk, false)) : [emptyPool]);
    for (const id of [...cards.keys()]) if (!live.tickets.has(id)) cards.delete(id);
    for (const id of boxes.keys()) fillChecks(id);
    tick(root);
  }

  // The checklist of a ticket I work on: read from the ticket (GET, kept
  // by the service worker for use without signal), drawn in a slot of its
  // own that redraws without the card.
  const details = new Map(); // ticket id -> the ticket as GET answers it
  const boxes = new Map(); // ticket id -> the checklist's slot on its card
  function checkSlot(tk) {
    let slot = boxes.get(tk.id);
    if (!slot) {
      slot = h("div", { class: "checklist-slot" });
      boxes.set(tk.id, slot);
    }
    if (details.has(tk.id)) fillChecks(tk.id);
    else loadDetail(tk.id);
    return slot;
  }
  // fillChecks draws a checklist again only when it changed (the ticket,
  // the steps queued on the phone) or when force says so: every event
  // redraws the cards' lists, and a redraw would wipe a value being typed
  // into an item and the error beside it. What was typed is carried over.
  function fillChecks(id, force) {
    const slot = boxes.get(id);
    const d = details.get(id);
    if (!slot || !d) return;
    const steps = pending.filter((st) => st.ticket === id);
    const sig = [d.updated_at, (d.history || []).length, ...steps.map((st) => JSON.stringify(st.body))].join("|");
    if (!force && slot.dataset.sig === sig && slot.firstChild) return;
    slot.dataset.sig = sig;
    const v = checklistView(d, { pending: pendingChecks(steps), onToggle: (it, on, value) => {
      const body = on ? { action: "check", item: it.id } : { action: "uncheck", item: it.id };
      if (on && value) body.value = value;
      act(d, body).then((e) => { if (e) fillChecks(id, true); });
    } });
    if (v && slot.firstChild) keepTyped(slot.firstChild, v);
    slot.replaceChildren(...(v ? [v] : []));
  }
  async function loadDetail(id) {
    try {
      const d = await api("GET", "/api/tickets/" + enc(id));
      // Reads overlap (events, an action's answer): an older one landing
      // last would bring back the checks as they were.
      if (olderTicket(d, details.get(id))) return;
      details.set(id, d);
      fillChecks(id);
    } catch (_) { /* no signal and nothing cached: the server checks at resolve */ }
  }
  // missingNow: the required checks still to do, with those queued.
  function missingNow(id) {
    const d = details.get(id);
    return d ? missingItems(d.checklist, pendingChecks(pending.filter((st) => st.ticket === id))) : [];
  }

  function card(tk, isMine) {
    const c = h("article", { class: "ticket-card level-" + tk.level, dataset: { ticket: tk.id } },
      h("header", {}, h("span", { class: "badge l" + tk.level, text: "L" + tk.level }), " ", h("strong", { text: tk.number }), " ",
        h("span", { class: "status", dataset: { status: tk.status }, text: label("st", tk.status) })),
      h("p", { class: "place", text: [place(tk), tk.unit, tk.floor, tk.room].filter(Boolean).join(" / ") }),
      h("p", { class: "desc", text: describeTicket(tk) }),
      h("p", { class: "meta", text: label("cat", tk.category) + " · " + label("src", tk.source) }),
      clocks(tk), isMine ? callLink(tk) : null,
      tk.queued ? h("ul", { class: "queued" }, tk.queued.map((st) => h("li", { text: ow("queuedStep", { what: ow("a_" + st.body.action), t: when(st.client_time) }) }))) : null);
    const bar = h("div", { class: "actions-bar" });
    if (!isMine) {
      bar.append(button(t("claim"), () => act(tk, { action: "claim" })));
    } else if (tk.status === "dispatched") {
      bar.append(button(t("accept"), () => act(tk, { action: "accept" })));
    } else if (tk.status === "accepted") {
      const code = h("input", { name: "code", inputmode: "numeric", autocomplete: "one-time-code" });
      bar.append(h("form", { class: "inline-form", onsubmit: (e) => { e.preventDefault(); act(tk, code.value.trim() ? { action: "arrive", code: code.value.trim() } : { action: "arrive" }); } },
        tk.scope === "in_home" ? field(t("code"), code) : null, h("button", { type: "submit", text: t("arrive") })));
    } else if (tk.status === "on_site") {
      const note = h("textarea", { name: "note", rows: 2 });
      const files = h("input", { type: "file", name: "photos", accept: "image/*", capture: "environment", multiple: true });
      // The alarm still active: resolving needs an override with a
      // reason, which the control room sees. Shown when the board knows
      // the alarm holds, or when the server says so.
      const reason = h("textarea", { name: "reason", rows: 2 });
      const submit = h("button", { type: "submit", class: "primary", text: t("resolve") });
      const overrideBox = h("div", { class: "override-box", id: "override-" + tk.id, hidden: true },
        h("p", { class: "warn", role: "alert", text: t("overrideNeeded") }), field(t("overrideReason"), reason));
      const showOverride = () => { overrideBox.hidden = false; submit.textContent = t("overrideResolve"); submit.className = "warn"; };
      const terms = partsEditor();
      if (alarmActive(tk)) showOverride();
      let sent = null;
      const form = h("form", { class: "stack-form resolve-form", dataset: { ticket: tk.id }, novalidate: true, onsubmit: async (e) => {
        e.preventDefault();
        if (!note.value.trim()) { showFieldError(form, "note", t("required")); return; }
        const body = { action: "resolve", note: note.value.trim() };
        const extra = terms.read(form);
        if (!extra) return;
        if (extra.parts.length) body.parts = extra.parts;
        if (extra.paid) Object.assign(body, { paid: true, fee_cents: extra.fee_cents });
        const miss = missingNow(tk.id);
        if (miss.length) { say(msg, "error", t("checkFirst", { items: miss.map(itemText).join(getLang() === "zh-CN" ? "、" : ", ") })); return; }
        if (!overrideBox.hidden) {
          if (!reason.value.trim()) { showFieldError(form, "reason", t("required")); return; }
          Object.assign(body, { override: true, reason: reason.value.trim() });
        }
        say(msg, "", "");
        if (navigator.onLine === false) { keep(tk, body, [...files.files]); return; }
        if (!sent && files.files.length) sent = await upload(tk.id, files.files, "after");
        const err = await act(tk, body, sent, sent ? [] : [...files.files]);
        if (err && err.field === "override") {
          showOverride();
          showFieldError(form, "reason", err.message);
        } else if (err && err.code === "checklist_incomplete") {
          await loadDetail(tk.id);
          const m = missingNow(tk.id);
          if (m.length) say(msg, "error", t("checkFirst", { items: m.map(itemText).join(getLang() === "zh-CN" ? "、" : ", ") }));
        } else if (err && err.field) {
          showFieldError(form, err.field, err.message);
        }
      } }, field(t("resolution"), note), terms.el, field(t("photos"), files), overrideBox, submit);
      bar.append(form);
    }
    if (isMine && (tk.status === "dispatched" || tk.status === "accepted")) {
      // Cannot be there within 20 minutes: say when (the control room and
      // the reporter are told).
      const mins = h("input", { name: "eta_minutes", type: "number", min: 1, max: 480, inputmode: "numeric" });
      // Not a form of its own: the card's one submit stays the next step.
      const box = h("div", { class: "inline-form eta-form" }, field(ow("etaLbl"), mins),
        h("button", { type: "button", text: ow("etaSend"), onclick: () => {
          const n = Number(mins.value);
          if (!(n >= 1 && n <= 480)) { mins.setAttribute("aria-invalid", "true"); mins.focus(); return; }
          act(tk, { action: "eta", eta_minutes: n });
        } }));
      bar.append(box);
    }
    if (isMine && ["dispatched", "accepted", "on_site"].includes(tk.status) && !tk.carried_at) {
      const why = h("input", { name: "carry_reason", autocomplete: "off" });
      bar.append(h("div", { class: "inline-form carry-form" }, field(ow("carryLbl"), why),
        h("button", { type: "button", text: ow("carrySend"), onclick: () => {
          if (!why.value.trim()) { why.setAttribute("aria-invalid", "true"); why.focus(); return; }
          act(tk, { action: "carry_over", reason: why.value.trim() });
        } })));
    }
    if (isMine && (tk.status === "accepted" || tk.status === "on_site")) c.append(checkSlot(tk));
    if (tk.carried_at) c.append(h("p", { class: "carried", text: ow("carried", { why: tk.carry_reason }) }));
    if (tk.eta) c.append(h("p", { class: "eta", text: ow("eta") + ": " + ow("etaAt", { t: when(tk.eta, tk.site) }) }));
    bar.append(h("a", { class: "button", href: "#/ticket/" + tk.id, text: t("open") }));
    c.append(bar);
    return c;
  }

  // act sends an action; extra (how the photos went) stays beside the answer.
  async function act(tk, body, extra, files) {
    if (!extra) say(msg, "", "");
    if (navigator.onLine === false) { await keep(tk, body, files); return null; }
    try {
      const out = await api("POST", "/api/tickets/" + enc(tk.id) + "/actions", body);
      const updated = out && (out.ticket || out);
      if (updated && updated.id && "history" in updated && !olderTicket(updated, details.get(updated.id))) details.set(updated.id, updated);
      // As an event: an answer older than the events already in is
      // dropped, and a resolved ticket leaves the open ones.
      if (updated && updated.id) apply({ type: "ticket.updated", data: updated });
      say(msg, "ok", t("done"), extra);
      draw();
      return null;
    } catch (e) {
      if (isOffline(e)) { await keep(tk, body, files); return null; }
      say(msg, "error", e.missing ? t("notAvailable", { what: "/api/tickets/{id}/actions" }) : t("failed", { e: e.message }), extra);
      return e;
    }
  }

  // keep queues a step taken without signal, with the phone's time.
  async function keep(tk, body, files) {
    await enqueue({ who: me(), ticket: tk.id, number: tk.number, body, photos: files || [] });
    await reloadQueue();
  }

  async function reloadQueue() {
    pending = await queued(me());
    draw();
  }

  function drawOffline() {
    const lines = [];
    if (navigator.onLine === false) lines.push(h("p", { class: "warn", text: ow("offlineNow") }));
    if (pending.length) lines.push(h("p", { id: "tech-queued", text: ow("queued", { n: pending.length }) }));
    offlineBox.replaceChildren(...lines);
    const list = conflicts(me());
    conflictBox.replaceChildren(...(list.length ? [h("ul", {}, list.map((c) => h("li", { class: "conflict", text: c }))),
      h("button", { type: "button", id: "tech-conflicts-dismiss", text: ow("dismiss"), onclick: () => { dismissConflicts(me()); draw(); } })] : []));
  }

  // sendQueued sends the steps taken offline, in order, once there is
  // signal; then the tickets as the server has them.
  let sending = false;
  async function sendQueued() {
    if (sending || navigator.onLine === false || !pending.length) return;
    sending = true;
    say(msg, "", ow("sending"));
    try {
      const n = await flush(me());
      await reloadQueue();
      if (!pending.length) say(msg, "ok", ow("sent", { n }));
      await loadTickets();
      for (const id of boxes.keys()) loadDetail(id); // the checks as the server has them now
    } finally {
      sending = false;
    }
  }

  // loadTickets reads the open tickets from the API (the service worker
  // answers from its cache without signal) when the live connection has
  // not given them, and keeps the cache fresh when it has.
  async function loadTickets() {
    try {
      const data = await api("GET", "/api/tickets");
      if (!live.loaded || navigator.onLine === false) {
        for (const tk of data.tickets || []) {
          if (!["closed", "cancelled"].includes(tk.status)) live.tickets.set(tk.id, touch(Object.assign(live.tickets.get(tk.id) || {}, tk)));
        }
      }
      draw();
    } catch (_) { /* nothing cached yet */ }
  }
  const onOnline = () => { draw(); sendQueued(); };
  const onOffline = () => draw();
  window.addEventListener("online", onOnline);
  window.addEventListener("offline", onOffline);
  loadTickets();
  reloadQueue().then(sendQueued);

  const unsub = subscribe((m) => {
    // Someone else checked an item (an operator on the phone with me).
    if (m.type === "ticket.updated" && m.data && boxes.has(m.data.id) && navigator.onLine !== false) {
      const d = details.get(m.data.id);
      if (!d || d.updated_at !== m.data.updated_at) loadDetail(m.data.id);
    }
    if (m.type !== "reading" && m.type !== "conn") draw();
  });
  // The cards' ages and clocks count on by themselves (board.js tick).
  const ticker = setInterval(() => tick(root), 1000);
  draw();
  return () => { unsub(); clearInterval(ticker); window.removeEventListener("online", onOnline); window.removeEventListener("offline", onOffline); };
}

// clocks is how long the ticket has been open and the time limit that
// matters most (sla.js): the one missed, else the one due first.
function clocks(tk) {
  const due = dueOf(tk);
  const since = tk.first_reported_at || tk.created_at;
  return h("p", { class: "clocks" },
    since ? h("span", { class: "card-age" }, t("age") + " ", h("span", { class: "age", dataset: { since } })) : null,
    due ? h("span", { class: "sla" + (due.estimated ? " estimated" : ""), dataset: { due: due.at.toISOString(), stage: due.stage } }) : null);
}

// callLink calls the reporter in one tap: on the assignee's own cards
// only, and only when the report left a phone.
function callLink(tk) {
  const phone = tk.reporter && tk.reporter.phone ? tk.reporter.phone.replace(/[^0-9+*#]/g, "") : "";
  if (!phone) return null;
  return h("a", { class: "call-reporter", href: "tel:" + phone, dataset: { phone },
    text: t("callReporter", { who: (tk.reporter.name || "").trim() || t("theReporter") }) + " · " + tk.reporter.phone });
}

// keepTyped carries what the technician has typed (and where the cursor
// is) from a card onto the card redrawn for the same ticket: a clock's
// warning or an edit elsewhere redraws it, and must not wipe a half-typed
// code or note. Fields are matched by name and order; files cannot be
// set from script, so a chosen photo stays only when the card does not
// change.
function keepTyped(from, to) {
  const fields = (root) => [...root.querySelectorAll("input[name], textarea[name], select[name]")].filter((f) => f.type !== "file");
  const seen = new Map();
  const key = (f) => { const n = (seen.get(f.name) || 0) + 1; seen.set(f.name, n); return f.name + "#" + n; };
  const typed = new Map();
  for (const f of fields(from)) {
    const k = key(f);
    if (f.type === "checkbox" || f.type === "radio") {
      if (f.checked !== f.defaultChecked) typed.set(k, { checked: f.checked, focus: f === document.activeElement });
    } else if (f.value !== f.defaultValue || f === document.activeElement) {
      typed.set(k, { value: f.value, focus: f === document.activeElement });
    }
  }
  if (!typed.size) return;
  seen.clear();
  for (const f of fields(to)) {
    const v = typed.get(key(f));
    if (!v) continue;
    if ("checked" in v) f.checked = v.checked;
    else f.value = v.value;
    if (v.focus) queueMicrotask(() => { if (f.isConnected) f.focus(); });
  }
}

// alarmActive says whether an alarm of the ticket has not cleared.
function alarmActive(tk) {
  for (const a of live.alarms.values()) if (a.ticket_id === tk.id && a.state !== "cleared" && !a.shadow) return true;
  return false;
}

function button(text, onclick) {
  return h("button", { type: "button", text, onclick });
}
