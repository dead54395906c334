// The device actions of an alarm's ticket: what the rule commands (close
// the zone's water valve, shut the gas valve, start the fan), where each
// stands (waiting for an operator, sent, done when the device's reading
// shows it, a fault when it does not), and the operator's confirm button.
// It redraws itself when the ticket changes (live).

import { h } from "./dom.js";
import { getLang, when } from "./i18n.js";
import { api, enc, latest } from "./api.js";
import { live, subscribe, olderTicket } from "./live.js";
import { session } from "./session.js";

const WORDS = {
  en: {
    title: "Device actions", confirm: "Confirm: {what}", confirmed: "confirmed by {who}", auto: "automatic",
    attempts: "{n} attempt(s)", failed: "Not done: {e}",
    a_water_valve: "water valve", a_gas_valve: "gas valve", a_fan: "fan",
    set_close: "close", set_open: "open", set_start: "start", set_stop: "stop",
    st_awaiting_operator: "waits for an operator", st_queued: "queued", st_sent: "sent, checking", st_done: "done", st_failed: "FAULT: did not take effect",
  },
  "zh-CN": {
    title: "设备联动", confirm: "确认：{what}", confirmed: "{who} 已确认", auto: "自动",
    attempts: "已发送 {n} 次", failed: "未完成：{e}",
    a_water_valve: "水阀", a_gas_valve: "燃气阀", a_fan: "风机",
    set_close: "关闭", set_open: "打开", set_start: "启动", set_stop: "停止",
    st_awaiting_operator: "等待值班员确认", st_queued: "待发送", st_sent: "已发送，核对中", st_done: "已完成", st_failed: "故障：未生效",
  },
};

function w(key, vars) {
  let out = (WORDS[getLang()] || WORDS.en)[key] || WORDS.en[key] || key;
  for (const [k, v] of Object.entries(vars || {})) out = out.split("{" + k + "}").join(String(v));
  return out;
}

// what names a command: "close water valve wv-z1".
function what(c) { return w("set_" + c.set) + " " + w("a_" + c.actuator) + " " + c.device_id; }

// commandsSection draws tk's device actions; null when it has none.
// stop ends its live updates.
export function commandsSection(tk) {
  const box = h("section", { id: "ticket-commands", class: "commands" });
  const msg = h("p", { id: "commands-status", role: "status" });
  let id = tk.id;
  draw(tk.commands || []);
  const unsub = subscribe((m) => {
    const d = m.data && (m.data.ticket || m.data);
    if (m.type === "ticket.updated" && d && d.id === id) reload();
  });

  // Each change reads the ticket again: only the newest read is drawn,
  // an older one landing last would show a command's earlier state.
  const newest = latest();
  async function reload() {
    try {
      const fresh = await newest(api("GET", "/api/tickets/" + enc(id)));
      draw(fresh.commands || []);
    } catch (_) { /* the next change redraws */ }
  }

  function draw(cmds) {
    box.hidden = cmds.length === 0;
    box.replaceChildren(h("h3", { text: w("title") }), msg, h("ul", { class: "command-list" }, cmds.map((c) => {
      const li = h("li", { class: "command cmd-" + c.state, "data-command": c.id, "data-state": c.state },
        h("strong", { text: what(c) }), " · ",
        h("span", { class: "cmd-state", text: w("st_" + c.state) }),
        c.attempts ? " · " + w("attempts", { n: c.attempts }) : "",
        c.confirm === "auto" ? " · " + w("auto") : "",
        c.confirmed_by ? " · " + w("confirmed", { who: c.confirmed_by }) + (c.confirmed_at ? " " + when(c.confirmed_at) : "") : "",
        c.result ? h("div", { class: "note", text: c.result }) : null);
      if (c.state === "awaiting_operator" && session.may("ack")) {
        li.append(h("div", {}, h("button", { type: "button", class: "warn", id: "cmd-confirm-" + c.id, text: w("confirm", { what: what(c) }),
          onclick: async (e) => {
            e.target.disabled = true;
            msg.textContent = "";
            try {
              await api("POST", "/api/tickets/" + enc(id) + "/commands/" + enc(c.id) + "/confirm");
              await reload();
            } catch (err) {
              msg.textContent = w("failed", { e: err.message });
              e.target.disabled = false;
            }
          } })));
      }
      return li;
    })));
  }
  // A change that came while tk was being read is missed by the events:
  // the live picture has it.
  if (olderTicket(tk, live.tickets.get(id))) reload();
  return { el: box, stop: () => { unsub(); newest.drop(); } };
}
