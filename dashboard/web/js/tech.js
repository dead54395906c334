// The technician's phone: my tickets, the pool to claim from, arrive with
// the owner's code, resolve with notes and photos.

import { h, field, showFieldError, statusLine, say } from "./dom.js";
import { t, label } from "./i18n.js";
import { api, enc } from "./api.js";
import { live, subscribe } from "./live.js";
import { session } from "./session.js";
import { place } from "./board.js";
import { upload } from "./report.js";
import { describeTicket } from "./describe.js";

export function mount(root) {
  const mine = h("div", { class: "cards", id: "tech-mine" });
  const pool = h("div", { class: "cards", id: "tech-pool" });
  const msg = statusLine("tech-result"); // outside the cards, which every event redraws
  root.replaceChildren(msg,
    h("section", { class: "column" }, h("h2", { text: t("myTickets") }), mine),
    h("section", { class: "column" }, h("h2", { text: t("pool") }), pool));

  function draw() {
    const me = session.me ? session.me.name : "";
    const open = [...live.tickets.values()].sort((a, b) => a.level - b.level || new Date(a.created_at) - new Date(b.created_at));
    const my = open.filter((tk) => tk.assignee === me);
    const free = open.filter((tk) => !tk.assignee && tk.status === "new");
    mine.replaceChildren(...(my.length ? my.map((tk) => card(tk, true)) : [h("p", { class: "empty", text: t("nothingMine") })]));
    pool.replaceChildren(...(free.length ? free.map((tk) => card(tk, false)) : [h("p", { class: "empty", text: t("poolEmpty") })]));
  }

  function card(tk, isMine) {
    const c = h("article", { class: "ticket-card level-" + tk.level, dataset: { ticket: tk.id } },
      h("header", {}, h("span", { class: "badge l" + tk.level, text: "L" + tk.level }), " ", h("strong", { text: tk.number }), " ",
        h("span", { class: "status", dataset: { status: tk.status }, text: label("st", tk.status) })),
      h("p", { class: "place", text: [place(tk), tk.unit, tk.floor, tk.room].filter(Boolean).join(" / ") }),
      h("p", { class: "desc", text: describeTicket(tk) }),
      h("p", { class: "meta", text: label("cat", tk.category) + " · " + label("src", tk.source) }));
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
      bar.append(h("form", { class: "stack-form", onsubmit: async (e) => {
        e.preventDefault();
        if (!note.value.trim()) { showFieldError(e.target, "note", t("required")); return; }
        say(msg, "", "");
        const sent = files.files.length ? await upload(tk.id, files.files, "after") : null;
        act(tk, { action: "resolve", note: note.value.trim() }, sent);
      } }, field(t("resolution"), note), field(t("photos"), files), h("button", { type: "submit", class: "primary", text: t("resolve") })));
    }
    bar.append(h("a", { class: "button", href: "#/ticket/" + tk.id, text: t("open") }));
    c.append(bar);
    return c;
  }

  // act sends an action; extra (how the photos went) stays beside the answer.
  async function act(tk, body, extra) {
    if (!extra) say(msg, "", "");
    try {
      const out = await api("POST", "/api/tickets/" + enc(tk.id) + "/actions", body);
      const updated = out && (out.ticket || out);
      if (updated && updated.id) live.tickets.set(updated.id, Object.assign(live.tickets.get(updated.id) || {}, updated));
      say(msg, "ok", t("done"), extra);
      draw();
    } catch (e) {
      say(msg, "error", e.missing ? t("notAvailable", { what: "/api/tickets/{id}/actions" }) : t("failed", { e: e.message }), extra);
    }
  }

  const unsub = subscribe((m) => { if (m.type !== "reading" && m.type !== "conn") draw(); });
  draw();
  return unsub;
}

function button(text, onclick) {
  return h("button", { type: "button", text, onclick });
}
