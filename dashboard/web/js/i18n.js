// English and Simplified Chinese labels. t(key, {n: 3}) fills {n}.

const EN = {
  // The repair flow on the pages: alarm states, the override, the steps
  // after the work, dispatch from the technicians, pages per role.
  as_active_unack: "Active · not acknowledged", as_active_ack: "Active · acknowledged",
  as_cleared_unack: "Cleared · not acknowledged", as_cleared_ack: "Cleared · acknowledged",
  bannerHide: "Hide for now (not acknowledged)", bannerShowHidden: "{n} L1 item(s) hidden, not acknowledged: show them",
  bannerCleared: "cleared at {t}, still not acknowledged", bannerEscalated: "{clock} limit missed: escalated to {to}",
  bannerNewReport: "new L1 report, not dispatched",
  overrideMark: "Resolved by {who} while the alarm was still active: {why}",
  overrideNeeded: "The alarm of this ticket is still active. Resolve it anyway only with a reason: the control room will see it.",
  overrideReason: "Why resolve while the alarm is active", overrideResolve: "Resolve anyway", alarmStillActive: "alarm still active",
  afterWork: "After the work", confirmWork: "Confirm (owner accepts)", disputeWork: "Dispute (re-inspect)",
  callbackTitle: "Callback", score: "Score (1-5)", fixedQ: "Fixed?", yes: "Yes", no: "No", saveCallback: "Record callback",
  reopenTicket: "Reopen", cancelTicket: "Cancel ticket", commentTitle: "Comment", addComment: "Add comment",
  outcomeLbl: "Outcome", scoreLbl: "Callback score", out_confirmed: "confirmed", out_disputed: "disputed", out_rework: "rework", out_cancelled: "cancelled",
  chooseTech: "Choose a technician", techOnDuty: "on duty", techOffDuty: "off duty", techSkilled: "skill fits", techNoSkill: "no matching skill",
  techInZone: "in zone", techOtherZone: "other zone", techOpen: "{n} open", techBest: "best match", autoWhy: "Auto-dispatch: {why}",
  noTechnicians: "No technicians are configured: add technicians or rosters.", techAnyZone: "any zone", techAnySkill: "any skill",
  notYourPage: "This page is not for your role ({role}).", goHome: "Go to your page",
  l1Rule: "This rule opens L1 (emergency) tickets: a change needs a reason and your confirmation.",
  l1Confirm: "Change this L1 rule? {what}", l1Yes: "Yes, change the L1 rule", l1No: "Do not change", l1NeedReason: "A reason is required to change an L1 rule.",
  rollbackReason: "Reason for the rollback",
  levelAsk: "\u201c{w}\u201d may mean an emergency. Is it an L1 emergency?", levelAskYes: "Yes: L1 emergency", levelAskNo: "No: L2 normal",
  levelAskFirst: "Say whether this is an emergency first.",
  due_claim: "claim/accept", due_progress: "progress note", due_callback: "callback",
  title: "Caretaker", login: "Log in", logout: "Log out", token: "Access token",
  badToken: "That token was not accepted.", lang: "中文",
  tooManyTries: "Too many wrong tokens from this address. Try again in {n} s.",
  nav_board: "Control room", nav_report: "Report", nav_tech: "My work", nav_rules: "Rules", nav_reports: "Reports",
  nav_codes: "QR codes",
  nav_daily: "Unfinished",
  live: "live", connecting: "connecting…", offline: "offline",
  offlineSince: "Connection lost at {t}. Reconnecting… what you see may be out of date.",
  handoffsPending: "{n} alarm change(s) not yet stored: the ticket store is refusing them. Retrying; an alarm may have no ticket yet.",
  clusterServedBy: "Served by {me}", clusterLeader: "{p} led by {leader}", clusterNoLeader: "{p}: no leader",
  liveFaults: "Live faults", manualReports: "Manual reports", devices: "Devices",
  number: "No.", level: "Level", place: "Place", device: "Device", description: "Description", age: "Age",
  sla: "SLA", status: "Status", source: "Source", category: "Category", site: "Site", building: "Building",
  floor: "Floor", room: "Room", unit: "Unit", location: "Place", scope: "Scope", assignee: "Technician",
  none: "Nothing open.", all: "All", alarm: "alarm", online: "online", offlineDev: "offline", neverSeen: "never heard from",
  ack: "Acknowledge", acked: "Acknowledged", open: "Open", dispatch: "Dispatch", escalate: "Escalate (change level)",
  escalatedTo: "escalated to {to}", to_team_lead: "team lead", to_supervisor: "supervisor", to_project_manager: "project manager",
  st_new: "New", st_dispatched: "Dispatched", st_accepted: "Accepted", st_on_site: "On site", st_resolved: "Resolved", st_closed: "Closed", st_cancelled: "Cancelled",
  reported: "Reported", reporterLbl: "Reporter", newLevel: "New level", deadlines: "Time limits", clock: "Clock", dueAt: "Due", metAt: "Met",
  clock_claim: "claim", clock_dispatch: "dispatch", clock_arrive: "arrive", clock_close: "close", clock_progress: "progress note", clock_callback: "callback",
  filters: "Filters", bannerL1: "L1 EMERGENCY", dismiss: "Hide for now", soundOn: "Sound on", soundOff: "Sound off",
  dismissHint: "Hides this line on this screen only; it is not acknowledged and stays on the board.",
  bannerMore: "{n} more L1", bannerMine: "Yours", technical: "Technical", tooltipAck: "Acknowledge: the control room has seen it",
  overdue: "{d} overdue", dueIn: "{d} left", due_dispatch: "dispatch", due_arrive: "arrive", due_close: "close",
  s: "{n} s", m: "{n} min", h: "{n} h", d: "{n} d",
  // detail
  back: "Back", history: "History", readings: "Readings around the alarm", noReadings: "No readings stored for this period.",
  technicianName: "Technician name", reason: "Reason", send: "Send", done: "Done.", failed: "Not done: {e}",
  notAvailable: "This server does not offer {what} yet.", photos: "Photos", note: "Note",
  recurrences: "Came back", recurred: "The alarm came back {n} time(s) while this ticket was open; last at {t}, peak {p}.",
  peakLbl: "peak", incidentReports: "Reports", photosN: "{n} photo(s)",
  paged: "Who was paged", noPages: "Nobody paged yet.", pageWho: "Who", pageVia: "Channel", pageState: "State", pageAt: "Time",
  pg_queued: "queued (retrying)", pg_sent: "delivered", pg_failed: "failed", pageTries: "{n} attempt(s)", pageStep: "step {s}",
  pagedWho: "paged {who}", pch_retrying: "retrying", pch_failed: "failed", pch_queued: "queued",
  onDutyNow: "On duty now", dutyNobody: "Nobody is on duty.", dutyAllZones: "all zones",
  dutyByRosters: "By the rosters ({tz}).", dutyByFlags: "By the technicians list (no rosters).",
  // report
  fileReport: "Report a fault", levelAuto: "Let the system decide", scope_public: "Public area", scope_in_home: "Inside a home",
  takePhoto: "Photos (camera)", reporter: "Your name", phone: "Phone", created: "Ticket {n} created.",
  merged: "Added to open ticket {n}.", photosSent: "{n} photo(s) attached.", photosFailed: "Photos not attached: {e}",
  codeForOwner: "Verification code for the owner: {c}", suggested: "Suggested level: L{n}", required: "Required.",
  src_patrol: "Patrol", src_phone: "Phone", src_front_desk: "Front desk", src_resident: "Resident", src_third_party: "Third party", src_sensor: "Sensor",
  cat_water_electric: "Water and electric", cat_civil: "Civil / structural", cat_equipment: "Equipment",
  cat_public_area: "Public-area upkeep", cat_gas: "Gas", cat_fire: "Fire",
  // tech
  myTickets: "My tickets", pool: "Open pool", claim: "Claim", accept: "Accept", arrive: "Arrived", resolve: "Resolve",
  code: "Owner's code", resolution: "What was done", nothingMine: "Nothing assigned to you.", poolEmpty: "The pool is empty.",
  // rules
  rules: "Rules", rule: "Rule", name: "Name", kind: "Kind", metric: "Metric", condition: "Condition", threshold: "Threshold", tolerance: "Tolerance (unchanged within)", clear: "Clear at",
  forDur: "Hold for", clearFor: "Clear after", severity: "Severity", enabled: "Enabled", mode: "Mode", version: "Version",
  edit: "Edit", save: "Save", saved: "Saved as version {v}.", low: "Low", high: "High", value: "Value",
  versions: "Version history", rollback: "Roll back to this", rolledBack: "Rolled back: now version {v}.",
  backtest: "Backtest", from: "From", to: "To", run: "Run", btNoDevice: "No registered device is in this rule's scope ({scope}).", btResult: "{n} alarm(s) with these thresholds, {c} with the current ones.",
  episodes: "Episodes", start: "Start", end: "End", peak: "Peak", noRules: "No rules.", mustNumber: "Must be a number.",
  mustDuration: "Must be a duration such as 10s, 5m or 1h.", lowBelowHigh: "Low must be below high.",
  whoWhen: "Who / when", readOnly: "Only engineers may change rules.", chartNoData: "No history for this period.",
  rollbackReason: "rollback to version {v}", byConfig: "the configuration file", ofNominal: "of the nominal {n}", perMinute: "Change per minute",
  trendWindow: "Trend over (e.g. 24h)", trendHorizon: "Warn this far ahead (e.g. 168h)", serviceEvery: "Service every (count)", staleAfter: "Offline after no data for (e.g. 2m)",
  // reports
  reports: "Reports", kpis: "Key figures", byMonth: "By month", byLevel: "By level", byCategory: "By category", byBuilding: "By building",
  exportCSV: "Export CSV", period: "Period", refresh: "Refresh", tickets: "Tickets",
  nav_floors: "Floors",
  // Checklists, parts and the fee agreed on site, the owner's acceptance.
  checklist: "Checklist", checkRequired: "required", checkOptional: "optional", checkedBy: "✓ {who} · {t}",
  checkQueued: "✓ saved on this phone", checkNeedValue: "Enter the value first.", checkFirst: "Check these first: {items}.",
  checklistDone: "All required checks done.", checklistOpen: "{n} required check(s) to do.", checkRetired: "no longer on the list",
  partsUsed: "Parts used", partName: "Part", partQty: "Qty", addPart: "Add part", removePart: "Remove",
  paidService: "Paid service (fee agreed on site)", feeYuan: "Fee (¥)", feeLbl: "Fee", feeValue: "¥{v}",
  badQty: "A whole number from 1 to 10000.", badFee: "Yuan with at most 2 decimals, from 0 to 100000 (e.g. 12.50).",
  partNameRequired: "Name the part.", acceptTerms: "The owner accepts the work with: {what}", confirmWorkTerms: "Owner confirmed work, parts and fee (by phone)",
  acceptedBy: "{verdict} by {who} ({role}) · {t}", acceptanceLbl: "Acceptance", a_check: "check", a_uncheck: "uncheck",
  // the triage queue of alarms below level 1, and the rules' false-alarm rates
  trTitle: "Waiting for triage", trNone: "Nothing waiting for triage.",
  trHint: "Alarms below level 1 wait here: make a ticket, snooze with a reason, or dismiss a false alarm with a reason. One nobody looks at in time goes to the supervisor.",
  trSince: "active for", trCleared: "cleared by itself", trLeft: "{d} left to triage", trEscalated: "triage time missed by {d}: escalated",
  trSnoozedUntil: "snoozed until {t}", trMakeTicket: "Make ticket", trSnooze: "Snooze…", trDismiss: "False alarm…",
  trUntil: "Back in the queue at", trZone: "site time: {tz}", trSnoozeGo: "Snooze", trWhyFalse: "Why it is a false alarm",
  trDismissGo: "Dismiss as false alarm", trBadTime: "Give a date and time.", trNeedReason: "Say why.",
  trTicketMade: "Ticket {n} made.", trSnoozed: "Snoozed until {t}.", trDismissed: "Dismissed as a false alarm.",
  faCol: "False alarms (30 days)", faRate: "{p}% ({d} of {n})", faNone: "no alarms", faBacktest: "Backtest",
  // the archive's search, the report form's house from the registry, the technician's card
  archiveTitle: "Search the archive", alarmSearchTitle: "Search alarms",
  searchText: "Search: number, place, description or device", searchHint: "e.g. 1201 leak",
  alarmSearchText: "Search: rule, device or message", alarmSearchHint: "e.g. gas B2",
  faultType: "Fault type", fromDay: "From (date)", toDay: "To (date, included)", searchGo: "Search", searchClear: "Clear",
  searching: "Searching…", searchFound: "{n} found.", searchFoundMore: "{n} shown, more below.", searchMore: "Show more",
  searchNone: "No tickets match these filters.", alarmSearchNone: "No alarms match these filters.", unitN: "unit {u}",
  searchNewest: "The newest {n} shown: narrow the search to see older ones.",
  alarmSearchAsk: "Search the alarms of any time: by rule, device or message, level and dates.",
  pickOne: "Choose…", typedNotListed: "“{v}” is not in this site's list: choose from it", pickFloorFirst: "Choose the floor first", cardAge: "Open for {d}", callReporter: "Call {who}", theReporter: "the reporter",
};

