// KPIs: key figures and charts by month, level, category and building from
// GET /api/stats (one call for the period, one per month for the monthly
// chart), with the server's CSV export. When the server has no stats
// endpoint it counts the ticket list itself and says so.

import { h, field } from "./dom.js";
import { t, label, getLang, localDay, fromLocal } from "./i18n.js";
import { api, download, APIError, latest } from "./api.js";
import { bars } from "./chart.js";
import { ticketSearch } from "./search.js";

// The overall measures shown as figures: [path in the summary, label en, label zh, kind].
const FIGURES = [
  ["tickets", "Tickets", "工单数", "n"],
  ["response_timeliness.rate", "Response in time", "响应及时率", "%"],
  ["on_time_arrival.rate", "On-time arrival", "准时到场率", "%"],
  ["closure_rate.rate", "Closure rate", "闭环率", "%"],
  ["first_time_fix.rate", "First-time fix", "一次维修合格率", "%"],
  ["repeat_reports.rate", "Repeat reports", "重复报修率", "%"],
  ["satisfied.rate", "Satisfied (4-5)", "满意率", "%"],
  ["satisfaction_mean", "Mean score", "平均评分", "x"],
  ["sensor_first.rate", "Found by sensors first", "传感器先发现", "%"],
  ["response_time.mean_minutes", "Mean time to dispatch", "平均派单用时", "min"],
  ["resolution_time.p90_minutes", "Resolution time p90", "完成用时 P90", "min"],
];

export function mount(root) {
  // Dates are the site's (the server reads a date without an offset as
  // the site's local midnight): from the first of the month five months
  // back to tomorrow.
  const today = localDay(new Date());
  const [y, mo] = today.split("-").map(Number);
  const from = h("input", { type: "date", name: "from", value: monthStart(y, mo - 5) });
  const to = h("input", { type: "date", name: "to", value: localDay(new Date(Date.now() + 86400e3)) });
  const site = h("input", { name: "site", autocomplete: "off" });
  const out = h("div", { id: "reports-out" });
  const note = h("p", { class: "hint", id: "reports-note", role: "status" });
  const csv = h("button", { type: "button", id: "export-csv", text: t("exportCSV"), onclick: exportCSV });
  root.replaceChildren(h("section", { class: "column wide" },
    h("h2", { text: t("reports") }),
    h("form", { class: "inline-form", onsubmit: (e) => { e.preventDefault(); load(); } },
      field(t("from"), from), field(t("to"), to), field(t("site"), site),
      h("button", { type: "submit", class: "primary", text: t("refresh") }), csv),
    note, out), ticketSearch());
  let counted = null; // client-side counts when the server has no stats
  // Only the newest period asked for is drawn: the page's first figures
  // could land after those of a period typed meanwhile.
  const newest = latest();
  load();

  function query(f, tt) {
    const q = new URLSearchParams();
    q.set("from", f || from.value);
    q.set("to", tt || to.value);
    if (site.value.trim()) q.set("site", site.value.trim());
    return q;
  }

  async function load() {
    note.textContent = "";
    counted = null;
    let stats, months;
    try {
      [stats, months] = await newest((async () => [await api("GET", "/api/stats?" + query()), await monthly()])());
    } catch (e) {
      if (!(e instanceof APIError) || !(e.missing || e.status === 403)) {
        out.replaceChildren(h("p", { class: "error", role: "alert", text: t("failed", { e: e.message }) }));
        return;
      }
      note.textContent = e.missing ? t("notAvailable", { what: "/api/stats" }) : e.message;
      counted = await newest(countTickets(query()));
      draw(counted.figures, counted.groups);
      return;
    }
    const groups = {
      by_month: months,
      by_level: (stats.by_level || []).map((g) => ["L" + String(g.key).replace(/^L/, ""), g.tickets]),
      by_category: (stats.by_category || []).map((g) => [label("cat", g.key), g.tickets]),
      by_building: (stats.by_building || []).map((g) => [g.key, g.tickets]),
    };
    draw(figures(stats.overall || {}), groups);
  }

  // monthly asks for each month of the period (at most 12), by the
  // site's calendar: local dates, which the server reads in its zone.
  async function monthly() {
    const f = from.value, end = to.value;
    const starts = [];
    let [y, m] = f.split("-").map(Number);
    for (let d = monthStart(y, m); d < end && starts.length < 12; d = monthStart(y, ++m)) starts.push(d);
    const res = await Promise.all(starts.map((d) => {
      const [yy, mm] = d.split("-").map(Number);
      const next = monthStart(yy, mm + 1);
      return api("GET", "/api/stats?" + query(d < f ? f : d, next > end ? end : next));
    }));
    return res.map((s, i) => [starts[i].slice(0, 7), (s.overall || {}).tickets || 0]);
  }

  function draw(figs, groups) {
    const cards = h("div", { class: "kpis", id: "kpi-cards" }, figs.map(([name, value]) =>
      h("div", { class: "kpi" }, h("span", { class: "kpi-value", text: value }), h("span", { class: "kpi-name", text: name }))));
    const charts = [["by_month", "byMonth"], ["by_level", "byLevel"], ["by_category", "byCategory"], ["by_building", "byBuilding"]]
      .filter(([key]) => groups[key] && groups[key].length)
      .map(([key, title]) => bars({ title: t(title) + " · " + t("tickets"), items: groups[key] }));
    out.replaceChildren(h("h3", { text: t("kpis") }), cards, h("div", { class: "chart-grid", id: "kpi-charts" }, charts));
  }

  async function exportCSV() {
    if (!counted) {
      const q = query();
      q.set("format", "csv");
      try {
        await download("/api/stats?" + q, "caretaker-kpi.csv");
      } catch (e) {
        note.textContent = t("failed", { e: e.message });
      }
      return;
    }
    const lines = [["group", "key", "tickets"]];
    for (const [g, list] of Object.entries(counted.groups)) for (const [k, v] of list) lines.push([g, k, v]);
    const text = lines.map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
    const a = h("a", { href: URL.createObjectURL(new Blob([text], { type: "text/csv" })), download: "caretaker-tickets.csv" });
    document.body.append(a);
    a.click();
    a.remove();
  }
  return () => {};
}

