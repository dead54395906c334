// The engineer's page: rules with their thresholds; edit with validation,
// version history and rollback; backtest against stored history with a
// chart of the readings, the threshold and the episodes it would raise.

import { h, field, options, showFieldError, clearFieldErrors, statusLine, say } from "./dom.js";
import { t, when, localInput as zonedInput, fromLocal } from "./i18n.js";
import { ruleName, kindName, metricName, conditionWords, modeName, severityName, withUnit, unitOf, eventName } from "./words.js";
import { loadRules } from "./rulebook.js";
import { api, enc, latest } from "./api.js";
import { timeSeries } from "./chart.js";
import { session } from "./session.js";

const DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$|^0$/;
const NUMBER_OPS = [">", ">=", "<", "<=", "==", "!="];
const SEVERITIES = ["critical", "major", "minor", "maintenance"];

export function condText(c) {
  if (!c) return "";
  switch (c.op) {
    case "outside": return "outside [" + c.low + ", " + c.high + "]";
    case "is": return "is " + c.value;
    case "event": return "event " + c.event;
    case "rate_above": case "rate_below": return c.op + " " + c.per_minute + "/min";
    case "trend_crosses": return "trend crosses " + c.value + " within " + c.horizon;
    case "counter_every": return "every " + c.every;
    case "stale": return "stale after " + c.after;
    case "unchanged": return "unchanged" + (c.tolerance ? " within ±" + c.tolerance : "");
    case "all": return (c.of || []).map((x) => x.metric + " " + condText(x)).join(" and ");
    case "building_count": return "≥ " + (c.at_least || 1) + " × " + (c.rules || []).join("|") + " in a building";
    case "building_alarm": return (c.rules || []).join("|") + " in the building";
    case "service_overdue": return "no service for " + c.after;
    default: return c.op + " " + c.value + (c.rating ? "% of " + c.rating : "") + (c.minus ? " (− " + c.minus + ")" : "");
  }
}

// isL1 says whether a rule opens L1 (emergency) tickets.
export function isL1(r) {
  if (!r) return false;
  if (r.level >= 1 && r.level <= 3) return r.level === 1;
  return r.severity === "critical";
}

// confirmPanel asks a yes/no question in the page (never a browser
// dialog, which a wall screen may not show).
function confirmPanel(id, question, yes, no) {
  return h("div", { class: "confirm-panel", id, role: "alertdialog", "aria-labelledby": id + "-q" },
    h("p", { id: id + "-q", class: "warn", text: question }),
    h("button", { type: "button", class: "warn", id: id + "-yes", text: t("l1Yes"), onclick: yes }),
    " ",
    h("button", { type: "button", id: id + "-no", text: t("l1No"), onclick: no }));
}

function listOf(data, key) {
  if (Array.isArray(data)) return data;
  return (data && (data[key] || data.items)) || [];
}

export function mount(root, id) {
  const box = h("div", { id: "rules-view" });
  root.replaceChildren(box);
  if (id) showRule(box, id);
  else showList(box);
  return () => {};
}

// falseAlarms reads the rules' false-alarm rates (dismissed from the
// triage queue over 30 days), by rule id; empty when the role may not.
async function falseAlarms() {
  if (!session.may("false_alarms")) return new Map();
  try {
    const data = await api("GET", "/api/triage/stats");
    return new Map(((data && data.rules) || []).map((r) => [r.id || r.rule_id, r]));
  } catch (_) {
    return new Map();
  }
}

// falseAlarmCell: the rate beside the threshold, and the backtest a click away.
function falseAlarmCell(r, fa) {
  const st = fa.get(r.id);
  const text = st && st.raised ? t("faRate", { p: Math.round(st.rate * 100), d: st.dismissed, n: st.raised }) : t("faNone");
  return h("td", { class: "false-alarms", dataset: { rule: r.id, dismissed: String((st && st.dismissed) || 0), raised: String((st && st.raised) || 0) } },
    h("span", { class: "fa-rate", text }),
    h("a", { class: "button fa-backtest", href: "#/rules/" + enc(r.id) + "?backtest", text: t("faBacktest") }));
}