const ZH = {
  as_active_unack: "告警中 · 未确认", as_active_ack: "告警中 · 已确认",
  as_cleared_unack: "已恢复 · 未确认", as_cleared_ack: "已恢复 · 已确认",
  bannerHide: "暂时收起（不算确认）", bannerShowHidden: "{n} 条一级告警已收起，仍未确认：重新显示",
  bannerCleared: "已于 {t} 恢复，仍未确认", bannerEscalated: "{clock}超时：已升级至{to}",
  bannerNewReport: "新的一级报事，尚未派单",
  overrideMark: "{who} 在告警未恢复时完工：{why}",
  overrideNeeded: "该工单的告警仍未恢复。如仍要完工，必须填写原因，监控中心会看到。",
  overrideReason: "告警未恢复仍完工的原因", overrideResolve: "仍然完工", alarmStillActive: "告警未恢复",
  afterWork: "完工后处理", confirmWork: "验收通过", disputeWork: "业主有异议（复检）",
  callbackTitle: "回访", score: "评分（1-5）", fixedQ: "是否修好？", yes: "是", no: "否", saveCallback: "记录回访",
  reopenTicket: "重新打开", cancelTicket: "取消工单", commentTitle: "备注", addComment: "添加备注",
  outcomeLbl: "结果", scoreLbl: "回访评分", out_confirmed: "已验收", out_disputed: "有异议", out_rework: "返工", out_cancelled: "已取消",
  chooseTech: "选择维修师傅", techOnDuty: "在岗", techOffDuty: "不在岗", techSkilled: "技能匹配", techNoSkill: "技能不匹配",
  techInZone: "本片区", techOtherZone: "跨片区", techOpen: "在办 {n} 单", techBest: "推荐", autoWhy: "自动派单：{why}",
  noTechnicians: "未配置维修人员：请配置维修人员或排班表。", techAnyZone: "全部片区", techAnySkill: "全部技能",
  notYourPage: "该页面不对您的角色（{role}）开放。", goHome: "前往您的页面",
  l1Rule: "该规则会产生一级（紧急）工单：修改须填写原因并确认。",
  l1Confirm: "确认修改该一级规则？{what}", l1Yes: "确认修改一级规则", l1No: "不修改", l1NeedReason: "修改一级规则必须填写原因。",
  rollbackReason: "回滚原因",
  levelAsk: "描述中的“{w}”可能是紧急情况。是否为一级紧急？", levelAskYes: "是：一级紧急", levelAskNo: "否：二级一般",
  levelAskFirst: "请先确认是否为紧急情况。",
  due_claim: "接单", due_progress: "进度报告", due_callback: "回访",
  title: "物业报修监控", login: "登录", logout: "退出", token: "访问令牌",
  badToken: "令牌无效。", lang: "English",
  tooManyTries: "此地址输错令牌次数过多，请 {n} 秒后再试。",
  nav_board: "监控中心", nav_report: "报事", nav_tech: "我的工单", nav_rules: "告警规则", nav_reports: "统计报表",
  nav_codes: "二维码",
  nav_daily: "遗留工单",
  live: "在线", connecting: "连接中…", offline: "离线",
  offlineSince: "连接已于 {t} 中断，正在重连…当前显示可能不是最新。",
  handoffsPending: "{n} 条告警变更尚未存入：工单存储暂时拒绝写入，正在重试；告警可能还没有工单。",
  clusterServedBy: "本机 {me}", clusterLeader: "{p} 由 {leader} 主控", clusterNoLeader: "{p}：无主控",
  liveFaults: "实时故障", manualReports: "人工报事", devices: "设备",
  number: "编号", level: "等级", place: "位置", device: "设备", description: "描述", age: "时长",
  sla: "时限", status: "状态", source: "来源", category: "类别", site: "项目", building: "楼栋",
  floor: "楼层", room: "房号", unit: "单元", location: "具体位置", scope: "范围", assignee: "维修师傅",
  none: "暂无未结事项。", all: "全部", alarm: "告警", online: "在线", offlineDev: "离线", neverSeen: "从未上报",
  ack: "确认", acked: "已确认", open: "查看", dispatch: "派单", escalate: "升级（调整等级）",
  escalatedTo: "已升级至{to}", to_team_lead: "班组长", to_supervisor: "工程主管", to_project_manager: "项目经理",
  st_new: "待派单", st_dispatched: "已派单", st_accepted: "已接单", st_on_site: "已到场", st_resolved: "已完工", st_closed: "已关闭", st_cancelled: "已取消",
  reported: "报事时间", reporterLbl: "报事人", newLevel: "新等级", deadlines: "时限", clock: "时钟", dueAt: "截止", metAt: "完成",
  clock_claim: "抢单", clock_dispatch: "派单", clock_arrive: "到场", clock_close: "完成", clock_progress: "进度报告", clock_callback: "回访",
  filters: "筛选", bannerL1: "一级紧急告警", dismiss: "暂时隐藏", soundOn: "声音开", soundOff: "声音关",
  dismissHint: "仅在本屏幕隐藏这一条，并不确认告警，告警仍在监控列表中。",
  bannerMore: "另有 {n} 条一级", bannerMine: "我的工单", technical: "技术信息", tooltipAck: "确认：监控中心已知晓",
  overdue: "已超时 {d}", dueIn: "剩余 {d}", due_dispatch: "派单", due_arrive: "到场", due_close: "完成",
  s: "{n} 秒", m: "{n} 分钟", h: "{n} 小时", d: "{n} 天",
  back: "返回", history: "处理记录", readings: "告警前后读数", noReadings: "该时段没有读数。",
  technicianName: "维修师傅", reason: "原因", send: "提交", done: "已完成。", failed: "未完成：{e}",
  notAvailable: "服务器暂不支持{what}。", photos: "照片", note: "备注",
  recurrences: "告警复发", recurred: "工单处理期间告警复发 {n} 次；最近一次 {t}，峰值 {p}。",
  peakLbl: "峰值", incidentReports: "报事记录", photosN: "{n} 张照片",
  paged: "通知记录", noPages: "尚未通知任何人。", pageWho: "通知对象", pageVia: "渠道", pageState: "状态", pageAt: "时间",
  pg_queued: "排队中（重试）", pg_sent: "已送达", pg_failed: "发送失败", pageTries: "尝试 {n} 次", pageStep: "第 {s} 步",
  pagedWho: "已通知 {who}", pch_retrying: "重试中", pch_failed: "失败", pch_queued: "排队中",
  onDutyNow: "当前值班", dutyNobody: "当前无人值班。", dutyAllZones: "全部片区",
  dutyByRosters: "按排班表（{tz}）。", dutyByFlags: "按维修人员名单（未配置排班）。",
  fileReport: "报事报修", levelAuto: "系统判定", scope_public: "公共区域", scope_in_home: "入户",
  takePhoto: "照片（拍照）", reporter: "报事人", phone: "电话", created: "工单 {n} 已创建。",
  merged: "已合并到未结工单 {n}。", photosSent: "已上传 {n} 张照片。", photosFailed: "照片未上传：{e}",
  codeForOwner: "业主验证码：{c}", suggested: "建议等级：L{n}", required: "必填。",
  src_patrol: "巡检发现", src_phone: "电话", src_front_desk: "前台", src_resident: "业主", src_third_party: "第三方平台", src_sensor: "传感器",
  cat_water_electric: "水电", cat_civil: "土建", cat_equipment: "设备",
  cat_public_area: "公共区域维护", cat_gas: "燃气", cat_fire: "消防",
  myTickets: "我的工单", pool: "抢单池", claim: "抢单", accept: "接单", arrive: "已到场", resolve: "完工",
  code: "业主验证码", resolution: "处理情况", nothingMine: "没有分配给你的工单。", poolEmpty: "抢单池为空。",
  rules: "告警规则", rule: "规则", name: "名称", kind: "设备类型", metric: "指标", condition: "条件", threshold: "阈值", tolerance: "容差（在此范围内视为未变化）", clear: "解除阈值",
  forDur: "持续", clearFor: "解除持续", severity: "严重程度", enabled: "启用", mode: "模式", version: "版本",
  edit: "修改", save: "保存", saved: "已保存为第 {v} 版。", low: "下限", high: "上限", value: "值",
  versions: "版本记录", rollback: "回滚到此版本", rolledBack: "已回滚：当前第 {v} 版。",
  backtest: "回测", from: "开始", to: "结束", run: "运行", btNoDevice: "没有已登记的设备在该规则的适用范围内（{scope}）。", btResult: "按新阈值将产生 {n} 次告警，现行阈值 {c} 次。",
  episodes: "告警时段", start: "开始", end: "结束", peak: "峰值", noRules: "没有规则。", mustNumber: "必须是数字。",
  mustDuration: "必须是时长，如 10s、5m、1h。", lowBelowHigh: "下限必须小于上限。",
  whoWhen: "修改人 / 时间", readOnly: "只有工程师可以修改规则。", chartNoData: "该时段没有历史数据。",
  rollbackReason: "回滚到第 {v} 版", byConfig: "配置文件", ofNominal: "（额定 {n}）", perMinute: "每分钟变化",
  trendWindow: "趋势统计时长（如 24h）", trendHorizon: "提前预警时长（如 168h）", serviceEvery: "保养间隔（次数）", staleAfter: "无数据多久算离线（如 2m）",
  reports: "统计报表", kpis: "关键指标", byMonth: "按月", byLevel: "按等级", byCategory: "按类别", byBuilding: "按楼栋",
  exportCSV: "导出 CSV", period: "时段", refresh: "刷新", tickets: "工单",
  nav_floors: "楼层分布",
  checklist: "检查清单", checkRequired: "必做", checkOptional: "选做", checkedBy: "✓ {who} · {t}",
  checkQueued: "✓ 已保存在本机", checkNeedValue: "请先填写数值。", checkFirst: "请先完成以下检查：{items}。",
  checklistDone: "必做检查已全部完成。", checklistOpen: "还有 {n} 项必做检查。", checkRetired: "已不在清单中",
  partsUsed: "使用备件", partName: "备件", partQty: "数量", addPart: "添加备件", removePart: "删除",
  paidService: "有偿服务（现场约定费用）", feeYuan: "费用（元）", feeLbl: "费用", feeValue: "¥{v}",
  badQty: "请填写 1 到 10000 的整数。", badFee: "以元为单位，最多两位小数，0 到 100000（如 12.50）。",
  partNameRequired: "请填写备件名称。", acceptTerms: "业主验收内容：{what}", confirmWorkTerms: "业主确认完工、备件和费用（电话）",
  acceptedBy: "{who}（{role}）{verdict} · {t}", acceptanceLbl: "验收", a_check: "勾选检查项", a_uncheck: "取消检查项",
  trTitle: "待研判告警", trNone: "暂无待研判告警。",
  trHint: "一级以下的告警在此等候研判：转为工单、写明原因暂缓，或写明原因判为误报。超时无人研判将升级至工程主管。",
  trSince: "已持续", trCleared: "已自行恢复", trLeft: "研判剩余 {d}", trEscalated: "超出研判时限 {d}：已升级",
  trSnoozedUntil: "暂缓至 {t}", trMakeTicket: "转为工单", trSnooze: "暂缓…", trDismiss: "误报…",
  trUntil: "重新提醒时间", trZone: "项目当地时间：{tz}", trSnoozeGo: "暂缓", trWhyFalse: "误报原因",
  trDismissGo: "判为误报", trBadTime: "请填写日期和时间。", trNeedReason: "请写明原因。",
  trTicketMade: "已生成工单 {n}。", trSnoozed: "已暂缓至 {t}。", trDismissed: "已判为误报。",
  faCol: "误报率（30 天）", faRate: "{p}%（{n} 次中 {d} 次）", faNone: "无告警", faBacktest: "回测",
  archiveTitle: "工单档案查询", alarmSearchTitle: "告警查询",
  searchText: "搜索：编号、位置、描述或设备", searchHint: "如 1201 漏水",
  alarmSearchText: "搜索：规则、设备或内容", alarmSearchHint: "如 燃气 B2",
  faultType: "故障类型", fromDay: "开始日期", toDay: "结束日期（含当天）", searchGo: "查询", searchClear: "清除",
  searching: "查询中…", searchFound: "找到 {n} 条。", searchFoundMore: "已显示 {n} 条，下方还有。", searchMore: "显示更多",
  searchNone: "没有符合条件的工单。", alarmSearchNone: "没有符合条件的告警。", unitN: "{u} 单元",
  searchNewest: "显示最新 {n} 条：缩小查询范围可查看更早的。",
  alarmSearchAsk: "查询任意时间的告警：按规则、设备或内容，等级和日期。",
  pickOne: "请选择…", typedNotListed: "“{v}”不在本项目的列表中，请从列表中选择", pickFloorFirst: "请先选楼层", cardAge: "已开 {d}", callReporter: "致电 {who}", theReporter: "报事人",
};

