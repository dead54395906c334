// One ticket: its fields, the full history, a chart of the device's
// readings around the alarm (live while open), and the operator's actions:
// acknowledge, dispatch to a technician, escalate, comment.

import { h, field, options, showFieldError, statusLine, say, perFrame } from "./dom.js";
import { t, when, label } from "./i18n.js";
import { verbName, stageName, withUnit, metricName, unitOf, recipientName, skillName } from "./words.js";
import { noteWords, actorWords, dispatchWhy } from "./notes.js";
import { describeTicket, technical } from "./describe.js";
import { api, enc, getToken, latest } from "./api.js";
import { live, subscribe, send } from "./live.js";
import { timeSeries } from "./chart.js";
import { session } from "./session.js";
import { ack, place } from "./board.js";
import { commandsSection } from "./devcmds.js";
import { ow } from "./offline.js";
import { checklistView, termsText, acceptanceText, yuan, rememberItems, paren } from "./checklist.js";

export function mount(root, id) {
  const box = h("div", { class: "detail", id: "ticket-detail" });
  // An action redraws the ticket (box); what it answered stays here.
  const msg = statusLine("ticket-result");
  root.replaceChildren(h("p", {}, h("a", { href: "#/", class: "back", text: "← " + t("back") })), msg, box);
  let stop = () => {};
  // Reads overlap (an action's, an acknowledgement's): only the newest is
  // drawn, and none once the page is left (its live readings and device
  // actions would go on for a ticket no longer shown).
  const newest = latest();
  load();

  async function load() {
    let tk, alarm;
    try {
      tk = await newest(api("GET", "/api/tickets/" + enc(id)).then(async (x) => {
        alarm = x.alarm_id ? await findAlarm(x.alarm_id) : null;
        return x;
      }));
    } catch (e) {
      box.replaceChildren(h("p", { class: "error", role: "alert", text: t("failed", { e: e.message }) }));
      return;
    }
    stop();
    stop = draw(tk, alarm);
  }

  function draw(tk, alarm) {
    rememberItems(tk.checklist); // the history names its items in the reader's words
    const facts = h("dl", { class: "facts" },
      fact(t("number"), tk.number), fact(t("level"), "L" + tk.level), fact(t("status"), label("st", tk.status)),
      fact(t("source"), label("src", tk.source)), fact(t("category"), label("cat", tk.category)),
      fact(t("place"), [place(tk), tk.unit, tk.floor, tk.room].filter(Boolean).join(" / ")),
      fact(t("device"), tk.device_id), fact(t("assignee"), tk.assignee),
      tk.eta ? fact(ow("eta"), ow("etaAt", { t: when(tk.eta, tk.site) })) : null,
      fact(t("reporterLbl"), [tk.reporter && tk.reporter.name, tk.reporter && tk.reporter.phone].filter(Boolean).join(" ")),
      fact(t("reported"), when(tk.first_reported_at || tk.created_at, tk.site)),
      fact(t("outcomeLbl"), tk.outcome ? label("out", tk.outcome) : ""), fact(t("scoreLbl"), tk.score != null ? tk.score + "/5" : ""),
      tk.parts && tk.parts.length ? fact(t("partsUsed"), tk.parts.map((p) => p.name + " × " + p.qty).join(", "), "ticket-parts") : null,
      tk.paid ? fact(t("feeLbl"), t("feeValue", { v: yuan(tk.fee_cents || 0) }) + paren(t("paidService")), "ticket-fee") : null,
      tk.acceptance ? fact(t("acceptanceLbl"), acceptanceText(tk), "ticket-acceptance") : null);
    const history = h("ol", { class: "history", id: "ticket-history" }, (tk.history || []).map((e) =>
      h("li", { dataset: { action: e.action } }, h("time", { text: when(e.at, tk.site) }), " ", h("strong", { text: verbName(e.action) }), " ",
        h("span", { class: "who", text: actorWords(e) }),
        e.note ? h("div", { class: "note", text: noteWords(e, tk.site) }) : null,
        e.note && technical(e.note) && noteWords(e, tk.site) !== e.note ? h("div", { class: "tech", lang: "en", text: e.note }) : null)));
    // An alarm that came back while the ticket was open, and every report
    // of the incident (who to call back, what they said).
    const rec = tk.recurrence && tk.recurrence.count ? h("section", { id: "ticket-recurrence", class: "recurrence" },
      h("h3", { text: t("recurrences") }),
      h("p", { class: "warn", text: t("recurred", { n: tk.recurrence.count, t: when(tk.recurrence.last_at, tk.site), p: peakText(tk.recurrence.peak) }) }),
      h("ol", {}, (tk.recurrence.episodes || []).map((e) => h("li", { text: when(e.at, tk.site) + " · " + t("peakLbl") + " " + peakText(e.peak) })))) : null;
    const reporters = Array.isArray(tk.reporters) && tk.reporters.length ? h("section", {}, h("h3", { text: t("incidentReports") }),
      h("ul", { class: "reporters", id: "ticket-reporters" }, tk.reporters.map((r) =>
        h("li", {}, h("time", { text: when(r.at, tk.site) }), " ", h("strong", { text: [r.name, r.phone].filter(Boolean).join(" ") || r.reported_by }),
          " (" + label("src", r.source) + (r.photos && r.photos.length ? ", " + t("photosN", { n: r.photos.length }) : "") + ")",
          h("div", { class: "note", text: r.description }))))) : null;
    const photos = Array.isArray(tk.photos) && tk.photos.length ? h("section", {}, h("h3", { text: t("photos") }),
      h("ul", { class: "photos", id: "ticket-photos" }, tk.photos.map((p) => photo(tk.id, p)))) : null;
    // The peak as the alarm's metric reads (a unit), else the number.
    function peakText(v) { return alarm && alarm.metric ? withUnit(v, alarm.metric) : String(v); }
    const clocks = Array.isArray(tk.deadlines) && tk.deadlines.length ? h("section", {}, h("h3", { text: t("deadlines") }),
      h("table", { class: "rows compact", id: "ticket-deadlines" }, h("tbody", {}, tk.deadlines.map((d) => {
        const late = !d.met_at && new Date(d.due_at) < new Date();
        return h("tr", { class: late ? "late" : "" }, h("td", { text: label("clock", d.clock) }),
          h("td", { text: t("dueAt") + " " + when(d.due_at, tk.site) }),
          h("td", { text: d.met_at ? t("metAt") + " " + when(d.met_at, tk.site) : late ? t("overdue", { d: "" }).trim() : "" }),
          h("td", { text: d.escalations ? "↑" + d.escalations : "" }));
      })))) : null;

    const actions = h("div", { class: "actions-bar" });
    if (alarm && !alarm.acked && session.may("ack")) {
      actions.append(h("button", { type: "button", id: "detail-ack", text: t("ack"), onclick: async (e) => { if (await ack(alarm.id, e.target)) { say(msg, "ok", t("done")); load(); } } }));
    }
    const isOpen = !["resolved", "closed", "cancelled"].includes(tk.status);
    if (session.may("dispatch") && ["new", "dispatched", "accepted"].includes(tk.status)) actions.append(dispatchForm(tk, act));
    if (session.may("level") && isOpen) {
      // Escalating is raising the level (with a reason): its clocks are
      // re-planned from the first report.
      const lvl = options(h("select", { name: "level" }), [1, 2, 3].map((n) => [String(n), "L" + n]));
      lvl.value = String(Math.max(1, tk.level - 1));
      const why = h("input", { name: "reason", required: true, autocomplete: "off" });
      actions.append(h("form", { class: "inline-form", id: "escalate-form", novalidate: true, onsubmit: (e) => {
        e.preventDefault();
        if (!why.value.trim()) { showFieldError(e.target, "reason", t("required")); return; }
        act({ action: "level", level: Number(lvl.value), reason: why.value.trim() }, e.target);
      } }, field(t("newLevel"), lvl), field(t("reason"), why), h("button", { type: "submit", class: "warn", text: t("escalate") })));
    }
    const flowBox = flowActions(tk, act);
    const overrideNote = tk.override ? h("p", { class: "override-mark", id: "ticket-override", role: "note",
      text: t("overrideMark", { who: tk.override.by, why: tk.override.reason }) + " · " + when(tk.override.at, tk.site) }) : null;
    const alarmState = alarm && alarm.status ? h("p", { class: "alarm-state " + alarm.status, id: "ticket-alarm-state", text: t("as_" + alarm.status) }) : null;

    // Who was paged about the ticket, by what, and whether it arrived.
    const pagesBox = h("section", { id: "ticket-notifications" }, h("h3", { text: t("paged") }));
    const pagesMsg = statusLine("ticket-notifications-status");
    pagesBox.append(pagesMsg);
    loadPages(tk.id, pagesBox, pagesMsg, tk.site);

    const cmds = commandsSection(tk);
    // The checklist: an operator may tick an item the technician reads
    // out on the phone; everyone else sees who checked what, when.
    const mayCheck = session.may("check") && ["accepted", "on_site"].includes(tk.status) &&
      (session.me.role !== "technician" || tk.assignee === (session.me && session.me.name));
    const checks = checklistView(tk, mayCheck ? { onToggle: (it, on, value) => {
      const body = on ? { action: "check", item: it.id } : { action: "uncheck", item: it.id };
      if (on && value) body.value = value;
      act(body);
    } } : {});
    const chartBox = tk.device_id ? h("section", { class: "chart-section", id: "readings-chart" }, h("h3", { text: t("readings") })) : null;
    box.replaceChildren(...[
      h("h2", {}, h("span", { class: "badge l" + tk.level, text: "L" + tk.level }), " ", tk.number || "", " ", h("span", { class: "desc", text: describeTicket(tk) })),
      technical(tk.source === "sensor" ? tk.description : "") ? h("p", { class: "tech", lang: "en", text: tk.description }) : null,
      facts, overrideNote, alarmState, rec, checks, actions, flowBox, cmds.el, chartBox, clocks, pagesBox, reporters, photos, h("section", {}, h("h3", { text: t("history") }), history)].filter(Boolean));

    async function act(body, form) {
      say(msg, "", "");
      try {
        await api("POST", "/api/tickets/" + enc(tk.id) + "/actions", body);
        say(msg, "ok", t("done"));
        load();
      } catch (e) {
        say(msg, "error", e.missing ? t("notAvailable", { what: "/api/tickets/{id}/actions" }) : t("failed", { e: e.message }));
        if (form && e.field) showFieldError(form, e.field, e.message);
      }
    }
    const stopReadings = tk.device_id ? drawReadings(chartBox, tk, alarm) : () => {};
    return () => { cmds.stop(); stopReadings(); };
  }

  return () => { newest.drop(); stop(); };
}

