// One ticket: its fields, the full history, a chart of the device's
// readings around the alarm (live while open), and the operator's actions:
// acknowledge, dispatch to a technician, escalate, comment.

import { h, field, options, showFieldError, statusLine, say } from "./dom.js";
import { t, when, label } from "./i18n.js";
import { verbName, stageName, withUnit, metricName, unitOf, recipientName } from "./words.js";
import { noteWords, actorWords } from "./notes.js";
import { describeTicket, technical } from "./describe.js";
import { api, enc, getToken } from "./api.js";
import { live, subscribe, send } from "./live.js";
import { timeSeries } from "./chart.js";
import { session } from "./session.js";
import { ack, place } from "./board.js";
import { commandsSection } from "./devcmds.js";
import { ow } from "./offline.js";

export function mount(root, id) {
  const box = h("div", { class: "detail", id: "ticket-detail" });
  // An action redraws the ticket (box); what it answered stays here.
  const msg = statusLine("ticket-result");
  root.replaceChildren(h("p", {}, h("a", { href: "#/", class: "back", text: "← " + t("back") })), msg, box);
  let stop = () => {};
  load();

  async function load() {
    let tk;
    try {
      tk = await api("GET", "/api/tickets/" + enc(id));
    } catch (e) {
      box.replaceChildren(h("p", { class: "error", role: "alert", text: t("failed", { e: e.message }) }));
      return;
    }
    const alarm = tk.alarm_id ? await findAlarm(tk.alarm_id) : null;
    stop();
    stop = draw(tk, alarm);
  }

  function draw(tk, alarm) {
    const facts = h("dl", { class: "facts" },
      fact(t("number"), tk.number), fact(t("level"), "L" + tk.level), fact(t("status"), label("st", tk.status)),
      fact(t("source"), label("src", tk.source)), fact(t("category"), label("cat", tk.category)),
      fact(t("place"), [place(tk), tk.unit, tk.floor, tk.room].filter(Boolean).join(" / ")),
      fact(t("device"), tk.device_id), fact(t("assignee"), tk.assignee),
      tk.eta ? fact(ow("eta"), ow("etaAt", { t: when(tk.eta, tk.site) })) : null,
      fact(t("reporterLbl"), [tk.reporter && tk.reporter.name, tk.reporter && tk.reporter.phone].filter(Boolean).join(" ")),
      fact(t("reported"), when(tk.first_reported_at || tk.created_at, tk.site)));
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
      actions.append(h("button", { type: "button", text: t("ack"), onclick: async (e) => { if (await ack(alarm.id, e.target)) { say(msg, "ok", t("done")); load(); } } }));
    }
    if (session.may("dispatch") && !["resolved", "closed", "cancelled"].includes(tk.status)) {
      const who = h("input", { name: "technician", required: true, autocomplete: "off" });
      actions.append(h("form", { class: "inline-form", id: "dispatch-form", novalidate: true, onsubmit: (e) => {
        e.preventDefault();
        if (!who.value.trim()) { showFieldError(e.target, "technician", t("required")); return; }
        act({ action: "assign", technician: who.value.trim() });
      } },
        field(t("technicianName"), who), h("button", { type: "submit", text: t("dispatch") })));
      // Escalating is raising the level (with a reason): its clocks are
      // re-planned from the first report.
      const lvl = options(h("select", { name: "level" }), [1, 2, 3].map((n) => [String(n), "L" + n]));
      lvl.value = String(Math.max(1, tk.level - 1));
      const why = h("input", { name: "reason", required: true, autocomplete: "off" });
      actions.append(h("form", { class: "inline-form", id: "escalate-form", novalidate: true, onsubmit: (e) => {
        e.preventDefault();
        if (!why.value.trim()) { showFieldError(e.target, "reason", t("required")); return; }
        act({ action: "level", level: Number(lvl.value), reason: why.value.trim() });
      } }, field(t("newLevel"), lvl), field(t("reason"), why), h("button", { type: "submit", class: "warn", text: t("escalate") })));
    }

    // Who was paged about the ticket, by what, and whether it arrived.
    const pagesBox = h("section", { id: "ticket-notifications" }, h("h3", { text: t("paged") }));
    const pagesMsg = statusLine("ticket-notifications-status");
    pagesBox.append(pagesMsg);
    loadPages(tk.id, pagesBox, pagesMsg, tk.site);

    const cmds = commandsSection(tk);
    const chartBox = tk.device_id ? h("section", { class: "chart-section", id: "readings-chart" }, h("h3", { text: t("readings") })) : null;
    box.replaceChildren(...[
      h("h2", {}, h("span", { class: "badge l" + tk.level, text: "L" + tk.level }), " ", tk.number || "", " ", h("span", { class: "desc", text: describeTicket(tk) })),
      technical(tk.source === "sensor" ? tk.description : "") ? h("p", { class: "tech", lang: "en", text: tk.description }) : null,
      facts, rec, actions, cmds.el, chartBox, clocks, pagesBox, reporters, photos, h("section", {}, h("h3", { text: t("history") }), history)].filter(Boolean));

    async function act(body) {
      say(msg, "", "");
      try {
        await api("POST", "/api/tickets/" + enc(tk.id) + "/actions", body);
        say(msg, "ok", t("done"));
        load();
      } catch (e) {
        say(msg, "error", e.missing ? t("notAvailable", { what: "/api/tickets/{id}/actions" }) : t("failed", { e: e.message }));
      }
    }
    const stopReadings = tk.device_id ? drawReadings(chartBox, tk, alarm) : () => {};
    return () => { cmds.stop(); stopReadings(); };
  }

  return () => stop();
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

function fact(k, v) {
  if (v == null || v === "") return null;
  return h("div", {}, h("dt", { text: k }), h("dd", { text: String(v) }));
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
    redraw();
  });
  return () => { unsub(); send({ type: "subscribe", readings: [] }); };
}