async function showList(box) {
  let rules;
  const stats = falseAlarms();
  try {
    rules = listOf(await api("GET", "/api/rules"), "rules");
  } catch (e) {
    box.replaceChildren(h("p", { class: "error", role: "alert", text: e.missing ? t("notAvailable", { what: "/api/rules" }) : t("failed", { e: e.message }) }));
    return;
  }
  const fa = await stats;
  const rows = rules.map((r) => h("tr", { class: r.enabled === false ? "disabled" : "", dataset: { rule: r.id } },
    h("td", {}, h("a", { href: "#/rules/" + enc(r.id), class: "tech", lang: "en", text: r.id })),
    h("td", { text: ruleName(r) }), h("td", { text: kindName(r.kind) }),
    h("td", {}, r.metric ? metricName(r.metric) : eventName((r.condition || {}).event), r.metric ? h("div", { class: "tech", lang: "en", text: r.metric }) : null),
    h("td", {}, conditionWords(r), h("div", { class: "tech", lang: "en", text: condText(r.condition) })), falseAlarmCell(r, fa), h("td", { text: r.level ? "L" + r.level : "" }),
    h("td", { text: modeName(r.mode) }), h("td", { text: r.version != null ? "v" + r.version : "" })));
  box.replaceChildren(h("section", { class: "column" },
    h("h2", { text: t("rules") }),
    rules.length ? h("table", { class: "rows", id: "rules-table" },
      h("thead", {}, h("tr", {}, ["rule", "name", "kind", "metric", "condition", "faCol", "level", "mode", "version"].map((k) =>
        h("th", { scope: "col", text: t(k) })))),
      h("tbody", {}, rows)) : h("p", { class: "empty", text: t("noRules") })));
}

async function showRule(box, ref) {
  // "#/rules/<id>?backtest" (the rules list's button) opens the rule at its backtest.
  const [id, query] = ref.split("?");
  let rule;
  try {
    rule = await api("GET", "/api/rules/" + enc(id));
  } catch (e) {
    box.replaceChildren(h("p", {}, h("a", { href: "#/rules", text: "← " + t("back") })),
      h("p", { class: "error", role: "alert", text: e.missing ? t("notAvailable", { what: "/api/rules/{id}" }) : t("failed", { e: e.message }) }));
    return;
  }
  const editor = h("section", { class: "column", id: "rule-editor" });
  const versions = h("section", { class: "column", id: "rule-versions" });
  const backtest = h("section", { class: "column wide", id: "rule-backtest" });
  // Saving and rolling back redraw the editor and the versions; what they
  // answered stays on this line, outside both.
  const status = statusLine("rule-result");
  box.replaceChildren(h("p", {}, h("a", { href: "#/rules", text: "← " + t("back") })),
    h("div", { class: "board" }, editor, versions), status, backtest);
  // Two saves in a row read the rule twice: the older answer is dropped.
  const newest = latest();
  const reload = async () => {
    try { rule = await newest(api("GET", "/api/rules/" + enc(id))); } catch (_) { /* keep the old one */ }
    drawEditor(editor, rule, reload, status);
    await drawVersions(versions, rule, reload, status);
  };
  drawEditor(editor, rule, reload, status);
  drawVersions(versions, rule, reload, status);
  await drawBacktest(backtest, () => rule, () => editor.querySelector("form"));
  if (query === "backtest") {
    backtest.scrollIntoView();
    const go = backtest.querySelector("#backtest-form button[type=submit]");
    if (go) go.focus();
  }
}

// The controls a condition op needs.
function conditionFields(op) {
  switch (op) {
    case "outside": return ["low", "high"];
    case "rate_above": case "rate_below": return ["per_minute"];
    case "trend_crosses": return ["value", "window", "horizon"];
    case "counter_every": return ["every"];
    case "stale": return ["after"];
    case "unchanged": return ["tolerance"];
    case "service_overdue": return ["after"];
    case "building_count": return ["at_least"];
    case "all": case "building_alarm": return [];
    case "event": return [];
    case "is": return [];
    default: return ["value"];
  }
}
const DURATION_FIELDS = new Set(["window", "horizon", "after"]);