// dispatchForm picks the technician from the ones the server knows,
// best first, each with whether they are on duty, their skills, zones
// and open tickets, and says what auto-dispatch did. Without any known
// technician (none configured) it takes a typed name.
function dispatchForm(tk, act) {
  const sel = h("select", { name: "technician", id: "dispatch-technician" });
  const typed = h("input", { name: "technician", autocomplete: "off" });
  const slot = h("span", { class: "tech-slot" }, field(t("technicianName"), sel));
  const list = h("ul", { class: "tech-choices", id: "dispatch-choices" });
  const auto = h("p", { class: "hint", id: "dispatch-auto" });
  const form = h("form", { class: "inline-form", id: "dispatch-form", novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    const ctl = form.elements.technician;
    const v = ctl && ctl.value.trim();
    if (!v) { showFieldError(form, "technician", t("chooseTech")); return; }
    act({ action: "assign", technician: v }, form);
  } }, slot, h("button", { type: "submit", text: t("dispatch") }));
  const box = h("div", { class: "dispatch", id: "dispatch-box" }, form, auto, list);
  (async () => {
    let c;
    try {
      c = await api("GET", "/api/tickets/" + enc(tk.id) + "/technicians");
    } catch (e) {
      slot.replaceChildren(field(t("technicianName"), typed));
      auto.textContent = e.status === 503 ? t("noTechnicians") : t("failed", { e: e.message });
      return;
    }
    const techs = c.technicians || [];
    if (!techs.length) {
      slot.replaceChildren(field(t("technicianName"), typed));
      auto.textContent = t("noTechnicians");
      return;
    }
    options(sel, [["", t("chooseTech")], ...techs.map((x) => [x.name, choiceText(x)])]);
    const best = techs.find((x) => x.best);
    sel.value = tk.assignee && techs.some((x) => x.name === tk.assignee) ? tk.assignee : best ? best.name : "";
    if (c.auto) auto.textContent = t("autoWhy", { why: dispatchWhy(c.auto) });
    list.replaceChildren(...techs.map((x) => h("li", { class: "tech-choice" + (x.on_duty ? " on-duty" : " off-duty") + (x.best ? " best" : ""), dataset: { name: x.name } },
      h("strong", { text: x.name }), " ", h("span", { class: "sub", text: choiceText(x, true) }))));
  })();
  return box;
}

