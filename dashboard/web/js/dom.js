// Building the page without innerHTML: every text goes in through
// textContent (or a DOM attribute), so whatever a user typed, "<script>"
// included, shows as text and never runs.

// h("tr", {class: "x", onclick: fn, dataset: {key: "1"}}, child, "text", ...)
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVGNS = "http://www.w3.org/2000/svg";

// s("line", {x1: 0, ...}) builds an SVG element.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === "class") el.setAttribute("class", v);
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = String(v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export const $ = (id) => document.getElementById(id);

// field builds a labelled form control: label text, then the control, then
// a slot for its validation message.
export function field(label, control, hint) {
  const msg = h("span", { class: "field-error", role: "alert" });
  control.addEventListener("input", () => { msg.textContent = ""; control.removeAttribute("aria-invalid"); });
  return h("label", { class: "field" }, h("span", { class: "label", text: label }), control, hint ? h("span", { class: "hint", text: hint }) : null, msg);
}

// showFieldError puts a message under the control called name in form.
export function showFieldError(form, name, message) {
  const control = form.elements[name] || form.querySelector(`[data-field="${CSS.escape(name)}"]`);
  if (!control) return false;
  const label = control.closest("label");
  const slot = label && label.querySelector(".field-error");
  if (slot) slot.textContent = message;
  control.setAttribute("aria-invalid", "true");
  control.focus();
  return true;
}

export function clearFieldErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

// statusLine is where a view says how an action went ("Saved as version
// 4", "Done.", an error). A view makes it once, when it is mounted, and
// keeps it outside whatever its redraws replace: an action that succeeds
// usually redraws the view, and the answer must outlive that redraw.
export function statusLine(id) {
  return h("div", { class: "result", id, role: "status", "aria-live": "polite" });
}

// say writes a status line: kind "ok", "error" or "" (in progress, or
// cleared with no text); extra nodes (an upload's outcome) follow the text.
export function say(line, kind, text, ...extra) {
  line.className = "result" + (kind ? " " + kind : "");
  line.replaceChildren(text || "", ...extra.filter(Boolean));
}

export function options(select, list) {
  select.replaceChildren(...list.map(([value, label]) => h("option", { value, text: label })));
  return select;
}

// perFrame(fn) returns ask(): each ask runs fn once at the next animation
// frame (or after 250 ms in a tab that draws no frames), however often it
// is asked before then; ask.cancel() drops a run not yet made.
export function perFrame(fn) {
  let frame = 0;
  let timer = 0;
  const cancel = () => {
    cancelAnimationFrame(frame);
    clearTimeout(timer);
    frame = timer = 0;
  };
  const run = () => { cancel(); fn(); };
  const ask = () => {
    if (frame || timer) return;
    frame = requestAnimationFrame(run);
    timer = setTimeout(run, 250);
  };
  ask.cancel = cancel;
  return ask;
}

// keyed makes parent's children nodes, in order, moving only what is out
// of place (a node that stays keeps its focus and costs nothing).
export function keyed(parent, nodes) {
  const want = new Set(nodes);
  for (let c = parent.firstChild; c;) {
    const next = c.nextSibling;
    if (!want.has(c)) c.remove();
    c = next;
  }
  let cur = parent.firstChild;
  for (const n of nodes) {
    if (cur === n) { cur = cur.nextSibling; continue; }
    // cur moved further down: leave it, it is put in place when reached.
    if (cur && cur.nextSibling === n) { cur = n.nextSibling; continue; }
    parent.insertBefore(n, cur);
  }
}
