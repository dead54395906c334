// The triage queue on the operator's page: alarms below level 1 wait for
// an operator, who makes a ticket, snoozes until a time (in the site's
// local time) with a reason, or dismisses a false alarm with a reason.
// Each card says the level, the rule in plain words, the place and
// device, since when, and the time left on the triage clock; the queue
// follows the live events (triage.*) and is read again after a snapshot.

import { h, field, showFieldError, clearFieldErrors, statusLine, say } from "./dom.js";
import { t, duration, siteName, clockTime, when, localInput, fromLocal, zoneLabel, zoneOf } from "./i18n.js";
import { ruleName } from "./words.js";
import { describeAlarm } from "./describe.js";
import { live, apply } from "./live.js";
import { api, enc, latest } from "./api.js";
import { session } from "./session.js";

// loadTriage reads the queue from the server into live.triage. Events
// that arrive while the answer is on its way are newer than it: they are
// applied again over it, or an alarm queued meanwhile would vanish. Of
// two reads on their way (the page's, a snapshot's), the older one's
// answer is dropped: its events stopped being kept when the newer began.
const newestRead = latest();
export async function loadTriage() {
  const meanwhile = new Map(); // alarm id -> its item, or null once decided
  live.triageMeanwhile = meanwhile;
  try {
    const data = await newestRead(api("GET", "/api/triage"));
    const m = new Map(((data && data.alarms) || []).map((it) => [it.alarm.id, it]));
    for (const [id, it] of meanwhile) {
      if (it) m.set(id, it);
      else m.delete(id);
    }
    live.triage = m;
  } finally {
    if (live.triageMeanwhile === meanwhile) live.triageMeanwhile = null;
  }
}

// mountTriage builds the section; draw(pass) redraws it with the items
// pass lets through (the board's filters), keeping the cards (and a form
// being filled in) of items that did not change.
export function mountTriage() {
  const list = h("ul", { class: "triage-list", id: "triage-list" });
  const empty = h("p", { class: "empty", id: "triage-empty", text: t("trNone") });
  const count = h("span", { class: "count", id: "triage-count" });
  const status = statusLine("triage-result");
  const section = h("section", { class: "column triage", id: "triage-panel", "aria-labelledby": "triage-h" },
    h("h2", { id: "triage-h" }, t("trTitle"), " ", count),
    h("p", { class: "hint", text: t("trHint") }), status, list, empty);
  const cards = new Map(); // alarm id -> { sig, el }

  function draw(pass) {
    const items = [...live.triage.values()].filter((it) => !pass || pass(itemView(it))).sort(byQueue);
    const keep = new Set();
    const els = items.map((it) => {
      const id = it.alarm.id;
      keep.add(id);
      const sig = [it.state, it.due_at, it.escalated_at, it.snoozed_until, it.alarm.state, it.alarm.peak].join("|");
      let c = cards.get(id);
      if (!c || c.sig !== sig) {
        c = { sig, el: card(it, status) };
        cards.set(id, c);
      }
      return c.el;
    });
    for (const id of [...cards.keys()]) if (!keep.has(id)) cards.delete(id);
    // Keep the card holding the focus in place: replaceChildren would
    // move it and drop the focus.
    if (els.length !== list.children.length || els.some((el, i) => list.children[i] !== el)) list.replaceChildren(...els);
    empty.hidden = items.length > 0;
    count.textContent = items.length ? "(" + items.length + ")" : "";
    tickTriage(section);
  }

  return { section, draw, status };
}

// itemView is what the board's filters look at.
function itemView(it) {
  const a = it.alarm;
  return { site: a.site, building: a.building, level: a.level, source: "sensor" };
}

// byQueue: queued before snoozed, the most urgent level first, then the
// oldest.
function byQueue(x, y) {
  return (x.state === "queued" ? 0 : 1) - (y.state === "queued" ? 0 : 1) || (x.alarm.level || 9) - (y.alarm.level || 9) ||
    new Date(x.queued_at) - new Date(y.queued_at);
}

function card(it, status) {
  const a = it.alarm;
  const place = [siteName(a.site), a.building, a.location].filter(Boolean).join(" / ");
  const li = h("li", { class: "triage-item level-" + (a.level || 3) + " " + it.state, dataset: { alarm: a.id, state: it.state, rule: a.rule_id } });
  const clock = h("span", { class: "triage-clock", dataset: it.state === "queued" ? { triageDue: it.due_at, escalated: it.escalated_at ? "1" : "" } : {} });
  if (it.state === "snoozed") clock.textContent = t("trSnoozedUntil", { t: shortTime(it.snoozed_until, a.site) }) + (it.reason ? " · " + it.reason : "");
  li.append(
    h("div", { class: "triage-head" },
      h("span", { class: "badge l" + (a.level || 3), text: "L" + (a.level || 3) }), " ",
      h("strong", { class: "triage-rule", text: ruleName(a) })),
    h("div", { class: "triage-what", text: describeAlarm(a) || "" }),
    h("div", { class: "sub triage-place" }, place, a.device_id ? " · " : "", a.device_id ? h("span", { class: "dev", text: a.device_id }) : null),
    h("div", { class: "triage-times" },
      h("span", { text: t("trSince") + " " }), h("span", { class: "age", dataset: { since: a.raised_at } }),
      a.state === "cleared" ? h("span", { class: "triage-cleared", text: " · " + t("trCleared") }) : null,
      " · ", clock));
  if (session.may("triage")) li.append(actions(it, status));
  return li;
}