function choiceText(x, withoutName) {
  return [withoutName ? null : x.name, x.best ? t("techBest") : null, x.on_duty ? t("techOnDuty") : t("techOffDuty"),
    (x.skills && x.skills.length ? x.skills.map(skillName).join(", ") : t("techAnySkill")) + " (" + (x.skilled ? t("techSkilled") : t("techNoSkill")) + ")",
    (x.zones && x.zones.length ? x.zones.join(", ") : t("techAnyZone")) + " (" + (x.in_zone ? t("techInZone") : t("techOtherZone")) + ")",
    t("techOpen", { n: x.open })].filter(Boolean).join(" · ");
}

// flowActions are the steps after the work (and cancel, comment), each
// shown only to a role that may take it, in the status it is legal in:
// confirm, dispute, callback (score, fixed?, note), reopen, cancel and
// comment. The server checks again.
function flowActions(tk, act) {
  const box = h("section", { class: "flow-actions", id: "flow-actions" });
  const done = tk.status === "resolved" || tk.status === "closed";
  const reasonForm = (id, label, btnClass, action, need) => {
    const reason = h("input", { name: "reason", autocomplete: "off" });
    return h("form", { class: "inline-form", id, novalidate: true, onsubmit: (e) => {
      e.preventDefault();
      if (need && !reason.value.trim()) { showFieldError(e.target, "reason", t("required")); return; }
      act(Object.assign({ action }, reason.value.trim() ? { reason: reason.value.trim() } : {}), e.target);
    } }, field(t("reason"), reason), h("button", { type: "submit", class: btnClass, text: label }));
  };
  if (done) {
    const after = h("div", { class: "actions-bar" });
    const terms = termsText(tk);
    if (tk.status === "resolved" && terms && (session.may("confirm") || session.may("dispute"))) {
      after.append(h("p", { class: "accept-terms", id: "accept-terms", text: t("acceptTerms", { what: terms }) }));
    }
    if (tk.status === "resolved" && session.may("confirm")) {
      after.append(h("button", { type: "button", class: "primary", id: "act-confirm", text: terms ? t("confirmWorkTerms") : t("confirmWork"), onclick: () => act({ action: "confirm" }) }));
    }
    if (tk.status === "resolved" && session.may("dispute")) after.append(reasonForm("dispute-form", t("disputeWork"), "warn", "dispute", true));
    if (session.may("reopen")) after.append(reasonForm("reopen-form", t("reopenTicket"), "", "reopen", true));
    if (after.childNodes.length) box.append(h("h3", { text: t("afterWork") }), after);
    if (session.may("callback") && tk.score == null) box.append(callbackForm(act));
  }
  if (!done && tk.status !== "cancelled" && session.may("cancel")) {
    box.append(h("div", { class: "actions-bar" }, reasonForm("cancel-form", t("cancelTicket"), "warn", "cancel", true)));
  }
  const me = session.me ? session.me.name : "";
  if (session.may("comment") && (session.me.role !== "technician" || tk.assignee === me)) {
    const note = h("textarea", { name: "note", rows: 2 });
    box.append(h("form", { class: "stack-form", id: "comment-form", novalidate: true, onsubmit: (e) => {
      e.preventDefault();
      if (!note.value.trim()) { showFieldError(e.target, "note", t("required")); return; }
      act({ action: "comment", note: note.value.trim() }, e.target);
    } }, field(t("commentTitle"), note), h("button", { type: "submit", text: t("addComment") })));
  }
  return box.childNodes.length ? box : null;
}

