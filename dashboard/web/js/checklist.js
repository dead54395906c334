// A ticket's checklist (the safety steps of its kind of job, each checked
// with who and when, some with a value such as the time passengers were
// freed), the parts used and the fee agreed on site: on the technician's
// phone to enter, on the ticket's page to see, with the owner's
// acceptance. The server decides; this only shows and collects.

import { h, field, showFieldError } from "./dom.js";
import { t, getLang, when } from "./i18n.js";
import { roleName } from "./words.js";

// The items of the checklists on screen, for the history's words.
const known = new Map();
export function knownItem(id) { return known.get(id) || null; }
export function rememberItems(cl) { for (const it of (cl && cl.items) || []) known.set(it.id, it); }

export function itemText(it) {
  return getLang() === "zh-CN" && it.text_zh ? it.text_zh : it.text;
}

// yuan writes cents as yuan: 1250 -> "12.50".
export function yuan(cents) {
  const n = Math.abs(Number(cents) || 0);
  return (cents < 0 ? "-" : "") + Math.floor(n / 100) + "." + String(n % 100).padStart(2, "0");
}

// pendingChecks: what the steps queued on the phone do to the list
// (item id -> true checked, false unchecked), oldest first.
export function pendingChecks(steps) {
  const out = new Map();
  for (const st of steps || []) {
    const b = st.body || {};
    if (b.action === "check") out.set(b.item, true);
    if (b.action === "uncheck") out.set(b.item, false);
  }
  return out;
}

// missingItems: the required items not checked, counting queued steps.
export function missingItems(cl, pending) {
  if (!cl) return [];
  return (cl.items || []).filter((it) => {
    if (it.optional || it.retired) return false;
    const p = pending && pending.has(it.id) ? pending.get(it.id) : null;
    return p === null ? !it.checked : !p;
  });
}

function answerText(it, site) {
  if (!it.answer) return "";
  return it.value === "time" ? when(it.answer, site) : it.answer;
}

// checklistView shows tk.checklist; with onToggle(item, checked, value)
// the boxes can be ticked (the assignee, an operator), else it is read only.
export function checklistView(tk, opts = {}) {
  const cl = tk.checklist;
  if (!cl) return null;
  rememberItems(cl);
  const pending = opts.pending || new Map();
  const missing = missingItems(cl, pending);
  const list = h("ul", { class: "checklist-items" });
  for (const it of cl.items || []) {
    const queued = pending.has(it.id);
    const checked = queued ? pending.get(it.id) : !!it.checked;
    const box = h("input", { type: "checkbox", name: "check-" + it.id, checked, disabled: !opts.onToggle || it.retired });
    let value = null;
    if (it.value && opts.onToggle && !it.retired) {
      const attrs = { name: "value-" + it.id, autocomplete: "off", class: "check-value" };
      if (it.value === "time") Object.assign(attrs, { type: "time" });
      else if (it.value === "number") Object.assign(attrs, { inputmode: "decimal" });
      value = h("input", attrs);
      if (it.answer && it.value !== "time") value.value = it.answer;
    }
    const err = h("span", { class: "field-error", role: "alert" });
    if (opts.onToggle) {
      box.addEventListener("change", () => {
        err.textContent = "";
        if (box.checked && value && !value.value.trim()) {
          box.checked = false;
          err.textContent = t("checkNeedValue");
          value.setAttribute("aria-invalid", "true");
          value.focus();
          return;
        }
        if (box.checked && value && it.value === "number" && !/^-?\d+(?:[.,]\d+)?$/.test(value.value.trim())) {
          box.checked = false;
          err.textContent = t("mustNumber");
          value.setAttribute("aria-invalid", "true");
          value.focus();
          return;
        }
        opts.onToggle(it, box.checked, value ? value.value.trim().replace(",", ".") : "", err);
      });
    }
    const who = queued && checked ? t("checkQueued") : it.checked && !queued ? t("checkedBy", { who: it.by, t: when(it.at, tk.site) }) : "";
    list.append(h("li", { class: "check-item" + (checked ? " done" : "") + (it.optional ? " optional" : ""), dataset: { item: it.id, checked: checked ? "1" : "0" } },
      h("label", { class: "check" }, box, h("span", { class: "check-text", text: itemText(it) }),
        h("span", { class: "hint", text: it.retired ? t("checkRetired") : it.optional ? t("checkOptional") : t("checkRequired") })),
      value ? h("label", { class: "field check-value-field" }, h("span", { class: "label", text: itemText(it) }), value) : null,
      it.answer && !(queued && !checked) ? h("span", { class: "check-answer", text: answerText(it, tk.site) }) : null,
      who ? h("span", { class: "check-who", text: who }) : null, err));
  }
  return h("section", { class: "checklist", id: "checklist-" + tk.id, dataset: { checklist: cl.name, missing: String(missing.length) } },
    h("h3", { text: t("checklist") }),
    h("p", { class: missing.length ? "warn checklist-state" : "ok checklist-state", text: missing.length ? t("checklistOpen", { n: missing.length }) : t("checklistDone") }),
    list);
}

