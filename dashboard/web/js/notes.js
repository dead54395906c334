// The notes caretaker writes into a ticket's history ("alarm
// gas-lel-critical:gas-b2-07:1732300000000 raised: ...", "clocks from the
// first report at 2026-11-23T01:00:00Z: dispatch by ...") as a person
// reads them: in their language, without alarm ids, times in the site's
// time, readings in plain words with units. What people typed (a reason,
// a note) is kept as they wrote it. A note of a form not known here is
// shown as written, with its ids taken out and its times localized.

import { t, getLang, when, label } from "./i18n.js";
import { alarmWords, messageReading, goDuration, roleName, stageName, withUnit, ruleName, recipientName as rn, skillName } from "./words.js";
import { ruleOf } from "./rulebook.js";
import { knownItem, itemText } from "./checklist.js";

const ALARM_ID = /([a-z0-9][a-z0-9._-]*):([A-Za-z0-9][A-Za-z0-9._-]*):(\d{10,})/;
const TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)/g;

// alarmText: the alarm an id and its technical message are about, in words.
function alarmText(id, msg) {
  const m = ALARM_ID.exec(id || "");
  const rule = m ? ruleOf(m[1]) : null;
  const r = messageReading(msg);
  if (!rule && !r) return "";
  const a = { rule_id: m ? m[1] : "", rule_name: rule ? rule.name : "", metric: r && r.metric, event: r && r.event,
    value: r && r.value, peak: r && r.value, level: rule && rule.level, severity: rule && rule.severity, kind: rule && rule.kind };
  return alarmWords(a, rule);
}

function clean(text, site) {
  return String(text || "")
    .replace(new RegExp("alarm " + ALARM_ID.source + " ?", "g"), getLang() === "zh-CN" ? "告警" : "alarm ")
    .replace(TIME, (ts) => when(ts, site));
}

function dur(s) { return goDuration(s); }

function clockName(c) { return label("clock", c); }

// The plan of the clocks: "clocks from the first report at T: dispatch by
// T, arrive by T, close by T, progress note every 30m0s".
function plan(text, site) {
  const zh = getLang() === "zh-CN";
  if (/^no clock left/.test(text)) return zh ? "无需重新计时" : "no clock left to re-plan";
  const m = /^clocks from the first report at (\S+): (.*)$/.exec(text);
  if (!m) return clean(text, site);
  const parts = m[2].split(", ").map((p) => {
    let x = /^(\w+) by (\S+)$/.exec(p);
    if (x) return clockName(x[1]) + (zh ? " " : " by ") + when(x[2], site);
    x = /^progress note every (\S+)$/.exec(p);
    if (x) return zh ? "每 " + dur(x[1]) + " 报告进度" : "progress note every " + dur(x[1]);
    return clean(p, site);
  });
  return (zh ? "时限（自首次报事 " + when(m[1], site) + " 起）：" : "time limits from the first report at " + when(m[1], site) + ": ") + parts.join(zh ? "，" : ", ");
}

// why: the cause of a level change, usually an alarm.
function why(text, site) {
  const m = /^alarm (\S+) raised: (.*)$/.exec(text);
  if (m) return (getLang() === "zh-CN" ? "告警：" : "alarm: ") + (alarmText(m[1], m[2]) || clean(m[2], site));
  return clean(text, site);
}