// callbackForm is the call centre's callback: score 1-5, fixed or not, a note.
function callbackForm(act) {
  const score = options(h("select", { name: "score", id: "callback-score" }), [["", "–"], ...[5, 4, 3, 2, 1].map((n) => [String(n), String(n)])]);
  const yes = h("input", { type: "radio", name: "fixed", value: "yes", checked: true, id: "callback-fixed-yes" });
  const no = h("input", { type: "radio", name: "fixed", value: "no", id: "callback-fixed-no" });
  const note = h("textarea", { name: "note", rows: 2 });
  const form = h("form", { class: "stack-form", id: "callback-form", novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    if (!score.value) { showFieldError(form, "score", t("required")); return; }
    const body = { action: "callback", score: Number(score.value), fixed: yes.checked };
    if (note.value.trim()) body.note = note.value.trim();
    act(body, form);
  } },
  h("h3", { text: t("callbackTitle") }),
  field(t("score"), score),
  h("fieldset", { class: "fixed-q" }, h("legend", { text: t("fixedQ") }),
    h("label", { class: "check" }, yes, h("span", { text: t("yes") })), h("label", { class: "check" }, no, h("span", { text: t("no") }))),
  field(t("note"), note),
  h("button", { type: "submit", class: "primary", text: t("saveCallback") }));
  return form;
}