function figures(overall) {
  const zh = getLang() === "zh-CN";
  const out = [];
  for (const [path, en, cn, kind] of FIGURES) {
    const v = path.split(".").reduce((o, k) => (o == null ? o : o[k]), overall);
    if (v == null) continue;
    const text = kind === "%" ? (v * 100).toFixed(1) + "%" : kind === "min" ? v.toFixed(0) + (zh ? " 分钟" : " min") : kind === "x" ? v.toFixed(2) : String(v);
    out.push([zh ? cn : en, text]);
  }
  return out;
}

async function countTickets(q) {
  const count = { by_month: {}, by_level: {}, by_category: {}, by_building: {} };
  const p = new URLSearchParams(q);
  p.set("limit", "1000");
  for (const k of ["from", "to"]) p.set(k, fromLocal(p.get(k), p.get("site") || "").toISOString()); // the list takes RFC 3339
  const data = await api("GET", "/api/tickets?" + p);
  const list = data.tickets || [];
  for (const tk of list) {
    const inc = (g, k) => { count[g][k] = (count[g][k] || 0) + 1; };
    inc("by_month", String(tk.created_at || "").slice(0, 7));
    inc("by_level", "L" + tk.level);
    inc("by_category", label("cat", tk.category));
    inc("by_building", tk.building || "-");
  }
  const groups = {};
  for (const [g, m] of Object.entries(count)) groups[g] = Object.entries(m).sort((a, b) => (g === "by_month" ? a[0].localeCompare(b[0]) : b[1] - a[1]));
  return { figures: [[t("tickets"), String(list.length)]], groups };
}

function csvCell(v) {
  let s = String(v ?? "");
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s; // no formulas in a spreadsheet (the server's KPI CSV: ticketing.CSVSafe)
  return /[",\r\n']/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

// monthStart: "2026-07-01" for (2026, 7); months past 12 or below 1 roll over.
function monthStart(y, m) {
  const d = new Date(Date.UTC(y, m - 1, 1));
  return d.getUTCFullYear() + "-" + String(d.getUTCMonth() + 1).padStart(2, "0") + "-01";
}