// termsWords: the parts and fee of a note ("; parts: valve x1; paid
// service, fee ¥12.50") in the reader's language.
function termsWords(parts, fee) {
  const zh = getLang() === "zh-CN";
  return (parts ? (zh ? "；备件：" : "; parts: ") + parts : "") + (fee ? (zh ? "；有偿服务，费用 " : "; paid service, fee ") + fee : "");
}
function viaWords(note) {
  if (getLang() !== "zh-CN" || !note) return note;
  return note.replace(/^via the reporter's link/, "通过报事人链接");
}
// checkWords: a checklist item as the reader reads it (checklist.js
// remembers the items of the ticket on screen).
function checkWords(id, text) {
  const it = knownItem(id);
  return it ? itemText(it) : text;
}

const RULES = [
  [/^(checked|unchecked) (\S+) “(.*?)”(?: = (.*?))?(?:: (.*))?$/s, (m, site) => {
    const zh = getLang() === "zh-CN";
    const it = knownItem(m[2]);
    const v = m[4] ? (it && it.value === "time" ? when(m[4], site) : m[4]) : "";
    return (m[1] === "checked" ? (zh ? "已勾选：" : "checked: ") : (zh ? "取消勾选：" : "unchecked: ")) + checkWords(m[2], m[3]) +
      (v ? (zh ? "＝" : " = ") + v : "") + tail(m[5]);
  }],
  [/^owner confirmed the work( by phone)?(?:; parts: (.*?))?(?:; paid service, fee (¥\d+\.\d\d))?(?:: (.*))?$/s, (m) =>
    (getLang() === "zh-CN" ? "业主已验收" + (m[1] ? "（电话确认）" : "") : "owner confirmed the work" + (m[1] || "")) + termsWords(m[2], m[3]) + tail(viaWords(m[4]))],
  [/^owner disputes the result(?:; parts: (.*?))?(?:; paid service, fee (¥\d+\.\d\d))?; re-inspection ticket (\S+) due on site by (\S+)(?:: (.*))?$/s, (m, site) => (getLang() === "zh-CN"
    ? "业主有异议" + termsWords(m[1], m[2]) + "；复查工单 " + m[3] + " 须在 " + when(m[4], site) + " 前到场"
    : "owner disputes the result" + termsWords(m[1], m[2]) + "; re-inspection ticket " + m[3] + " on site by " + when(m[4], site)) + tail(viaWords(m[5]))],
  [/^opened by rule (\S+) \(alarm (\S+)\)$/, (m) => {
    const rule = ruleOf(m[1]);
    const name = ruleName(rule || { id: m[1] });
    return getLang() === "zh-CN" ? "由规则“" + name + "”自动开单" : "opened by the rule “" + name + "”";
  }],
  [/^reported via (\w+), L(\d)( \(derived\))?(?:, reporter (.*))?$/, (m) => getLang() === "zh-CN"
    ? label("src", m[1]) + "报事，L" + m[2] + (m[3] ? "（系统判定）" : "") + (m[4] ? "，报事人 " + m[4] : "")
    : "reported via " + label("src", m[1]).toLowerCase() + ", L" + m[2] + (m[3] ? " (suggested)" : "") + (m[4] ? ", reporter " + m[4] : "")],
  [/^alarm (\S+) raised: (.*)$/, (m, site) => why(m[0], site)],
  [/^level raised to L(\d): (.*?); (clocks from .*|no clock left.*)$/, (m, site) => (getLang() === "zh-CN" ? "等级升至 L" : "level raised to L") + m[1] +
    (getLang() === "zh-CN" ? "：" : ": ") + why(m[2], site) + (getLang() === "zh-CN" ? "；" : "; ") + plan(m[3], site)],
  [/^L(\d) -> L(\d): (.*?); (clocks from .*|no clock left.*)$/, (m, site) => "L" + m[1] + " → L" + m[2] + (getLang() === "zh-CN" ? "：" : ": ") + m[3] +
    (getLang() === "zh-CN" ? "；" : "; ") + plan(m[4], site)],
  [/^reopened: alarm (\S+) raised again within (\S+) of resolution: (.*)$/, (m, site) => getLang() === "zh-CN"
    ? "完工后 " + dur(m[2]) + " 内告警再次出现，重新打开：" + (alarmText(m[1], m[3]) || clean(m[3], site))
    : "reopened: the alarm came back within " + dur(m[2]) + " of resolution: " + (alarmText(m[1], m[3]) || clean(m[3], site))],
  [/^alarm (\S+) cleared at (\S+) by (.*) \((\w+)\), peak (\S+)$/, (m, site) => {
    const rule = ruleOf((ALARM_ID.exec(m[1]) || [])[1]);
    const peak = rule && rule.metric ? withUnit(Number(m[5]), rule.metric) : m[5];
    const zh = getLang() === "zh-CN";
    const reason = {
      value: zh ? "读数恢复正常" : "the readings are back to normal", rule_changed: zh ? "规则已修改" : "the rule was changed",
      service: zh ? "已记录保养" : "the service was recorded", data_back: zh ? "设备恢复上报" : "the device reports again",
    }[m[4]] || m[4];
    return zh ? "告警于 " + when(m[2], site) + " 解除（" + reason + "），峰值 " + peak
      : "alarm cleared at " + when(m[2], site) + " (" + reason + "), peak " + peak;
  }],
  [/^alarm (\S+) acknowledged$/, () => (getLang() === "zh-CN" ? "告警已确认" : "alarm acknowledged")],
  [/^alarm (\S+) came back while the ticket is open \(recurrence (\d+);[^)]*\): (.*)$/, (m, site) => getLang() === "zh-CN"
    ? "工单处理期间告警复发（第 " + m[2] + " 次）：" + (alarmText(m[1], m[3]) || clean(m[3], site))
    : "the alarm came back while the ticket is open (" + m[2] + "): " + (alarmText(m[1], m[3]) || clean(m[3], site))],
  [/^(\w+) limit of (\S+) \(L(\d)\) is near: due (\S+)$/, (m, site) => getLang() === "zh-CN"
    ? clockName(m[1]) + "时限即将到期：" + when(m[4], site) : clockName(m[1]) + " limit near: due " + when(m[4], site)],
  [/^(\w+) limit of (\S+) \(L(\d)\) missed \(due (\S+)\): escalated to (\w+)$/, (m, site) => getLang() === "zh-CN"
    ? clockName(m[1]) + "时限已超（截止 " + when(m[4], site) + "），" + t("escalatedTo", { to: label("to", m[5]) })
    : clockName(m[1]) + " limit missed (due " + when(m[4], site) + "): " + t("escalatedTo", { to: label("to", m[5]) })],
  [/^no progress note on L1 ticket (\S+) since (\S+)$/, (m, site) => getLang() === "zh-CN"
    ? "自 " + when(m[2], site) + " 起未报告进度" : "no progress note since " + when(m[2], site)],
  [/^claimed from the grab-order pool by (\S+)(?:: (.*))?$/s, (m) => (getLang() === "zh-CN" ? m[1] + " 从抢单池抢单" : "claimed from the pool by " + m[1]) + tail(m[2])],
  [/^assigned to (\S+)( \(was (\S+)\))?(; off duty)?(?:: (.*))?$/s, (m) => (getLang() === "zh-CN"
    ? "派给 " + m[1] + (m[3] ? "（原为 " + m[3] + "）" : "") + (m[4] ? "；不在班" : "")
    : "assigned to " + m[1] + (m[3] ? " (was " + m[3] + ")" : "") + (m[4] ? "; off duty" : "")) + tail(m[5])],
  [/^accepted by (\S+)(?:: (.*))?$/s, (m) => (getLang() === "zh-CN" ? m[1] + " 已接单" : "accepted by " + m[1]) + tail(m[2])],
  [/^on site(, verification code checked)?(?:: (.*))?$/s, (m) => (getLang() === "zh-CN" ? "已到场" + (m[1] ? "，验证码已核对" : "")
    : "on site" + (m[1] ? ", verification code checked" : "")) + tail(m[2])],
  [/^resolved by (\S+) while the alarm is still active \((.*?)\): (.*)$/s, (m) => getLang() === "zh-CN"
    ? m[1] + " 在告警未恢复时完工：" + m[3] : m[0]],
  [/^resolved: (.*)$/s, (m) => (getLang() === "zh-CN" ? "完工：" + m[1].replace(/; actual fault: /g, "；实际故障：")
    .replace(/; parts: /g, "；备件：").replace(/; paid service, fee /g, "；有偿服务，费用 ") : "resolved: " + m[1])],
  [/^owner confirmed the work(?:: (.*))?$/s, (m) => (getLang() === "zh-CN" ? "业主已验收" : "owner confirmed the work") + tail(m[1])],
  [/^owner disputes the result; re-inspection ticket (\S+) due on site by (\S+)(?:: (.*))?$/s, (m, site) => (getLang() === "zh-CN"
    ? "业主有异议；复查工单 " + m[1] + " 须在 " + when(m[2], site) + " 前到场"
    : "owner disputes the result; re-inspection ticket " + m[1] + " on site by " + when(m[2], site)) + tail(m[3])],
  [/^callback: score (\d)\/5(.*)$/s, (m) => (getLang() === "zh-CN" ? "回访：评分 " + m[1] + "/5" : "callback: score " + m[1] + "/5") + m[2]],
  [/^cancelled: (.*)$/s, (m) => (getLang() === "zh-CN" ? "已取消：" : "cancelled: ") + m[1]],
  [/^reopened(?:: (.*))?$/s, (m) => (getLang() === "zh-CN" ? "重新打开" : "reopened") + tail(m[1])],
  [/^wrong verification code from (\S+) \((\d+) of (\d+)\)$/, (m) => getLang() === "zh-CN"
    ? m[1] + " 验证码错误（第 " + m[2] + " 次，共 " + m[3] + " 次）" : "wrong verification code from " + m[1] + " (" + m[2] + " of " + m[3] + ")"],
  [/^new verification code issued to the owner(?:: (.*))?$/s, (m) => (getLang() === "zh-CN" ? "已向业主重发验证码" : "new verification code sent to the owner") + tail(m[1])],
  [/^no (?:rostered )?on-duty technician with (.*): left in the grab-order pool$/, () => getLang() === "zh-CN"
    ? "没有技能和片区合适的值班维修师傅，进入抢单池" : "no suitable technician on duty: left in the pool"],
  [/^auto-dispatched to (\S+): (.*)$/, (m) => {
    const zh = getLang() === "zh-CN";
    const load = /, (\d+) open tickets/.exec(m[2]);
    const zone = /, in zone ([^,;\s]+)/.exec(m[2]);
    const cross = /cross-zone support/.test(m[2]);
    return (zh ? "自动派给 " + m[1] : "auto-dispatched to " + m[1]) +
      (zone ? (zh ? "，本片区 " : ", in zone ") + zone[1] : cross ? (zh ? "，跨片区支援" : ", cross-zone support") : "") +
      (load ? (zh ? "，在办工单 " + load[1] + " 张" : ", " + load[1] + " open tickets") : "");
  }],
  [/^page \S+ to (\S+) via (\S+) \(step (\S+)\) queued$/, (m) => getLang() === "zh-CN"
    ? "通知 " + rn(m[1]) + "（" + m[2] + "，第 " + m[3] + " 步）排队中" : "page to " + rn(m[1]) + " via " + m[2] + " (step " + m[3] + ") queued"],
  [/^page \S+ to (\S+) via (\S+) sent \(attempt (\d+)\)(?:, answer .*)?$/s, (m) => getLang() === "zh-CN"
    ? "已通知 " + rn(m[1]) + "（" + m[2] + "，第 " + m[3] + " 次尝试）" : "paged " + rn(m[1]) + " via " + m[2] + " (attempt " + m[3] + ")"],
  [/^page \S+ to (\S+) via (\S+) failed after (\d+) attempts: (.*)$/s, (m) => getLang() === "zh-CN"
    ? "通知 " + rn(m[1]) + "（" + m[2] + "）失败，已尝试 " + m[3] + " 次" : "page to " + rn(m[1]) + " via " + m[2] + " failed after " + m[3] + " attempts: " + m[4]],
  [/^page \S+ to (\S+) via (\S+) not delivered yet, retrying: (.*)$/s, (m) => getLang() === "zh-CN"
    ? "通知 " + rn(m[1]) + "（" + m[2] + "）尚未送达，重试中" : "page to " + rn(m[1]) + " via " + m[2] + " not delivered yet, retrying: " + m[3]],
  [/^acknowledged by (\S+) via the link of a page$/, (m) => getLang() === "zh-CN" ? m[1] + " 通过通知链接确认" : "acknowledged by " + m[1] + " through the page's link"],
  [/^(?:(before|after) )?photo \d+ added \([^)]*\)$/, (m) => getLang() === "zh-CN"
    ? "上传" + (m[1] ? stageName(m[1]) : "") + "照片" : "photo added" + (m[1] ? " (" + stageName(m[1]) + ")" : "")],
  [/^report via (\w+) from (.*?): (.*)$/s, (m) => (getLang() === "zh-CN" ? label("src", m[1]) + "报事（" + m[2] + "）：" : "report via " + label("src", m[1]).toLowerCase() + " from " + m[2] + ": ") + m[3]],
];