// loadPages lists the deliveries of a ticket: who, through which channel,
// in which state, and when (delivered or failed, else the next attempt).
async function loadPages(id, box, msg, site) {
  let list;
  try {
    list = (await api("GET", "/api/tickets/" + enc(id) + "/notifications")).notifications || [];
  } catch (e) {
    say(msg, "error", e.missing ? t("notAvailable", { what: "/api/tickets/{id}/notifications" }) : t("failed", { e: e.message }));
    return;
  }
  if (!list.length) {
    say(msg, "", t("noPages"));
    return;
  }
  box.append(h("table", { class: "rows compact", id: "ticket-pages" }, h("thead", {}, h("tr", {},
    h("th", { text: t("pageWho") }), h("th", { text: t("pageVia") }), h("th", { text: t("pageState") }), h("th", { text: t("pageAt") }))),
  h("tbody", {}, list.map((n) => h("tr", { class: "page-" + n.state, "data-delivery": n.id },
    h("td", { text: recipientName(n.recipient) + " · " + t("pageStep", { s: n.step }) }),
    h("td", { text: n.channel }),
    h("td", { text: label("pg", n.state) + (n.attempts ? " · " + t("pageTries", { n: n.attempts }) : ""), title: n.last_error || "" }),
    h("td", { text: when(n.done_at || n.next_at || n.queued_at, site) }))))));
}

// photo shows an uploaded picture. The file needs the token, which an
// <img> cannot send, so it is fetched and shown as a data: URL (the page's
// CSP allows images from 'self' and data: only).
function photo(ticketID, p) {
  const li = h("li", {}, h("span", { class: "hint", text: stageName(p.stage) + " " + (p.uploaded_by || "") }));
  (async () => {
    try {
      const resp = await fetch("/api/tickets/" + enc(ticketID) + "/photos/" + enc(p.id), { headers: { Authorization: "Bearer " + getToken() } });
      if (!resp.ok) return;
      const blob = await resp.blob();
      const url = await new Promise((ok, fail) => { const r = new FileReader(); r.onload = () => ok(r.result); r.onerror = fail; r.readAsDataURL(blob); });
      li.prepend(h("img", { src: url, alt: t("photos") + " " + p.id, loading: "lazy" }));
    } catch (_) { /* the caption stays */ }
  })();
  return li;
}

