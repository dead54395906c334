// How things read for people: metric names with their units, device
// kinds, rule names, conditions, severities, modes, roles, photo stages,
// history verbs, the server's error codes, durations, and alarms in plain
// words ("燃气浓度 22.9 %LEL，超过报警值 20" rather than
// "lel_pct = 22.89 (>= 20)"). Engineers also get the technical form
// (technical()); it is marked class "tech" and lang "en".

import { t, getLang, duration } from "./i18n.js";

const zh = () => getLang() === "zh-CN";
const pick = (pair) => (zh() ? pair[1] : pair[0]);

// metric -> [en, zh, unit]
const METRICS = {
  lel_pct: ["Gas concentration", "燃气浓度", "%LEL"],
  co_ppm: ["Carbon monoxide", "一氧化碳", "ppm"],
  fault: ["Detector fault", "探测器故障", ""],
  leak: ["Water leak", "漏水", ""],
  battery_pct: ["Battery", "电池电量", "%"],
  motor_temp_c: ["Motor temperature", "电机温度", "°C"],
  vibration_mm_s: ["Vibration", "振动", "mm/s"],
  door_cycles: ["Door cycles", "开关门次数", "次|cycles"],
  car_floor: ["Car floor", "轿厢楼层", ""],
  running: ["Running", "运行中", ""],
  door_open: ["Doors open", "门开启", ""],
  voltage_v: ["Supply voltage", "供电电压", "V"],
  current_a: ["Current", "电流", "A"],
  power_kw: ["Power", "功率", "kW"],
  frequency_hz: ["Supply frequency", "供电频率", "Hz"],
  power_factor: ["Power factor", "功率因数", ""],
  energy_kwh: ["Energy", "电能", "kWh"],
  l1_v: ["Phase L1 voltage", "L1 相电压", "V"],
  l2_v: ["Phase L2 voltage", "L2 相电压", "V"],
  l3_v: ["Phase L3 voltage", "L3 相电压", "V"],
  l1_a: ["Phase L1 current", "L1 相电流", "A"],
  l2_a: ["Phase L2 current", "L2 相电流", "A"],
  l3_a: ["Phase L3 current", "L3 相电流", "A"],
  residual_ma: ["Residual current", "剩余电流", "mA"],
  voltage_unbalance_pct: ["Voltage unbalance", "电压不平衡度", "%"],
  door_zone: ["Car in the door zone", "轿厢在平层区", ""],
  overload: ["Overload", "超载", ""],
  load_fault: ["Load-weighing device fault", "称重装置故障", ""],
  inspection: ["Inspection operation", "检修运行", ""],
  machine_room_temp_c: ["Machine room temperature", "机房温度", "°C"],
};

const EVENTS = {
  entrapment: ["Passengers trapped in the elevator", "电梯困人"],
  door_fault: ["Elevator door fault", "电梯门故障"],
  overspeed: ["Elevator overspeed", "电梯超速"],
  outage: ["Power outage", "停电"],
  safety_gear: ["Safety gear set: passengers trapped", "安全钳动作，乘客被困"],
};

const KINDS = {
  elevator: ["Elevator", "电梯"], water_leak: ["Leak probe", "漏水探测器"], power: ["Power meter", "电力仪表"],
  gas: ["Gas detector", "燃气探测器"], unknown: ["Unknown device", "未知设备"],
};

const SEVERITIES = { critical: ["Critical", "紧急"], major: ["Major", "重要"], minor: ["Minor", "次要"], maintenance: ["Maintenance", "维保"] };
const MODES = { live: ["Live", "正式运行"], shadow: ["Shadow (logged only)", "试运行（只记录）"] };
const ROLES = {
  patrol: ["patrol", "巡检员"], technician: ["technician", "维修师傅"], operator: ["operator", "值班员"],
  engineer: ["engineer", "工程师"], admin: ["admin", "管理员"], manager: ["manager", "经理"],
  system: ["system", "系统"], reporter_link: ["reporter (link)", "报事人（链接）"], ack_link: ["paged person (link)", "被通知人（链接）"],
  supervisor: ["supervisor", "工程主管"], project_manager: ["project manager", "项目经理"], control_room: ["control room", "监控中心"],
  team_lead: ["team lead", "班组长"], reporter: ["reporter", "报事人"], assignee: ["assignee", "负责师傅"], on_duty: ["on duty", "值班人员"],
};
const SKILLS = {
  plumbing: ["plumbing", "水暖"], electrical: ["electrical", "电工"], gas: ["gas", "燃气"], elevator: ["elevator", "电梯"],
  hvac: ["HVAC", "暖通"], painter: ["painting", "油漆"], painting: ["painting", "油漆"], civil: ["civil", "土建"], fire: ["fire", "消防"],
  locksmith: ["locksmith", "开锁"], carpentry: ["carpentry", "木工"], general: ["general repairs", "综合维修"], water_electric: ["water and electric", "水电"],
  equipment: ["equipment", "设备"], public_area: ["public areas", "公共区域"],
};
const STAGES = { before: ["before", "维修前"], after: ["after", "维修后"] };