function drawEditor(box, rule, reload, status) {
  const canEdit = session.may("rules");
  const c = rule.condition || {};
  const ctl = (name, value, attrs) => h("input", Object.assign({ name, value: value == null ? "" : String(value), autocomplete: "off", disabled: !canEdit }, attrs || {}));
  const condCtls = conditionFields(c.op).map((k) => [k, ctl("condition." + k, k === "tolerance" ? (c[k] ?? 0) : c[k], { inputmode: DURATION_FIELDS.has(k) ? "text" : "decimal" })]);
  const clearVal = rule.clear && rule.clear.value != null ? ctl("clear.value", rule.clear.value, { inputmode: "decimal" }) : null;
  const forCtl = ctl("for", rule.for || "0s");
  const clearFor = ctl("clear_for", rule.clear_for || "");
  const severity = options(h("select", { name: "severity", disabled: !canEdit }), SEVERITIES.map((s) => [s, severityName(s)]));
  severity.value = rule.severity || "critical";
  const mode = options(h("select", { name: "mode", disabled: !canEdit }), [["live", modeName("live")], ["shadow", modeName("shadow")]]);
  mode.value = rule.mode || "live";
  const enabled = h("input", { type: "checkbox", name: "enabled", checked: rule.enabled !== false, disabled: !canEdit });
  const reason = ctl("reason", "");

  const form = h("form", { class: "rule-form", id: "rule-form", novalidate: true, onsubmit: save },
    h("h2", {}, ruleName(rule), " ", h("span", { class: "count", text: "v" + (rule.version ?? "?") })),
    h("p", { class: "rule-words", text: [kindName(rule.kind), rule.metric ? metricName(rule.metric) : "", conditionWords(rule)].filter(Boolean).join(" · ") }),
    h("p", { class: "mono tech", lang: "en", text: [rule.id, rule.kind, rule.metric || rule.event, condText(c)].filter(Boolean).join(" · ") }),
    canEdit ? null : h("p", { class: "hint", text: t("readOnly") }),
    isL1(rule) ? h("p", { class: "warn l1-note", id: "rule-l1-note", text: t("l1Rule") }) : null,
    h("div", { class: "grid2" },
      condCtls.map(([k, el]) => field(condLabel(k, c, rule), el)),
      clearVal ? field(t("clear") + " (" + (rule.clear.op || "") + (unitOf(rule.metric) && !rule.clear.nominal ? ", " + unitOf(rule.metric) : "") + ")", clearVal) : null,
      field(t("forDur"), forCtl), field(t("clearFor"), clearFor),
      field(t("severity"), severity), field(t("mode"), mode)),
    h("label", { class: "check" }, enabled, h("span", { text: t("enabled") })),
    field(t("reason"), reason),
    canEdit ? h("button", { type: "submit", class: "primary", text: t("save") }) : null);
  const confirmSlot = h("div", { id: "rule-confirm-slot" });
  box.replaceChildren(form, confirmSlot);

  async function save(ev) {
    ev.preventDefault();
    clearFieldErrors(form);
    say(status, "", "");
    confirmSlot.replaceChildren();
    const edited = readForm(form, rule);
    if (edited.error) { showFieldError(form, edited.field, edited.error); return; }
    const body = Object.assign({}, edited.rule, { reason: reason.value.trim() });
    // A change to an L1 rule (or one that makes it L1) needs a reason
    // and a second, explicit yes.
    if (isL1(rule) || isL1(edited.rule)) {
      if (!body.reason) { showFieldError(form, "reason", t("l1NeedReason")); return; }
      confirmSlot.replaceChildren(confirmPanel("rule-confirm", t("l1Confirm", { what: condText(rule.condition) + " → " + condText(edited.rule.condition) }),
        () => { confirmSlot.replaceChildren(); put(Object.assign(body, { confirm: true })); },
        () => confirmSlot.replaceChildren()));
      return;
    }
    put(body);
  }

  async function put(body) {
    try {
      const saved = await api("PUT", "/api/rules/" + enc(rule.id), body);
      say(status, "ok", t("saved", { v: (saved && saved.version) ?? "?" }));
      loadRules();
      reload();
    } catch (e) {
      say(status, "error", e.missing ? t("notAvailable", { what: "PUT /api/rules/{id}" }) : t("failed", { e: e.message }));
      if (e.field) showFieldError(form, e.field, e.message);
    }
  }
}

