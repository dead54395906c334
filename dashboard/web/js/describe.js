// What an alarm or a ticket is about, as the person reading it needs it:
// plain words with units for everyone, and the technical form (the
// rule's message, with metric ids and operators) for engineers.

import { alarmWords, messageReading } from "./words.js";
import { ruleOf } from "./rulebook.js";
import { live } from "./live.js";
import { session } from "./session.js";

// describeAlarm: "燃气浓度 22.9 %LEL，超过报警值 20".
export function describeAlarm(a) {
  return alarmWords(a, ruleOf(a && a.rule_id));
}

// describeTicket: a sensor ticket by its alarm (live, or read out of the
// ticket's text, which quotes the worst reading); anything else by what
// its reporter wrote.
export function describeTicket(tk) {
  if (!tk) return "";
  if (tk.source !== "sensor") return tk.description || "";
  const a = tk.alarm_id && live.alarms.get(tk.alarm_id);
  if (a) return describeAlarm(a);
  const id = /^([^:]+):/.exec(tk.alarm_id || "");
  const rule = ruleOf(id && id[1]);
  const r = messageReading(tk.description);
  if (!rule && !r) return tk.description || "";
  return alarmWords({ rule_id: id && id[1], rule_name: rule && rule.name, metric: r && r.metric, event: r && r.event,
    value: r && r.value, peak: r && r.value, level: tk.level, kind: rule && rule.kind }, rule);
}

// technical: the engineer's form, for engineers (and admins) only.
export function technical(text) {
  const role = session.me && session.me.role;
  return role === "engineer" || role === "admin" ? text || "" : "";
}