// rule id -> zh name (the English name comes from the rule itself).
const RULES_ZH = {
  "gas-lel-warning": "燃气浓度超过预警值", "gas-lel-warning.plant": "锅炉房/公共厨房燃气浓度超过预警值",
  "gas-lel-critical": "燃气浓度超过报警值", "gas-co-warning": "一氧化碳偏高", "gas-co-critical": "一氧化碳浓度危险",
  "gas-detector-fault": "燃气探测器故障", "gas-lel-rising": "燃气浓度快速上升", "gas-lel-zero-drift": "燃气探测器零点漂移",
  "gas-co-zero-drift": "一氧化碳传感器零点漂移", "gas-lel-stuck": "燃气读数长时间不变", "gas-lel-stuck.plant": "锅炉房/公共厨房燃气读数长时间不变",
  "gas-co-stuck": "一氧化碳读数长时间不变", "gas-co-stuck.plant": "锅炉房/公共厨房一氧化碳读数长时间不变",
  "gas-offline": "燃气探测器离线", "water-leak": "检测到漏水", "water-leak.flat": "住户内检测到漏水",
  "water-leak-probe-fault": "漏水探测器或感应线故障", "water-leak-battery-low": "漏水探测器电量低",
  "water-leak-offline": "漏水探测器离线", "water-leak-offline.plant": "设备房漏水探测器离线",
  "water-leak-offline.polled": "漏水探测器离线", "water-leak-offline.polled-plant": "设备房漏水探测器离线",
  "power-voltage": "供电电压超出允许范围", "power-frequency": "供电频率超出范围", "power-phase-loss": "缺相",
  "power-voltage-unbalance": "电压不平衡超过短时限值", "power-voltage-unbalance-sustained": "电压不平衡超过正常限值",
  "power-neutral-loss-l1": "零线断开（L1 相过压）", "power-neutral-loss-l2": "零线断开（L2 相过压）", "power-neutral-loss-l3": "零线断开（L3 相过压）",
  "power-residual-current": "剩余电流超过电气火灾报警值", "power-factor-low": "功率因数低于 0.90", "power-factor-penalty": "功率因数低于 0.85",
  "power-outage": "停电", "power-offline": "电力仪表离线", "elevator-entrapment": "电梯困人", "elevator-overspeed": "电梯超速",
  "elevator-door-fault": "电梯门故障", "elevator-motor-hot": "电梯电机过热", "elevator-motor-temp-trend": "电梯电机温度趋于过热",
  "elevator-vibration-high": "电梯振动过大", "elevator-vibration-trend": "电梯振动上升", "elevator-door-held-open": "电梯门长时间未关",
  "elevator-door-service": "电梯门需保养", "elevator-offline": "电梯控制器离线",
  "gas-co-lel-rising": "燃气与一氧化碳同时上升", "gas-calibration-due": "燃气探测器到期待标定",
  "water-leak-flood": "整栋楼多处漏水（多个探头报警）",
  "power-overcurrent-l1": "L1 相电流超过断路器额定值", "power-overcurrent-l2": "L2 相电流超过断路器额定值",
  "power-overcurrent-l3": "L3 相电流超过断路器额定值", "power-overcurrent": "电流超过断路器额定值",
  "elevator-stopped-between-floors": "电梯停在两层之间（有困人风险）", "elevator-moving-doors-open": "电梯开门运行",
  "elevator-overload": "电梯超载", "elevator-load-sensor-fault": "电梯称重装置故障", "elevator-inspection": "电梯处于检修运行",
  "elevator-safety-gear": "乘客被困：安全钳动作", "elevator-check-after-outage": "本楼停电后检查电梯",
  "elevator-maintenance-overdue": "电梯半月维保逾期", "elevator-motor-rise": "电梯电机温升过高（相对机房）",
};