// readForm checks the editor's values and returns the changed rule, or
// {error, field} for the first bad one.
export function readForm(form, rule) {
  const out = JSON.parse(JSON.stringify(rule));
  delete out.version;
  out.condition = Object.assign({}, rule.condition);
  for (const el of form.querySelectorAll("input[name^='condition.']")) {
    const k = el.name.slice("condition.".length);
    const v = el.value.trim();
    if (DURATION_FIELDS.has(k)) {
      if (!DURATION.test(v)) return { error: t("mustDuration"), field: el.name };
      out.condition[k] = v;
    } else if (k === "every") {
      if (!/^\d+$/.test(v)) return { error: t("mustNumber"), field: el.name };
      out.condition[k] = Number(v);
    } else {
      if (v === "" || !isFinite(Number(v))) return { error: t("mustNumber"), field: el.name };
      out.condition[k] = Number(v);
    }
  }
  if (out.condition.op === "outside" && !(out.condition.low < out.condition.high)) return { error: t("lowBelowHigh"), field: "condition.low" };
  const cv = form.elements["clear.value"];
  if (cv) {
    const v = cv.value.trim();
    if (v === "" || !isFinite(Number(v))) return { error: t("mustNumber"), field: "clear.value" };
    out.clear = Object.assign({}, rule.clear, { value: Number(v) });
  }
  for (const k of ["for", "clear_for"]) {
    const v = form.elements[k].value.trim();
    if (k === "clear_for" && v === "") { delete out.clear_for; continue; }
    if (!DURATION.test(v)) return { error: t("mustDuration"), field: k };
    out[k] = v;
  }
  out.severity = form.elements.severity.value;
  out.mode = form.elements.mode.value;
  out.enabled = form.elements.enabled.checked;
  return { rule: out };
}

// versionReads: the newest read of each versions box draws it; two on
// their way (the page's, a save's) would each add their list.
const versionReads = new WeakMap();

async function drawVersions(box, rule, reload, status) {
  box.replaceChildren(h("h2", { text: t("versions") }));
  if (!versionReads.has(box)) versionReads.set(box, latest());
  let list;
  try {
    list = listOf(await versionReads.get(box)(api("GET", "/api/rules/" + enc(rule.id) + "/history")), "versions");
  } catch (e) {
    box.append(h("p", { class: "empty", text: e.missing ? t("notAvailable", { what: "/api/rules/{id}/history" }) : t("failed", { e: e.message }) }));
    return;
  }
  const items = list.slice().sort((a, b) => (b.version || 0) - (a.version || 0)).map((v) => {
    const r = v.rule || v.new || v;
    const ver = v.version ?? r.version;
    const li = h("li", {},
      h("strong", { text: "v" + (ver ?? "?") }), " ", h("span", { text: conditionWords(Object.assign({}, rule, { condition: r.condition })) }), " ",
      h("span", { class: "mono tech", lang: "en", text: condText(r.condition) }), " ",
      h("span", { class: "who", text: [byName(v.by || v.actor || v.changed_by), when(v.at || v.changed_at || v.time)].filter(Boolean).join(" · ") }),
      v.reason ? h("div", { class: "note", text: v.reason }) : null);
    if (session.may("rules") && ver !== rule.version && r.condition) {
      const rollback = async (body) => {
        try {
          say(status, "", "");
          const saved = await api("POST", "/api/rules/" + enc(rule.id) + "/rollback", body);
          say(status, "ok", t("rolledBack", { v: (saved && saved.version) ?? "?" }));
          reload();
        } catch (e) {
          say(status, "error", e.missing ? t("notAvailable", { what: "/api/rules/{id}/rollback" }) : t("failed", { e: e.message }));
        }
      };
      const slot = h("div", { class: "rollback-slot" });
      li.append(h("button", { type: "button", class: "small", text: t("rollback"), onclick: () => {
        if (!isL1(rule) && !isL1(r)) { rollback({ version: ver, reason: "rollback to v" + ver }); return; }
        // An L1 rule: say why, then confirm.
        const why = h("input", { name: "reason", autocomplete: "off" });
        const form = h("form", { class: "inline-form rollback-form", novalidate: true, onsubmit: (e) => {
          e.preventDefault();
          if (!why.value.trim()) { showFieldError(form, "reason", t("l1NeedReason")); return; }
          slot.replaceChildren(confirmPanel("rollback-confirm", t("l1Confirm", { what: condText(rule.condition) + " → " + condText(r.condition) + " (v" + ver + ")" }),
            () => rollback({ version: ver, reason: why.value.trim(), confirm: true }), () => slot.replaceChildren()));
        } }, field(t("rollbackReason"), why), h("button", { type: "submit", class: "warn", text: t("rollback") }));
        slot.replaceChildren(form);
        why.focus();
      } }), slot);
    }
    return li;
  });
  box.append(h("ol", { class: "versions" }, items));
}