// partsEditor collects the parts used and, for paid service, the fee
// agreed on site (in yuan, sent in cents). read(form) answers the body
// fields, or null after showing the field at fault.
export function partsEditor() {
  const rows = h("div", { class: "parts-rows" });
  let n = 0;
  const addRow = () => {
    const i = n++;
    const name = h("input", { name: `parts[${i}].name`, autocomplete: "off", class: "part-name" });
    const qty = h("input", { name: `parts[${i}].qty`, inputmode: "numeric", value: "1", class: "part-qty" });
    const row = h("div", { class: "part-row", dataset: { row: i } }, field(t("partName"), name), field(t("partQty"), qty),
      h("button", { type: "button", class: "part-remove", text: t("removePart"), onclick: () => row.remove() }));
    rows.append(row);
    return row;
  };
  const paid = h("input", { type: "checkbox", name: "paid" });
  const fee = h("input", { name: "fee_cents", inputmode: "decimal", autocomplete: "off", placeholder: "0.00" });
  const feeField = field(t("feeYuan"), fee);
  feeField.hidden = true;
  paid.addEventListener("change", () => { feeField.hidden = !paid.checked; if (paid.checked) fee.focus(); });
  const el = h("fieldset", { class: "parts-box" }, h("legend", { text: t("partsUsed") }), rows,
    h("button", { type: "button", class: "part-add", text: t("addPart"), onclick: () => addRow().querySelector("input").focus() }),
    h("label", { class: "check paid-check" }, paid, h("span", { text: t("paidService") })), feeField);
  function read(form) {
    const parts = [];
    for (const row of rows.querySelectorAll(".part-row")) {
      const i = row.dataset.row;
      const nm = form.elements[`parts[${i}].name`].value.trim();
      const q = form.elements[`parts[${i}].qty`].value.trim();
      if (!nm && (!q || q === "1")) continue; // an empty row
      if (!nm) { showFieldError(form, `parts[${i}].name`, t("partNameRequired")); return null; }
      if (!/^\d+$/.test(q) || Number(q) < 1 || Number(q) > 10000) { showFieldError(form, `parts[${i}].qty`, t("badQty")); return null; }
      parts.push({ name: nm, qty: Number(q) });
    }
    const out = { parts };
    if (paid.checked) {
      const v = fee.value.trim().replace(/^¥/, "");
      const m = /^(\d{1,6})(?:\.(\d{1,2}))?$/.exec(v);
      const cents = m ? Number(m[1]) * 100 + Number((m[2] || "").padEnd(2, "0")) : NaN;
      if (!m || cents > 100000 * 100) { showFieldError(form, "fee_cents", t("badFee")); return null; }
      Object.assign(out, { paid: true, fee_cents: cents });
    }
    return out;
  }
  // The part names the server refuses come back as parts[i] of the sent
  // list: the same order as the rows that were not empty.
  return { el, read };
}

// paren: " (x)", or "（x）" in Chinese.
export function paren(x) { return getLang() === "zh-CN" ? "（" + x + "）" : " (" + x + ")"; }

// termsText: "door contact × 1, seal × 2 · ¥120.50 (paid service)".
export function termsText(tk) {
  const bits = [];
  if (tk.parts && tk.parts.length) bits.push(tk.parts.map((p) => p.name + " × " + p.qty).join(", "));
  if (tk.paid) bits.push(t("feeValue", { v: yuan(tk.fee_cents || 0) }) + paren(t("paidService")));
  return bits.join(" · ");
}

// acceptanceText: who gave the owner's verdict, how, when.
export function acceptanceText(tk) {
  const a = tk.acceptance;
  if (!a) return "";
  return t("acceptedBy", { verdict: t("out_" + a.verdict), who: a.by, role: roleName(a.role), t: when(a.at, tk.site) });
}