function fact(k, v, id) {
  if (v == null || v === "") return null;
  return h("div", {}, h("dt", { text: k }), h("dd", { text: String(v), id }));
}

async function findAlarm(id) {
  if (live.alarms.has(id)) return live.alarms.get(id);
  try {
    const all = await api("GET", "/api/alarms");
    return (all.alarms || []).find((a) => a.id === id) || null;
  } catch (_) {
    return null;
  }
}

// drawReadings charts the metric the alarm is about from 30 minutes
// before it to 30 minutes after (or now), and keeps adding live readings.
function drawReadings(box, tk, alarm) {
  const at = new Date((alarm && alarm.raised_at) || tk.created_at).getTime();
  const from = at - 30 * 60e3;
  const metric = alarm && alarm.metric ? alarm.metric : "";
  const series = new Map(); // metric -> points
  let threshold = null;
  const slot = h("div", { class: "chart-slot" });
  box.append(slot);

  const redraw = () => {
    const to = Math.min(Date.now(), at + 30 * 60e3);
    const list = [...series.entries()].map(([name, points]) => ({ name, points }));
    if (!list.some((x) => x.points.length)) {
      slot.replaceChildren(h("p", { class: "empty", text: t("noReadings") }));
      return;
    }
    slot.replaceChildren(timeSeries({ series: list.map((x) => Object.assign(x, { name: metricName(x.name) })), from, to: Math.max(to, from + 60e3), threshold,
      thresholdLabel: threshold != null ? t("threshold") + " " + withUnit(threshold, metric) : "", marker: at, zone: tk.site,
      unit: metric ? unitOf(metric) : "", title: (metric ? metricName(metric) + (unitOf(metric) ? " (" + unitOf(metric) + ")" : "") : tk.device_id) }));
  };

  (async () => {
    const to = new Date(Math.min(Date.now(), at + 30 * 60e3) + 1000).toISOString();
    try {
      const q = "?from=" + enc(new Date(from).toISOString()) + "&to=" + enc(to) + (metric ? "&metric=" + enc(metric) : "");
      const data = await api("GET", "/api/devices/" + enc(tk.device_id) + "/readings" + q);
      for (const p of data.points || []) {
        if (!series.has(p.metric)) series.set(p.metric, []);
        series.get(p.metric).push({ t: new Date(p.ts).getTime(), v: p.value });
      }
    } catch (e) {
      slot.replaceChildren(h("p", { class: "empty", text: t("failed", { e: e.message }) }));
      return;
    }
    if (alarm && alarm.rule_id) {
      try {
        const rule = await api("GET", "/api/rules/" + enc(alarm.rule_id));
        if (rule && rule.condition && typeof rule.condition.value === "number") threshold = rule.condition.value;
      } catch (_) { /* no rules API: no threshold line */ }
    }
    redraw();
  })();

  // Live readings of this device while the detail is open.
  const want = () => send({ type: "subscribe", readings: [tk.device_id] });
  want();
  const unsub = subscribe((msg) => {
    if (msg.type === "conn" && live.conn === "live") want();
    if (msg.type !== "reading" || !msg.data || msg.data.device_id !== tk.device_id) return;
    const ts = new Date(msg.data.ts).getTime();
    for (const [name, v] of Object.entries(msg.data.metrics || {})) {
      if (metric && name !== metric) continue;
      if (typeof v !== "number") continue;
      if (!series.has(name)) series.set(name, []);
      series.get(name).push({ t: ts, v });
    }
    // Readings are folded in as they come, the chart drawn once a frame.
    chartFrame();
  });
  const chartFrame = perFrame(redraw);
  return () => { unsub(); chartFrame.cancel(); send({ type: "subscribe", readings: [] }); };
}