// The backtest's period is read in the sites' time zone, as shown.
function localInput(d) { return zonedInput(d); }

// byName: who made a version; "config" is the configuration file.
function byName(by) { return by === "config" ? t("byConfig") : by; }

// condLabel names a condition's control, with the unit it is in.
function condLabel(k, c, rule) {
  const unit = c.nominal ? "% " + t("ofNominal", { n: withUnit(c.nominal, rule.metric) }) : unitOf(rule.metric);
  const u = unit ? " (" + unit + ")" : "";
  switch (k) {
    case "value": return t("threshold") + " (" + (c.op || "") + (unit ? ", " + unit : "") + ")";
    case "low": return t("low") + u;
    case "high": return t("high") + u;
    case "tolerance": return t("tolerance") + u;
    case "per_minute": return t("perMinute") + u;
    case "window": return t("trendWindow");
    case "horizon": return t("trendHorizon");
    case "every": return t("serviceEvery");
    case "after": return t("staleAfter");
    default: return k;
  }
}

// inScope tells whether a device falls in a rule's scope, as the engine
// matches it (rules.Scope.Matches): its place, and the device properties
// the scope selects on (any of the listed values; an empty list matches).
export function inScope(d, scope) {
  if (!scope) return true;
  const any = (list, v) => !list || !list.length || list.includes(v || "");
  return (!scope.site || d.site === scope.site) && (!scope.building || d.building === scope.building) &&
    (!scope.device || d.id === scope.device) && any(scope.place_type, d.place_type) &&
    any(scope.machine_class, d.machine_class) && any(scope.model, d.model);
}

// scopeText writes a scope's property lists: "place_type boiler_room, kitchen".
function scopeText(scope) {
  if (!scope) return "";
  return ["site", "building", "device", "place_type", "machine_class", "model"]
    .filter((k) => scope[k] && (!Array.isArray(scope[k]) || scope[k].length))
    .map((k) => k + " " + [].concat(scope[k]).join(", ")).join("; ");
}