// History verbs -> [en, zh].
const VERBS = {
  created: ["created", "创建"], alarm_attached: ["alarm attached", "告警并入"], level_raised: ["level raised", "等级提升"],
  level_changed: ["level changed", "等级调整"], reopened: ["reopened", "重新打开"], alarm_cleared: ["alarm cleared", "告警解除"],
  alarm_acked: ["alarm acknowledged", "告警已确认"], alarm_recurred: ["alarm came back", "告警复发"], sla_warning: ["time limit near", "时限预警"],
  progress_overdue: ["progress note overdue", "进度报告超时"], escalated: ["escalated", "已升级"], claim: ["claimed", "抢单"],
  assign: ["assigned", "派单"], accept: ["accepted", "接单"], arrive: ["arrived", "到场"], resolve: ["resolved", "完工"],
  confirm: ["confirmed", "验收"], dispute: ["disputed", "业主有异议"], callback: ["callback", "回访"], reopen: ["reopened", "重新打开"],
  cancel: ["cancelled", "取消"], comment: ["comment", "备注"], code_refused: ["wrong code", "验证码错误"],
  code_reissued: ["new code issued", "重发验证码"], dispatch_pool: ["left in the pool", "进入抢单池"], auto_dispatch: ["auto-dispatched", "自动派单"],
  page_queued: ["page queued", "通知排队"], page_sent: ["page delivered", "通知已送达"], page_failed: ["page failed", "通知失败"],
  page_retrying: ["page retrying", "通知重试中"], acknowledged: ["acknowledged", "已确认"], photo: ["photo", "照片"],
  report_merged: ["report merged", "报事合并"], new_code: ["new code issued", "重发验证码"], level: ["level changed", "等级调整"],
  resolve_override: ["resolved despite active alarm", "告警未解除强制完工"],
  check: ["checked", "勾选检查项"], uncheck: ["unchecked", "取消检查项"],
  triaged: ["made a ticket from triage", "研判转工单"], clocks_from_alarm: ["time limits from the alarm", "时限从告警起算"],
};

// Error codes of the API (the answer's "code") -> [en, zh] with {params}.
const ERRORS = {
  bad_token: ["The token was not accepted.", "令牌无效。"],
  role_forbidden: ["Your role ({role}) may not do this.", "您的角色（{role}）无权执行此操作。"],
  role_may_not: ["Your role ({role}) may not {action} a ticket.", "您的角色（{role}）不能对工单执行“{action}”。"],
  wrong_status: ["{action}: ticket {number} is {status}; only possible when it is {allowed}.", "{action}：工单 {number} 当前为“{status}”，只有“{allowed}”时才能操作。"],
  not_assignee: ["{action}: ticket {number} is assigned to {assignee}.", "{action}：工单 {number} 已分配给 {assignee}。"],
  wrong_code: ["{action}: wrong verification code ({n} of {max} attempts).", "{action}：验证码错误（第 {n} 次，共 {max} 次）。"],
  code_locked: ["{action}: {n} wrong verification codes: locked until an operator issues a new code.", "{action}：验证码已错 {n} 次，已锁定，需值班员重发验证码。"],
  required: ["{field}: required.", "{field}：必填。"],
  unknown_technician: ["“{name}” is not one of the technicians.", "“{name}”不在维修人员名单中。"],
  not_found: ["Not found.", "未找到。"],
  no_endpoint: ["This server does not offer that yet.", "服务器暂不支持此功能。"],
  internal: ["The server failed; try again.", "服务器出错，请重试。"],
  checklist_incomplete: ["Ticket {number}: the checklist is not complete ({items}).", "工单 {number}：检查清单未完成（{items}）。"],
  no_checklist: ["Ticket {number} has no checklist.", "工单 {number} 没有检查清单。"],
  not_an_item: ["“{item}” is not on the checklist.", "“{item}”不在检查清单中。"],
  fee_range: ["The fee must be from ¥0 to ¥100000.", "费用须在 ¥0 到 ¥100000 之间。"],
};

const FIELDS = {
  code: ["Owner's code", "业主验证码"], note: ["Note", "备注"], reason: ["Reason", "原因"], technician: ["Technician", "维修师傅"],
  score: ["Score", "评分"], level: ["Level", "等级"], description: ["Description", "描述"], site: ["Site", "项目"],
  building: ["Building", "楼栋"], location: ["Place", "具体位置"], source: ["Source", "来源"], action: ["Action", "操作"],
  item: ["Checklist item", "检查项"], value: ["Value", "数值"], fee_cents: ["Fee", "费用"],
};