// dispatchWhy: what auto-dispatch did, as the dispatch box says it: the
// server's note in English, every part of it in Chinese (the skills it
// looked for, the rosters, the zone, the load, who else was considered).
export function dispatchWhy(note) {
  const m = /^auto-dispatched to (\S+): (.*)$/s.exec(note || "");
  if (getLang() !== "zh-CN" || !m) return note || "";
  const [main, also] = m[2].split("; also considered ");
  const parts = [];
  for (const p of main.split(", ")) {
    let x;
    if (p === "any skill") parts.push("不限技能");
    else if ((x = /^skill (.*)$/.exec(p))) parts.push("技能 " + x[1].split(" or ").map(skillName).join("或"));
    else if (p === "on duty by the rosters") parts.push("按排班在岗");
    else if ((x = /^in zone (.*)$/.exec(p))) parts.push("本片区 " + x[1]);
    else if ((x = /^cross-zone support \(nobody skilled on duty in zone (.*)\)$/.exec(p))) parts.push("跨片区支援（片区 " + x[1] + " 无合适的在岗师傅）");
    else if ((x = /^(\d+) open tickets$/.exec(p))) parts.push("在办工单 " + x[1] + " 张");
    else parts.push(p);
  }
  let out = "自动派给 " + m[1] + "：" + parts.join("，");
  if (also) {
    out += "；同时考虑了 " + also.split(/, (?=\S+ \()/).map((o) => {
      const y = /^(\S+) \((in zone|other zone), (\d+) open\)$/.exec(o);
      return y ? y[1] + "（" + (y[2] === "in zone" ? "本片区" : "跨片区") + "，在办 " + y[3] + " 单）" : o;
    }).join("、");
  }
  return out;
}

function tail(note) { return note ? (getLang() === "zh-CN" ? "：" : ": ") + note : ""; }

// noteWords renders one history entry's note.
export function noteWords(entry, site) {
  const note = (entry && entry.note) || "";
  if (!note) return "";
  if (entry.role !== "system" && entry.actor !== "caretaker" && !/^(claim|assign|accept|arrive|resolve|confirm|dispute|callback|reopen|cancel|code_refused|code_reissued|photo|report_merged|created|acknowledged|level_changed|resolve_override|check|uncheck)$/.test(entry.action)) {
    return note; // what a person typed
  }
  for (const [re, fn] of RULES) {
    const m = re.exec(note);
    if (m) return fn(m, site);
  }
  return clean(note, site);
}

// roleWords: "(值班员)" for a history entry's actor.
export function actorWords(entry) {
  if (entry.role === "system") return roleName("system");
  return entry.actor + (entry.role ? (getLang() === "zh-CN" ? "（" + roleName(entry.role) + "）" : " (" + roleName(entry.role) + ")") : "");
}