async function drawBacktest(box, getRule, getForm) {
  const rule = getRule();
  const now = new Date();
  const from = h("input", { type: "datetime-local", name: "from", value: localInput(new Date(now - 24 * 3600e3)) });
  const to = h("input", { type: "datetime-local", name: "to", value: localInput(new Date(now.getTime() + 60e3)) });
  const device = h("select", { name: "device" });
  const out = h("div", { id: "backtest-result" });
  const form = h("form", { class: "inline-form", id: "backtest-form", onsubmit: run },
    field(t("from"), from), field(t("to"), to), field(t("device"), device), h("button", { type: "submit", class: "primary", text: t("run") }));
  box.replaceChildren(h("h2", { text: t("backtest") }), form, out);
  try {
    const data = await api("GET", "/api/devices");
    const mine = (data.devices || []).filter((d) => (!rule.kind || d.kind === rule.kind) && inScope(d, rule.scope));
    options(device, mine.map((d) => [d.id, d.id + (d.location ? " · " + d.location : "")]));
    if (!mine.length) {
      form.after(h("p", { class: "hint", id: "backtest-no-device", text: t("btNoDevice", { scope: scopeText(rule.scope) }) }));
    }
  } catch (_) { /* chart falls back to the episodes' device */ }
  form.dataset.rule = rule.id;
  form.dataset.devices = "loaded";
  const newestRun = latest(); // a run's answer landing after a newer run's is dropped

  async function run(ev) {
    ev.preventDefault();
    const r = getRule();
    const ed = getForm() ? readForm(getForm(), r) : { rule: r };
    if (ed.error) { showFieldError(getForm(), ed.field, ed.error); return; }
    const f = fromLocal(from.value), tt = fromLocal(to.value);
    if (isNaN(f) || isNaN(tt) || f >= tt) { showFieldError(form, "from", t("from") + " < " + t("to")); return; }
    const set = {};
    for (const [k, v] of Object.entries(ed.rule.condition)) if (k !== "op" && v !== r.condition[k]) set["condition." + k] = v;
    if (ed.rule.clear && r.clear && ed.rule.clear.value !== r.clear.value) set["clear.value"] = ed.rule.clear.value;
    for (const k of ["for", "clear_for"]) if (ed.rule[k] !== r[k] && ed.rule[k] !== undefined) set[k] = ed.rule[k];
    out.replaceChildren(h("p", { class: "hint", text: "…" }));
    let res;
    try {
      res = await newestRun(api("POST", "/api/rules/" + enc(r.id) + "/backtest", { from: f.toISOString(), to: tt.toISOString(), set }));
    } catch (e) {
      out.replaceChildren(h("p", { class: "error", role: "alert", text: e.missing ? t("notAvailable", { what: "/api/rules/{id}/backtest" }) : t("failed", { e: e.message }) }));
      return;
    }
    const episodes = res.episodes || [];
    const dev = device.value || (episodes[0] && episodes[0].device) || "";
    const summary = h("p", { class: "bt-summary", id: "backtest-summary", text: t("btResult", { n: res.count ?? episodes.length, c: res.current_count ?? "?" }) });
    const chartSlot = h("div", { id: "backtest-chart" });
    const table = h("table", { class: "rows", id: "backtest-episodes" },
      h("thead", {}, h("tr", {}, ["device", "start", "end", "peak"].map((k) => h("th", { scope: "col", text: t(k) })))),
      h("tbody", {}, episodes.map((e) => h("tr", {}, h("td", { text: e.device }), h("td", { text: when(e.start) }), h("td", { text: e.end ? when(e.end) : "…" }), h("td", { text: r.metric ? withUnit(e.peak, r.metric) : String(e.peak) })))));
    out.replaceChildren(summary, chartSlot, h("h3", { text: t("episodes") }), table);
    if (!dev) { chartSlot.replaceChildren(h("p", { class: "empty", text: t("chartNoData") })); return; }
    try {
      const q = "?from=" + enc(f.toISOString()) + "&to=" + enc(tt.toISOString()) + (r.metric ? "&metric=" + enc(r.metric) : "");
      const data = await api("GET", "/api/devices/" + enc(dev) + "/readings" + q);
      const points = thin((data.points || []).map((p) => ({ t: new Date(p.ts).getTime(), v: p.value })), 800);
      const thr = typeof ed.rule.condition.value === "number" ? ed.rule.condition.value : null;
      // Zoom to where the data and the episodes are, with a margin.
      const bands = episodes.filter((e) => e.device === dev).map((e) => ({ from: new Date(e.start).getTime(), to: e.end ? new Date(e.end).getTime() : tt.getTime() }));
      const ts = points.map((p) => p.t).concat(bands.flatMap((b) => [b.from, b.to]));
      const lo = Math.max(f.getTime(), Math.min(...ts)), hi = Math.min(tt.getTime(), Math.max(...ts));
      const margin = Math.max(60e3, (hi - lo) * 0.05);
      chartSlot.replaceChildren(points.length ? timeSeries({
        title: dev + " " + (r.metric ? metricName(r.metric) + (unitOf(r.metric) ? " (" + unitOf(r.metric) + ")" : "") : ""), series: [{ name: dev, points }],
        from: Math.max(f.getTime(), lo - margin), to: Math.min(tt.getTime(), hi + margin),
        threshold: thr, thresholdLabel: thr != null ? t("threshold") + " " + (r.metric ? withUnit(thr, r.metric) : thr) : "",
        unit: r.metric ? unitOf(r.metric) : "", bands,
      }) : h("p", { class: "empty", text: t("chartNoData") }));
    } catch (e) {
      chartSlot.replaceChildren(h("p", { class: "error", text: t("failed", { e: e.message }) }));
    }
  }
}

// thin keeps at most about n points, the lowest and highest of each
// bucket, so that peaks survive.
export function thin(points, n) {
  if (points.length <= n) return points;
  points.sort((a, b) => a.t - b.t);
  const size = Math.ceil(points.length / (n / 2));
  const out = [];
  for (let i = 0; i < points.length; i += size) {
    const b = points.slice(i, i + size);
    let lo = b[0], hi = b[0];
    for (const p of b) { if (p.v < lo.v) lo = p; if (p.v > hi.v) hi = p; }
    out.push(...(lo.t <= hi.t ? [lo, hi] : [hi, lo]));
  }
  return out;
}