export function metricName(m) { return METRICS[m] ? pick(METRICS[m]) : m; }
export function unitOf(m) {
  const u = METRICS[m] ? METRICS[m][2] : "";
  return u.includes("|") ? (zh() ? u.split("|")[0] : u.split("|")[1]) : u;
}
export function kindName(k) { return KINDS[k] ? pick(KINDS[k]) : k || ""; }
export function severityName(s) { return SEVERITIES[s] ? pick(SEVERITIES[s]) : s || ""; }
export function modeName(m) { return MODES[m] ? pick(MODES[m]) : m || ""; }
export function roleName(r) { return ROLES[r] ? pick(ROLES[r]) : r || ""; }
export function skillName(s) { return SKILLS[s] ? pick(SKILLS[s]) : s || ""; }
// recipientName: a paged person, or the role a page went to ("reporter").
export function recipientName(r) { return ROLES[r] ? pick(ROLES[r]) : r || ""; }
export function stageName(s) { return STAGES[s] ? pick(STAGES[s]) : s || ""; }
export function verbName(v) { return VERBS[v] ? pick(VERBS[v]) : String(v || "").replace(/_/g, " "); }
export function eventName(e) { return EVENTS[e] ? pick(EVENTS[e]) : e || ""; }

// ruleName: a rule's name in the user's language (rule or alarm: id/rule_id, name/rule_name).
export function ruleName(r) {
  if (!r) return "";
  const id = r.rule_id || r.id || "";
  if (zh()) return RULES_ZH[id] || RULES_ZH[id.split(".")[0]] || r.rule_name || r.name || id;
  return r.rule_name || r.name || id;
}

// num writes a reading as an operator reads it: at most one decimal.
export function num(v) {
  if (typeof v !== "number" || !isFinite(v)) return String(v ?? "");
  const a = Math.abs(v);
  const s = a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(1) : v.toFixed(2);
  return s.replace(/\.0+$/, "").replace(/(\.\d*?)0+$/, "$1");
}

// withUnit: "22.9 %LEL".
export function withUnit(v, metric) {
  const u = unitOf(metric);
  return num(v) + (u ? " " + u : "");
}