const DICTS = { en: EN, "zh-CN": ZH };

let lang = pickLang();
const listeners = new Set();

function pickLang() {
  const saved = localStorage.getItem("caretaker.lang");
  if (saved && DICTS[saved]) return saved;
  return (navigator.language || "").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export function t(key, vars) {
  let out = (DICTS[lang] && DICTS[lang][key]) || EN[key] || key;
  for (const [k, v] of Object.entries(vars || {})) out = out.split("{" + k + "}").join(String(v));
  return out;
}

export function getLang() { return lang; }

export function setLang(l) {
  if (!DICTS[l]) return;
  lang = l;
  localStorage.setItem("caretaker.lang", l);
  document.documentElement.lang = l;
  for (const fn of listeners) fn();
}

export function onLangChange(fn) { listeners.add(fn); }

// applyStatic fills elements marked data-i18n in the page.
export function applyStatic(root) {
  for (const el of (root || document).querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
}

// duration renders seconds as "5 min", "2 h"...
export function duration(secs) {
  secs = Math.abs(secs);
  if (!isFinite(secs)) return "";
  if (secs < 60) return t("s", { n: Math.floor(secs) });
  if (secs < 3600) return t("m", { n: Math.floor(secs / 60) });
  if (secs < 86400) return t("h", { n: Math.floor(secs / 3600) });
  return t("d", { n: Math.floor(secs / 86400) });
}

// ---- sites and their time zones ------------------------------------------
// Every time a person reads is in the site's time zone (GET /api/sites),
// not the browser's: a screen in Berlin shows a Shanghai estate's times
// as the estate lives them.

const sites = { zone: undefined, byId: new Map() };

export function setSites(data) {
  sites.zone = (data && data.time_zone && data.time_zone !== "Local") ? data.time_zone : undefined;
  sites.byId = new Map(((data && data.sites) || []).map((x) => [x.id, x]));
}

// zoneOf is the IANA zone of a site (undefined: the browser's).
export function zoneOf(site) {
  const s = site && sites.byId.get(site);
  return (s && s.time_zone && s.time_zone !== "Local" ? s.time_zone : undefined) || sites.zone;
}

// siteName is the site's name in the user's language, else its id.
export function siteName(id) {
  const s = id && sites.byId.get(id);
  if (!s) return id || "";
  return (lang === "zh-CN" ? s.name || s.name_en : s.name_en || s.name) || id;
}

function fmt(d, site, opts) {
  try {
    return d.toLocaleString(lang, Object.assign({ timeZone: zoneOf(site), hourCycle: "h23" }, opts));
  } catch (_) {
    return d.toLocaleString(lang, opts);
  }
}

// zoneLabel names a time zone in the user's language ("中国标准时间",
// "China Standard Time"), else as given.
export function zoneLabel(zone) {
  if (!zone || zone === "Local") return "";
  try {
    const part = new Intl.DateTimeFormat(lang, { timeZone: zone, timeZoneName: "long" }).formatToParts(new Date()).find((x) => x.type === "timeZoneName");
    return (part && part.value) || zone;
  } catch (_) {
    return zone;
  }
}

// when: date and time in the site's zone.
export function when(ts, site) {
  const d = ts instanceof Date ? ts : new Date(ts);
  if (isNaN(d)) return "";
  return fmt(d, site, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// clockTime: "09:31" in the site's zone.
export function clockTime(ts, site) {
  const d = ts instanceof Date ? ts : new Date(ts);
  if (isNaN(d)) return "";
  return fmt(d, site, { hour: "2-digit", minute: "2-digit" });
}

// wallParts: the wall-clock fields of d in a site's zone.
export function wallParts(d, site) {
  const p = {};
  const f = new Intl.DateTimeFormat("en-US", { timeZone: zoneOf(site), hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  for (const x of f.formatToParts(d)) if (x.type !== "literal") p[x.type] = Number(x.value);
  return p;
}

// localDay: "2026-12-01", the site's date of d.
export function localDay(d, site) {
  const p = wallParts(d, site);
  const z = (x) => String(x).padStart(2, "0");
  return p.year + "-" + z(p.month) + "-" + z(p.day);
}

// localInput: "2026-12-01T08:30" (for a datetime-local field) in the site's zone.
export function localInput(d, site) {
  const p = wallParts(d, site);
  const z = (x) => String(x).padStart(2, "0");
  return p.year + "-" + z(p.month) + "-" + z(p.day) + "T" + z(p.hour % 24) + ":" + z(p.minute);
}

// fromLocal reads "2026-12-01T08:30" as wall-clock time in the site's zone.
export function fromLocal(v, site) {
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d)(?::(\d\d))?)?$/.exec(v || "");
  if (!m) return new Date(NaN);
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0), +(m[6] || 0));
  let at = wall;
  for (let i = 0; i < 2; i++) {
    const p = wallParts(new Date(at), site);
    const seen = Date.UTC(p.year, p.month - 1, p.day, p.hour % 24, p.minute, p.second);
    at += wall - seen;
  }
  return new Date(at);
}

export function label(prefix, value) {
  const key = prefix + "_" + value;
  const out = t(key);
  return out === key ? String(value || "") : out;
}
