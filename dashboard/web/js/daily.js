// The morning shift's list of unfinished work: open tickets a technician
// could not finish (with the reason) or opened before today began.

import { h } from "./dom.js";
import { getLang, when, label } from "./i18n.js";
import { api } from "./api.js";
import { place } from "./board.js";

const WORDS = {
  en: {
    title: "Unfinished work", intro: "Open work carried over from before today, most urgent first: for the morning shift.",
    none: "Nothing carried over.", carried: "cannot be finished today: {why}", opened: "opened {t}", who: "technician {n}", failed: "Not loaded: {e}",
  },
  "zh-CN": {
    title: "遗留工单", intro: "今天之前遗留的未完成工单，紧急的在前，供早班处理。",
    none: "没有遗留工单。", carried: "当天无法完成：{why}", opened: "{t} 报修", who: "师傅 {n}", failed: "未能加载：{e}",
  },
};

function w(key, vars) {
  let out = (WORDS[getLang()] || WORDS.en)[key] || WORDS.en[key] || key;
  for (const [k, v] of Object.entries(vars || {})) out = out.split("{" + k + "}").join(String(v));
  return out;
}

export function mount(root) {
  const list = h("ul", { id: "daily-list", class: "daily" });
  const status = h("p", { id: "daily-status", role: "status" });
  root.replaceChildren(h("section", { class: "card" }, h("h2", { text: w("title") }), h("p", { class: "hint", text: w("intro") }), status, list));
  let gone = false;
  (async () => {
    try {
      const data = await api("GET", "/api/daily");
      if (gone) return;
      const tks = data.tickets || [];
      if (!tks.length) status.textContent = w("none");
      list.replaceChildren(...tks.map((tk) => h("li", { class: "daily-item level-" + tk.level, "data-ticket": tk.id },
        h("span", { class: "badge l" + tk.level, text: "L" + tk.level }), " ",
        h("a", { href: "#/ticket/" + tk.id, text: tk.number }), " · ", label("st", tk.status), " · ", place(tk),
        h("div", { class: "note", text: [tk.carried_at ? w("carried", { why: tk.carry_reason }) : "", w("opened", { t: when(tk.created_at, tk.site) }),
          tk.assignee ? w("who", { n: tk.assignee }) : ""].filter(Boolean).join(" · ") }))));
    } catch (e) {
      status.textContent = w("failed", { e: e.message });
    }
  })();
  return () => { gone = true; };
}