// goSeconds reads a Go duration ("168h0m0s", "90s", "1h30m") as seconds.
export function goSeconds(s) {
  if (typeof s === "number") return s;
  const m = String(s || "").match(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g);
  if (!m) return NaN;
  const mult = { ns: 1e-9, us: 1e-6, "µs": 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  return m.reduce((sum, part) => { const [, n, u] = /(\d+(?:\.\d+)?)(\D+)/.exec(part); return sum + Number(n) * mult[u]; }, 0);
}

// goDuration: "168h0m0s" -> "7 天" / "7 d"; "1h30m" -> "1 小时 30 分钟".
export function goDuration(s) {
  const secs = goSeconds(s);
  if (!isFinite(secs)) return String(s || "");
  if (secs === 0) return t("s", { n: 0 });
  const parts = [];
  let rest = secs;
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]]) {
    if (rest >= size) {
      const n = Math.floor(rest / size);
      parts.push(t(unit, { n }));
      rest -= n * size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(" ") || duration(secs);
}

// nominalBound: a rule value given in % of nominal, as the reading's unit.
function nominalBound(c, v) { return c.nominal ? c.nominal * (1 + v / 100) : v; }

// conditionWords says a rule's condition in plain words ("above 20 %LEL").
export function conditionWords(rule) {
  const c = (rule && rule.condition) || {};
  const m = rule && rule.metric;
  const u = (v) => withUnit(nominalBound(c, v), m);
  const Z = zh();
  if (c.rating && /^[<>]=?$/.test(c.op)) return ratingWords(c);
  if (c.minus && /^[<>]=?$/.test(c.op)) {
    const d = withUnit(c.value, m) + (Z ? "（相对" + metricName(c.minus) + "）" : " over the " + metricName(c.minus).toLowerCase());
    return c.op[0] === ">" ? (Z ? "高于 " : "more than ") + d : (Z ? "低于 " : "less than ") + d;
  }
  const rulesOf = (ids) => (ids || []).map((id) => ruleName({ id })).join(Z ? "、" : ", ");
  switch (c.op) {
    case "all": return (c.of || []).map((sub) => conditionWords({ metric: sub.metric || m, condition: sub })).join(Z ? "，且" : " and ");
    case "service_overdue": return Z ? "超过 " + goDuration(c.after) + " 未保养" : "no service for " + goDuration(c.after);
    case "building_count": return Z ? "同一楼栋至少 " + num(c.at_least) + " 处" + rulesOf(c.rules) : "at least " + num(c.at_least) + " in the building: " + rulesOf(c.rules);
    case "building_alarm": return Z ? "本楼栋出现告警：" + rulesOf(c.rules) : "an alarm in its building: " + rulesOf(c.rules);
    case ">": case ">=": return Z ? "高于 " + u(c.value) : "above " + u(c.value);
    case "<": case "<=": return Z ? "低于 " + u(c.value) : "below " + u(c.value);
    case "==": return Z ? "等于 " + u(c.value) : "equal to " + u(c.value);
    case "!=": return Z ? "不等于 " + u(c.value) : "not " + u(c.value);
    case "outside": return Z ? "超出 " + u(c.low) + " ~ " + u(c.high) : "outside " + u(c.low) + " to " + u(c.high);
    case "is": return flagWords(m, c.value !== false);
    case "event": return eventName(c.event);
    case "rate_above": return Z ? "每分钟上升超过 " + withUnit(c.per_minute, m) : "rising faster than " + withUnit(c.per_minute, m) + " a minute";
    case "rate_below": return Z ? "每分钟下降超过 " + withUnit(Math.abs(c.per_minute), m) : "falling faster than " + withUnit(Math.abs(c.per_minute), m) + " a minute";
    case "trend_crosses": return Z ? "按趋势 " + goDuration(c.horizon) + " 内将超过 " + u(c.value) : "heading past " + u(c.value) + " within " + goDuration(c.horizon);
    case "counter_every": return Z ? "每 " + num(c.every) + " 次保养" : "service every " + num(c.every);
    case "stale": return Z ? goDuration(c.after) + " 无数据" : "no data for " + goDuration(c.after);
    case "unchanged": return Z ? "读数长时间不变" : "reading frozen";
    default: return c.op ? c.op + " " + (c.value ?? "") : "";
  }
}

// ratingWords: a threshold in percent of a device's rating ("above the
// breaker rating", "below 90 % of the breaker rating").
function ratingWords(c) {
  const Z = zh();
  const name = RATINGS[c.rating] ? pick(RATINGS[c.rating]) : c.rating;
  const v = Number(c.value) || 0;
  const up = c.op[0] === ">";
  if (v === 0) return (Z ? (up ? "高于" : "低于") : up ? "above the " : "below the ") + name;
  return Z ? (up ? "高于" : "低于") + name + "的 " + num(100 + v) + " %" : (up ? "above " : "below ") + num(100 + v) + " % of the " + name;
}
const RATINGS = { breaker_a: ["breaker rating", "断路器额定电流"] };

function flagWords(metric, on) {
  const words = {
    leak: [["Water detected", "检测到漏水"], ["Dry", "无漏水"]],
    fault: [["The detector reports a fault", "探测器报故障"], ["No fault", "无故障"]],
    door_open: [["Doors open", "门未关"], ["Doors closed", "门已关"]],
    running: [["Running", "运行中"], ["Stopped", "已停止"]],
    door_zone: [["In the door zone", "在平层区"], ["Outside the door zone", "不在平层区"]],
    overload: [["Overloaded", "超载"], ["Not overloaded", "未超载"]],
    load_fault: [["The load-weighing device reports a fault", "称重装置报故障"], ["No fault", "无故障"]],
    inspection: [["In inspection operation", "检修运行中"], ["In normal operation", "正常运行"]],
  }[metric];
  if (words) return pick(on ? words[0] : words[1]);
  return metricName(metric) + (zh() ? (on ? "：是" : "：否") : on ? ": yes" : ": no");
}

// alarmWords: an alarm in plain words with units, from its rule's
// condition (rule may be missing: then the reading alone).
export function alarmWords(a, rule) {
  if (!a) return "";
  const c = (rule && rule.condition) || {};
  const m = a.metric || (rule && rule.metric) || "";
  const Z = zh();
  const sep = Z ? "，" : ", ";
  const peak = typeof a.peak === "number" && (a.peak !== 0 || a.value === 0) ? a.peak : a.value;
  const reading = metricName(m) + " " + withUnit(peak, m);
  const bound = (v) => num(nominalBound(c, v));
  const level = a.level === 1 || a.severity === "critical" ? (Z ? "报警值" : "the alarm level") : Z ? "预警值" : "the warning level";
  if (a.event || c.op === "event") return eventName(a.event || c.event);
  if (c.rating && /^[<>]=?$/.test(c.op)) return metricName(m) + " " + withUnit(a.value, m) + sep + ratingWords(c);
  if (c.minus && /^[<>]=?$/.test(c.op)) return metricName(m) + " " + withUnit(a.value, m) + sep + conditionWords(Object.assign({}, rule, { metric: m }));
  switch (c.op) {
    case ">": case ">=": return reading + sep + (Z ? "超过" + level + " " : "above " + level + " ") + bound(c.value);
    case "<": case "<=": return reading + sep + (Z ? "低于下限 " : "below the limit ") + bound(c.value);
    case "outside": return reading + sep + (Z ? "超出正常范围 " : "outside the normal range ") + bound(c.low) + "–" + withUnit(nominalBound(c, c.high), m);
    case "is": return flagWords(m, true);
    case "rate_above": case "rate_below":
      return metricName(m) + " " + withUnit(a.value, m) + sep + (Z ? "变化过快（每分钟超过 " : "changing fast (more than ") + withUnit(c.per_minute, m) + (Z ? "）" : " a minute)");
    case "trend_crosses":
      return metricName(m) + " " + withUnit(a.value, m) + sep + (Z ? "按趋势将超过 " : "heading past ") + withUnit(c.value, m);
    case "counter_every": return metricName(m) + " " + num(a.value) + sep + (Z ? "已到保养周期" : "service due");
    case "stale": return kindName(a.kind) + (Z ? " " + goDuration(c.after) + " 无数据（离线）" : " sent no data for " + goDuration(c.after) + " (offline)");
    case "unchanged": return metricName(m) + " " + withUnit(a.value, m) + sep + (Z ? "读数长时间不变，传感器可能卡死" : "reading frozen: the sensor may be stuck");
  }
  if (!m) return ruleName(a);
  return ruleName(a) + (Z ? "：" : ": ") + reading;
}

// messageReading reads the metric and value out of an alarm's technical
// message ("Gas above alarm level: B2 boiler room (gas-b2-07) lel_pct =
// 35.5 (>= 20)"), for a sensor ticket whose alarm is no longer live.
export function messageReading(msg) {
  const m = /\b([a-z][a-z0-9_]*) = (-?[\d.]+(?:e[+-]?\d+)?)/.exec(msg || "");
  if (m && METRICS[m[1]]) return { metric: m[1], value: Number(m[2]) };
  const ev = /reported ([a-z_]+)$/.exec(msg || "");
  if (ev) return { event: ev[1] };
  return null;
}

// errorWords: an API error in the user's language by its code; the
// server's English text when the code is not known here.
export function errorWords(e) {
  const tmpl = e && e.code && ERRORS[e.code];
  if (!tmpl) return (e && e.message) || "";
  const p = Object.assign({}, e.params || {});
  if (p.action) p.action = verbName(p.action);
  if (p.field) p.field = FIELDS[p.field] ? pick(FIELDS[p.field]) : p.field;
  if (p.role) p.role = roleName(p.role);
  if (p.status) p.status = t("st_" + p.status);
  if (Array.isArray(p.allowed)) p.allowed = p.allowed.map((s) => t("st_" + s)).join(zh() ? "、" : ", ");
  if (p.assignee === "") p.assignee = zh() ? "其他人" : "someone else";
  let out = pick(tmpl);
  for (const [k, v] of Object.entries(p)) out = out.split("{" + k + "}").join(String(v));
  return out;
}

// The triage queue's refusals and fields.
Object.assign(ERRORS, {
  triage_decided: ["This alarm was {state} already by {by}.", "该告警已由 {by} 处理过。"],
  triage_until_past: ["{field}: must be in the future.", "{field}：必须是将来的时间。"],
  triage_until_far: ["{field}: at most 7 days away.", "{field}：最多 7 天以后。"],
  bad_time: ["{field}: not a date and time.", "{field}：不是有效的日期时间。"],
  too_long: ["{field}: too long.", "{field}：过长。"],
  bad_action: ["{field}: not a known action.", "{field}：未知操作。"],
});
Object.assign(FIELDS, { until: ["Back in the queue at", "重新提醒时间"] });
