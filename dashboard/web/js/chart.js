// Small SVG charts, drawn without any library: a time series with an
// optional threshold line, shaded episodes and a marker; and bar charts.

import { s, h } from "./dom.js";
import { wallParts } from "./i18n.js";

const W = 720, H = 260, PAD = { l: 48, r: 12, t: 12, b: 28 };

function niceTicks(lo, hi, n) {
  if (!(hi > lo)) { hi = lo + 1; }
  const step0 = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((x) => x >= step0) || step0;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(+v.toFixed(10));
  return out;
}

// timeLabel writes a time of the axis in the site's zone.
function timeLabel(ms, spanMs, zone) {
  const d = wallParts(new Date(ms), zone);
  const p = (x) => String(x).padStart(2, "0");
  const hh = p(d.hour % 24);
  if (spanMs > 2 * 86400e3) return p(d.month) + "-" + p(d.day) + " " + hh + ":" + p(d.minute);
  return hh + ":" + p(d.minute) + (spanMs < 600e3 ? ":" + p(d.second) : "");
}

// timeSeries({series: [{name, points: [{t: ms, v}]}], from, to, threshold,
// thresholdLabel, bands: [{from: ms, to: ms}], marker: ms, title, unit,
// zone: the site whose time the axis reads})
export function timeSeries(opts) {
  const series = (opts.series || []).filter((x) => x.points && x.points.length);
  const all = series.flatMap((x) => x.points);
  let t0 = opts.from ?? Math.min(...all.map((p) => p.t));
  let t1 = opts.to ?? Math.max(...all.map((p) => p.t));
  if (!(t1 > t0)) t1 = t0 + 60e3;
  const vals = all.map((p) => p.v);
  if (opts.threshold != null) vals.push(opts.threshold);
  let lo = vals.length ? Math.min(...vals) : 0, hi = vals.length ? Math.max(...vals) : 1;
  const pad = (hi - lo) * 0.1 || 1;
  lo = lo >= 0 && lo - pad < 0 ? 0 : lo - pad;
  hi += pad;
  const x = (t) => PAD.l + ((t - t0) / (t1 - t0)) * (W - PAD.l - PAD.r);
  const y = (v) => H - PAD.b - ((v - lo) / (hi - lo)) * (H - PAD.t - PAD.b);

  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": opts.title || "chart" });
  if (opts.title) svg.appendChild(s("title", {}, opts.title));
  for (const b of opts.bands || []) {
    const bx0 = x(Math.max(b.from, t0)), bx1 = x(Math.min(b.to ?? t1, t1));
    if (bx1 < PAD.l || bx0 > W - PAD.r) continue;
    svg.appendChild(s("rect", { class: "band", x: bx0, y: PAD.t, width: Math.max(2, bx1 - bx0), height: H - PAD.t - PAD.b }));
  }
  for (const v of niceTicks(lo, hi, 5)) {
    svg.appendChild(s("line", { class: "grid", x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v) }));
    svg.appendChild(s("text", { class: "tick", x: PAD.l - 6, y: y(v) + 4, "text-anchor": "end" }, String(v)));
  }
  const span = t1 - t0;
  for (let i = 0; i <= 4; i++) {
    const t = t0 + (span * i) / 4;
    svg.appendChild(s("text", { class: "tick", x: x(t), y: H - 8, "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle" }, timeLabel(t, span, opts.zone)));
  }
  svg.appendChild(s("line", { class: "axis", x1: PAD.l, x2: PAD.l, y1: PAD.t, y2: H - PAD.b }));
  if (opts.unit) svg.appendChild(s("text", { class: "tick unit", x: PAD.l + 4, y: PAD.t + 10, "text-anchor": "start" }, opts.unit));
  svg.appendChild(s("line", { class: "axis", x1: PAD.l, x2: W - PAD.r, y1: H - PAD.b, y2: H - PAD.b }));
  series.forEach((ser, i) => {
    const pts = ser.points.slice().sort((a, b) => a.t - b.t);
    const d = pts.map((p, j) => (j ? "L" : "M") + x(p.t).toFixed(1) + " " + y(p.v).toFixed(1)).join(" ");
    svg.appendChild(s("path", { class: "line line-" + (i % 4), d }));
    if (pts.length < 60) for (const p of pts) svg.appendChild(s("circle", { class: "dot line-" + (i % 4), cx: x(p.t), cy: y(p.v), r: 2.5 }));
  });
  if (opts.threshold != null) {
    svg.appendChild(s("line", { class: "threshold", x1: PAD.l, x2: W - PAD.r, y1: y(opts.threshold), y2: y(opts.threshold) }));
    svg.appendChild(s("text", { class: "threshold-label", x: W - PAD.r - 4, y: y(opts.threshold) - 4, "text-anchor": "end" }, opts.thresholdLabel || String(opts.threshold)));
  }
  if (opts.marker != null && opts.marker >= t0 && opts.marker <= t1) {
    svg.appendChild(s("line", { class: "marker", x1: x(opts.marker), x2: x(opts.marker), y1: PAD.t, y2: H - PAD.b }));
  }
  const legend = series.length > 1 ? h("p", { class: "legend" }, series.map((ser, i) => h("span", { class: "key line-" + (i % 4), text: ser.name }))) : null;
  return h("figure", { class: "chart-box" }, svg, legend);
}

// bars({title, items: [[label, value]], unit})
export function bars(opts) {
  const items = opts.items || [];
  const bw = 56, gap = 14, hh = 160, top = 16, bottom = 36;
  const w = Math.max(240, 40 + items.length * (bw + gap));
  const max = Math.max(1, ...items.map(([, v]) => Number(v) || 0));
  const svg = s("svg", { viewBox: `0 0 ${w} ${hh + top + bottom}`, class: "chart bars", role: "img", "aria-label": opts.title || "chart" });
  if (opts.title) svg.appendChild(s("title", {}, opts.title));
  svg.appendChild(s("line", { class: "axis", x1: 30, x2: w - 6, y1: top + hh, y2: top + hh }));
  items.forEach(([lab, v], i) => {
    const val = Number(v) || 0;
    const bh = (val / max) * hh;
    const bx = 36 + i * (bw + gap);
    svg.appendChild(s("rect", { class: "bar", x: bx, y: top + hh - bh, width: bw, height: bh }));
    svg.appendChild(s("text", { class: "tick", x: bx + bw / 2, y: top + hh - bh - 3, "text-anchor": "middle" }, fmt(val)));
    svg.appendChild(s("text", { class: "tick", x: bx + bw / 2, y: top + hh + 14, "text-anchor": "middle" }, String(lab).slice(0, 9)));
  });
  return h("figure", { class: "chart-box" }, opts.title ? h("figcaption", { text: opts.title }) : null, svg);
}

function fmt(v) {
  return Number.isInteger(v) ? String(v) : v.toFixed(v < 1 ? 2 : 1);
}