function actions(it, status) {
  const a = it.alarm;
  const box = h("div", { class: "triage-actions" });
  const forms = h("div", { class: "triage-forms" });
  const line = statusLine("");
  line.classList.add("triage-line");
  const send = async (action, body, form, button) => {
    if (form) clearFieldErrors(form);
    button.disabled = true;
    say(line, "", "…");
    try {
      const res = await api("POST", "/api/triage/" + enc(a.id) + "/" + action, body);
      if (res.ticket) apply({ type: "ticket.created", data: res.ticket });
      apply({ type: "triage.decided", data: res });
      const what = action === "ticket" ? t("trTicketMade", { n: (res.ticket && res.ticket.number) || "" })
        : action === "snooze" ? t("trSnoozed", { t: shortTime(res.snoozed_until, a.site) }) : t("trDismissed");
      say(status, "ok", what, res.ticket ? h("a", { class: "button", href: "#/ticket/" + res.ticket.id, text: t("open") }) : null);
    } catch (e) {
      button.disabled = false;
      if (form && e.field && showFieldError(form, e.field, e.message)) say(line, "", "");
      else say(line, "error", t("failed", { e: e.message }));
    }
  };
  const ticketBtn = h("button", { type: "button", class: "primary tr-ticket", text: t("trMakeTicket") });
  ticketBtn.addEventListener("click", () => send("ticket", undefined, null, ticketBtn));

  const reasonIn = (name) => h("input", { name, autocomplete: "off", maxlength: "500" });
  const until = h("input", { type: "datetime-local", name: "until", value: localInput(new Date(Date.now() + 3600e3), a.site) });
  const snoozeForm = h("form", { class: "inline-form tr-snooze-form", hidden: true },
    field(t("trUntil"), until, t("trZone", { tz: zoneLabel(zoneOf(a.site)) || "" })), field(t("reason"), reasonIn("reason")),
    h("button", { type: "submit", class: "primary", text: t("trSnoozeGo") }));
  snoozeForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const at = fromLocal(until.value, a.site);
    if (isNaN(at)) { showFieldError(snoozeForm, "until", t("trBadTime")); return; }
    const reason = snoozeForm.elements.reason.value.trim();
    if (!reason) { showFieldError(snoozeForm, "reason", t("trNeedReason")); return; }
    send("snooze", { until: at.toISOString(), reason }, snoozeForm, snoozeForm.querySelector("button[type=submit]"));
  });
  const dismissForm = h("form", { class: "inline-form tr-dismiss-form", hidden: true },
    field(t("trWhyFalse"), reasonIn("reason")),
    h("button", { type: "submit", class: "warn", text: t("trDismissGo") }));
  dismissForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const reason = dismissForm.elements.reason.value.trim();
    if (!reason) { showFieldError(dismissForm, "reason", t("trNeedReason")); return; }
    send("dismiss", { reason }, dismissForm, dismissForm.querySelector("button[type=submit]"));
  });
  const toggle = (form, other) => () => {
    other.hidden = true;
    form.hidden = !form.hidden;
    if (!form.hidden) form.querySelector("input").focus();
  };
  box.append(ticketBtn,
    h("button", { type: "button", class: "tr-snooze", text: t("trSnooze"), onclick: toggle(snoozeForm, dismissForm) }),
    h("button", { type: "button", class: "tr-dismiss", text: t("trDismiss"), onclick: toggle(dismissForm, snoozeForm) }));
  forms.append(snoozeForm, dismissForm, line);
  return h("div", { class: "triage-do" }, box, forms);
}

// shortTime: "09:31" within a day, else the date too.
function shortTime(ts, site) {
  return Math.abs(new Date(ts) - Date.now()) < 20 * 3600e3 ? clockTime(ts, site) : when(ts, site);
}

// tickTriage writes the time left on each triage clock.
export function tickTriage(root) {
  const now = Date.now();
  for (const el of root.querySelectorAll("[data-triage-due]")) {
    const left = (new Date(el.dataset.triageDue).getTime() - now) / 1000;
    const late = left < 0 || el.dataset.escalated === "1";
    el.textContent = late ? t("trEscalated", { d: duration(Math.max(0, -left)) }) : t("trLeft", { d: duration(left) });
    el.classList.toggle("overdue", late);
    el.classList.toggle("soon", !late && left < 300);
  }
}
