package ticketing

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/caretaker-iot/caretaker/internal/config"
)

// Checklists: the safety steps of a kind of job that a technician ticks
// on site (elevator entrapment: power isolated, car levelled, passengers
// out, the time they were freed). A ticket gets the checklist of one of
// its alarms' rules, else (a ticket people reported, with no alarm) the
// one of its category; resolve is refused until every required item is
// checked. Checks are stored per ticket (ticket_checks) with who, when
// and the value, and kept in the ticket's history.

// Value kinds of a checklist item.
const (
	CheckValueNone   = ""
	CheckValueTime   = "time"   // a moment: "14:05" (the site's time, today) or RFC 3339
	CheckValueNumber = "number" // a reading, e.g. the detector's %LEL after the work
	CheckValueText   = "text"   // a few words, e.g. where the leak was
)

// Checklist is the list of checks of a kind of job (caretaker.yaml,
// tickets.checklists).
type Checklist struct {
	// Name identifies the list (elevator_entrapment).
	Name string `json:"name" yaml:"name"`
	// Rules are the rule ids whose alarm tickets get the list; "power-*"
	// is every rule whose id starts with "power-".
	Rules []string `json:"rules,omitempty" yaml:"rules"`
	// Categories are the ticket categories whose tickets without an alarm
	// (reported by people) get the list.
	Categories []string `json:"categories,omitempty" yaml:"categories"`
	// Words in the description of a ticket without an alarm give it the
	// list before its category does: a lift entrapment phoned in is filed
	// as equipment, like a broken door closer. English words and phrases
	// match whole, in any case; Chinese ones anywhere.
	Words []string        `json:"words,omitempty" yaml:"words"`
	Items []ChecklistItem `json:"items" yaml:"items"`
}

// ChecklistItem is one check.
type ChecklistItem struct {
	ID     string `json:"id" yaml:"id"`
	Text   string `json:"text" yaml:"text"`       // English
	TextZH string `json:"text_zh" yaml:"text_zh"` // Chinese
	// Value is what the check takes besides the tick: "" (nothing), time,
	// number or text; a check of an item with a value needs it.
	Value string `json:"value,omitempty" yaml:"value"`
	// Optional items do not hold up the resolution.
	Optional bool `json:"optional,omitempty" yaml:"optional"`
}

// TicketChecklist is a ticket's checklist as it stands (Get).
type TicketChecklist struct {
	Name  string      `json:"name"`
	Items []CheckItem `json:"items"`
	// Missing are the ids of the required items not checked yet; empty:
	// the ticket may be resolved as far as the checklist goes.
	Missing []string `json:"missing"`
}

// CheckItem is an item of a ticket's checklist and its check, if any.
type CheckItem struct {
	ChecklistItem
	Checked bool       `json:"checked"`
	Answer  string     `json:"answer,omitempty"` // the value given with the check
	By      string     `json:"by,omitempty"`
	Role    string     `json:"role,omitempty"`
	At      *time.Time `json:"at,omitempty"`
	// Retired: checked under an item the configuration no longer has;
	// kept as it was recorded.
	Retired bool `json:"retired,omitempty"`
}

// DefaultChecklists are the checklists of caretaker.yaml when
// tickets.checklists is not given: the trade's first steps for the L1
// jobs of the domain (docs/ticketing.md, "Checklists", says where each
// comes from).
func DefaultChecklists() []Checklist {
	return []Checklist{
		{Name: "elevator_entrapment", Rules: []string{"elevator-entrapment", "elevator-stopped-between-floors"},
			Words: []string{"trapped", "entrapment", "stuck in the lift", "stuck in the elevator", "stuck in a lift", "困人", "被困", "关人"}, Items: []ChecklistItem{
				{ID: "power_isolated", Text: "Main power to the lift isolated and locked off", TextZH: "已切断电梯主电源并上锁挂牌"},
				{ID: "car_levelled", Text: "Car moved to a landing and levelled", TextZH: "轿厢已盘车平层"},
				{ID: "passengers_out", Text: "All passengers out, nobody hurt", TextZH: "乘客已全部撤出，无人受伤"},
				{ID: "freed_at", Text: "Time the passengers were freed", TextZH: "乘客解困时间", Value: CheckValueTime},
				{ID: "out_of_service", Text: "Lift kept out of service until checked", TextZH: "电梯停用待检，已张贴告示", Optional: true},
			}},
		{Name: "gas_leak", Categories: []string{"gas"}, Rules: []string{"gas-lel-warning*", "gas-lel-critical*", "gas-co-warning*",
			"gas-co-critical*", "gas-lel-rising*", "gas-co-lel-rising*"}, Words: []string{"gas leak", "gas smell", "smell of gas", "smells of gas", "燃气泄漏", "煤气泄漏", "漏气", "燃气味", "煤气味"}, Items: []ChecklistItem{
			{ID: "area_cleared", Text: "People kept out of the area", TextZH: "已疏散人员并隔离现场"},
			{ID: "main_valve_shut", Text: "Main gas valve shut", TextZH: "已关闭燃气总阀"},
			{ID: "ventilated", Text: "Area ventilated (windows and doors open)", TextZH: "已开窗通风"},
			{ID: "no_ignition", Text: "No ignition sources: no switches, phones or flames near", TextZH: "现场无火源：未开关电器、未使用明火"},
			{ID: "reading_after", Text: "Detector reading after the work, below the alarm level (%LEL)", TextZH: "处理后检测读数，低于报警值（%LEL）", Value: CheckValueNumber},
		}},
		{Name: "water_leak", Rules: []string{"water-leak", "water-leak.*", "water-leak-flood*"},
			Words: []string{"burst pipe", "pipe burst", "water pouring", "flooded", "flooding", "漏水", "爆管", "水管爆", "跑水"}, Items: []ChecklistItem{
				{ID: "water_shut", Text: "Water shut off at the valve", TextZH: "已关闭进水阀门"},
				{ID: "power_isolated", Text: "Power to affected equipment isolated", TextZH: "受影响设备已断电"},
				{ID: "source_found", Text: "Source of the leak found (where)", TextZH: "已找到漏水点（位置）", Value: CheckValueText},
				{ID: "water_cleared", Text: "Standing water cleared", TextZH: "积水已清理", Optional: true},
			}},
		{Name: "power_fault", Rules: []string{"power-outage*", "power-phase-loss*", "power-neutral-loss*", "power-residual-current*",
			"power-overcurrent*"}, Words: []string{"power cut", "power outage", "power failure", "blackout", "停电", "断电"}, Items: []ChecklistItem{
			{ID: "circuit_isolated", Text: "Faulty circuit isolated and tagged", TextZH: "故障回路已断开并挂牌"},
			{ID: "cause_found", Text: "Cause found (where)", TextZH: "已查明故障原因（位置）", Value: CheckValueText},
			{ID: "insulation_ok", Text: "Circuit tested safe before switching back on", TextZH: "送电前已测试线路绝缘正常"},
			{ID: "restored_at", Text: "Time power was restored", TextZH: "恢复供电时间", Value: CheckValueTime},
			{ID: "residents_told", Text: "Affected residents told", TextZH: "已通知受影响业主", Optional: true},
		}},
	}
}

// validCheckID: item ids and checklist names are short words.
func validCheckID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// validateChecklists checks tickets.checklists; the error names the key.
func validateChecklists(lists []Checklist) error {
	names := map[string]bool{}
	for i, c := range lists {
		key := fmt.Sprintf("tickets.checklists[%d]", i)
		switch {
		case !validCheckID(c.Name):
			return config.Errorf(key+".name", "%q must be 1-64 of a-z, 0-9, _ and -", c.Name)
		case names[c.Name]:
			return config.Errorf(key+".name", "%q is listed twice", c.Name)
		case len(c.Rules) == 0 && len(c.Categories) == 0 && len(c.Words) == 0:
			return config.Errorf(key, "needs rules, categories or words: which tickets get the list")
		case len(c.Items) == 0:
			return config.Errorf(key+".items", "at least one item")
		case len(c.Items) > 50:
			return config.Errorf(key+".items", "at most 50 items")
		}
		names[c.Name] = true
		for j, r := range c.Rules {
			if strings.TrimSpace(r) == "" || strings.Contains(strings.TrimSuffix(r, "*"), "*") {
				return config.Errorf(fmt.Sprintf("%s.rules[%d]", key, j), "%q must be a rule id, or a prefix ending in *", r)
			}
		}
		for j, w := range c.Words {
			if strings.TrimSpace(w) == "" || utf8.RuneCountInString(w) > 64 {
				return config.Errorf(fmt.Sprintf("%s.words[%d]", key, j), "%q must be a word or phrase of 1-64 characters", w)
			}
		}
		ids := map[string]bool{}
		for j, it := range c.Items {
			ik := fmt.Sprintf("%s.items[%d]", key, j)
			switch {
			case !validCheckID(it.ID):
				return config.Errorf(ik+".id", "%q must be 1-64 of a-z, 0-9, _ and -", it.ID)
			case ids[it.ID]:
				return config.Errorf(ik+".id", "%q is listed twice", it.ID)
			case strings.TrimSpace(it.Text) == "" || utf8.RuneCountInString(it.Text) > maxShortField:
				return config.Errorf(ik+".text", "required, at most %d characters", maxShortField)
			case utf8.RuneCountInString(it.TextZH) > maxShortField:
				return config.Errorf(ik+".text_zh", "at most %d characters", maxShortField)
			}
			switch it.Value {
			case CheckValueNone, CheckValueTime, CheckValueNumber, CheckValueText:
			default:
				return config.Errorf(ik+".value", "%q is not time, number, text or empty", it.Value)
			}
			ids[it.ID] = true
		}
	}
	return nil
}

func ruleMatches(pattern, rule string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(rule, p)
	}
	return pattern == rule
}

// checklistFor picks the checklist of ticket t: the first whose rules
// match one of the ticket's alarms, else, for a ticket without alarms,
// the first whose words are in its description, else the first of its
// category; nil when none does.
func (s *Service) checklistFor(ctx context.Context, q querier, t Ticket) (*Checklist, error) {
	if len(s.cfg.Checklists) == 0 {
		return nil, nil
	}
	rows, err := q.QueryContext(ctx, "SELECT DISTINCT rule_id FROM alarms WHERE ticket_id = ? ORDER BY rule_id", t.ID)
	if err != nil {
		return nil, fmt.Errorf("rules of ticket %d: %w", t.ID, err)
	}
	var ruleIDs []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			rows.Close()
			return nil, fmt.Errorf("rules of ticket %d: %w", t.ID, err)
		}
		ruleIDs = append(ruleIDs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rules of ticket %d: %w", t.ID, err)
	}
	for i, c := range s.cfg.Checklists {
		for _, p := range c.Rules {
			if slices.ContainsFunc(ruleIDs, func(r string) bool { return ruleMatches(p, r) }) {
				return &s.cfg.Checklists[i], nil
			}
		}
	}
	if len(ruleIDs) > 0 || t.AlarmID != "" {
		return nil, nil
	}
	for i, c := range s.cfg.Checklists {
		if slices.ContainsFunc(c.Words, func(w string) bool { return wordIn(t.Description, w) }) {
			return &s.cfg.Checklists[i], nil
		}
	}
	for i, c := range s.cfg.Checklists {
		if slices.Contains(c.Categories, t.Category) {
			return &s.cfg.Checklists[i], nil
		}
	}
	return nil, nil
}

// wordIn tells whether word (or phrase) w is in text: an ASCII one as
// whole words in any case ("trapped" is not in "untrapped"), any other
// anywhere (Chinese has no spaces between words).
func wordIn(text, w string) bool {
	w = strings.TrimSpace(w)
	if w == "" {
		return false
	}
	for _, r := range w {
		if r > unicode.MaxASCII {
			return strings.Contains(text, w)
		}
	}
	text, w = strings.ToLower(text), strings.ToLower(w)
	for i := 0; ; {
		j := strings.Index(text[i:], w)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(w)
		if (start == 0 || !isWordByte(text[start-1])) && (end == len(text) || !isWordByte(text[end])) {
			return true
		}
		i = start + 1
	}
}

func isWordByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// ticketChecklist is ticket t's checklist with its checks; nil when the
// ticket has none (and no check was ever recorded on it).
func (s *Service) ticketChecklist(ctx context.Context, q querier, t Ticket) (*TicketChecklist, error) {
	list, err := s.checklistFor(ctx, q, t)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT item, checklist, text, text_zh, value_kind, answer, by_name, by_role, at
		FROM ticket_checks WHERE ticket_id = ? ORDER BY at, item`, t.ID)
	if err != nil {
		return nil, fmt.Errorf("checks of ticket %d: %w", t.ID, err)
	}
	defer rows.Close()
	done := map[string]CheckItem{}
	var order []string
	var recorded string
	for rows.Next() {
		var c CheckItem
		var at int64
		if err := rows.Scan(&c.ID, &recorded, &c.Text, &c.TextZH, &c.Value, &c.Answer, &c.By, &c.Role, &at); err != nil {
			return nil, fmt.Errorf("checks of ticket %d: %w", t.ID, err)
		}
		when := fromMS(at)
		c.At, c.Checked = &when, true
		done[c.ID] = c
		order = append(order, c.ID)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("checks of ticket %d: %w", t.ID, err)
	}
	if list == nil && len(done) == 0 {
		return nil, nil
	}
	out := &TicketChecklist{Items: []CheckItem{}, Missing: []string{}}
	if list != nil {
		out.Name = list.Name
		for _, it := range list.Items {
			c, ok := done[it.ID]
			if ok {
				c.ChecklistItem = it // the words as configured now
				delete(done, it.ID)
			} else {
				c = CheckItem{ChecklistItem: it}
				if !it.Optional {
					out.Missing = append(out.Missing, it.ID)
				}
			}
			out.Items = append(out.Items, c)
		}
	} else {
		out.Name = recorded
	}
	for _, id := range order {
		if c, ok := done[id]; ok {
			c.Retired = list != nil
			out.Items = append(out.Items, c)
		}
	}
	return out, nil
}

// validateCheck checks what a check or an uncheck needs (validate).
func (r *ActionRequest) validateCheck() error {
	r.Item = strings.TrimSpace(r.Item)
	r.Value = strings.TrimSpace(r.Value)
	if r.Item == "" {
		return &FieldError{Field: "item", Message: "required: the id of the checklist item", Code: "required"}
	}
	if !validCheckID(r.Item) {
		return &FieldError{Field: "item", Message: fmt.Sprintf("%q is not a checklist item id", quoteShort(r.Item))}
	}
	if utf8.RuneCountInString(r.Value) > maxShortField {
		return &FieldError{Field: "value", Message: fmt.Sprintf("longer than %d characters", maxShortField)}
	}
	if r.Action == ActUncheck && r.Value != "" {
		return &FieldError{Field: "value", Message: "an uncheck takes no value"}
	}
	return nil
}

func quoteShort(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		return string([]rune(s)[:40]) + "…"
	}
	return s
}

// checkItem is the item the action names in the checklist of its
// ticket, or a *FieldError naming the items there are.
func (a *act) checkItem() (*Checklist, ChecklistItem, error) {
	list, err := a.s.checklistFor(a.ctx, a.tx, a.t)
	if err != nil {
		return nil, ChecklistItem{}, err
	}
	if list == nil {
		return nil, ChecklistItem{}, &FieldError{Field: "item", Code: "no_checklist", Params: map[string]any{"number": a.t.Number},
			Message: fmt.Sprintf("ticket %s has no checklist", a.t.Number)}
	}
	for _, it := range list.Items {
		if it.ID == a.req.Item {
			return list, it, nil
		}
	}
	ids := make([]string, len(list.Items))
	for i, it := range list.Items {
		ids[i] = it.ID
	}
	return nil, ChecklistItem{}, &FieldError{Field: "item", Code: "not_an_item", Params: map[string]any{"item": a.req.Item, "items": ids},
		Message: fmt.Sprintf("%q is not an item of the checklist %s (%s)", a.req.Item, list.Name, strings.Join(ids, ", "))}
}

// answer reads the value of a check of item it; the error names "value".
func (a *act) answer(it ChecklistItem) (string, error) {
	v := a.req.Value
	if it.Value == CheckValueNone {
		if v != "" {
			return "", &FieldError{Field: "value", Message: fmt.Sprintf("item %s takes no value", it.ID)}
		}
		return "", nil
	}
	if v == "" {
		return "", &FieldError{Field: "value", Code: "required", Message: fmt.Sprintf("required: item %s needs a %s", it.ID, it.Value)}
	}
	switch it.Value {
	case CheckValueNumber:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f != f || f > 1e9 || f < -1e9 {
			return "", &FieldError{Field: "value", Message: fmt.Sprintf("item %s needs a number, not %q", it.ID, quoteShort(v))}
		}
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	case CheckValueTime:
		at, err := a.clockTime(v)
		if err != nil {
			return "", err
		}
		return at.Format(time.RFC3339), nil
	}
	return v, nil
}

// clockTime reads a time of a check: RFC 3339, or "15:04" in the site's
// zone on the day of the check (the day before, when that would be in
// the future). It may not be in the future, nor more than a day back.
func (a *act) clockTime(v string) (time.Time, error) {
	loc := a.s.siteLocation(a.t.Site)
	now := a.now.In(loc)
	at, err := time.Parse(time.RFC3339, v)
	if err != nil {
		hm, err2 := time.Parse("15:04", v)
		if err2 != nil {
			return time.Time{}, &FieldError{Field: "value", Message: fmt.Sprintf("%q is not a time: give 15:04 (the site's time, today) or RFC 3339", quoteShort(v))}
		}
		at = time.Date(now.Year(), now.Month(), now.Day(), hm.Hour(), hm.Minute(), 0, 0, loc)
		if at.After(now.Add(time.Minute)) {
			at = at.AddDate(0, 0, -1)
		}
	}
	at = at.In(loc)
	switch {
	case at.After(now.Add(5 * time.Minute)):
		return time.Time{}, &FieldError{Field: "value", Message: fmt.Sprintf("%s is in the future", at.Format(time.RFC3339))}
	case at.Before(now.Add(-24 * time.Hour)):
		return time.Time{}, &FieldError{Field: "value", Message: fmt.Sprintf("%s is more than a day ago", at.Format(time.RFC3339))}
	}
	return at, nil
}

// check ticks an item of the ticket's checklist (again: the new value
// and who stand), recording who and when; the history keeps it.
func (a *act) check() error {
	list, it, err := a.checkItem()
	if err != nil {
		return err
	}
	v, err := a.answer(it)
	if err != nil {
		return err
	}
	if _, err := a.tx.ExecContext(a.ctx, `INSERT INTO ticket_checks (ticket_id, item, checklist, text, text_zh, value_kind, answer, by_name, by_role, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (ticket_id, item) DO UPDATE SET checklist = excluded.checklist, text = excluded.text, text_zh = excluded.text_zh,
			value_kind = excluded.value_kind, answer = excluded.answer, by_name = excluded.by_name, by_role = excluded.by_role, at = excluded.at`,
		a.t.ID, it.ID, list.Name, it.Text, it.TextZH, it.Value, v, a.by.Name, a.by.Role, ms(a.now)); err != nil {
		return fmt.Errorf("record check %s: %w", it.ID, err)
	}
	note := "checked " + it.ID + " “" + it.Text + "”"
	if v != "" {
		note += " = " + v
	}
	return a.history(ActCheck, withNote(note, a.req.Note))
}

// uncheck takes a check back (ticked by mistake).
func (a *act) uncheck() error {
	_, it, err := a.checkItem()
	if err != nil {
		return err
	}
	res, err := a.tx.ExecContext(a.ctx, "DELETE FROM ticket_checks WHERE ticket_id = ? AND item = ?", a.t.ID, it.ID)
	if err != nil {
		return fmt.Errorf("take back check %s: %w", it.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return &FieldError{Field: "item", Message: fmt.Sprintf("item %s is not checked", it.ID)}
	}
	return a.history(ActUncheck, withNote("unchecked "+it.ID+" “"+it.Text+"”", a.req.Note))
}

// checklistDone refuses a resolution while a required item of the
// ticket's checklist is not checked, naming them.
func (a *act) checklistDone() error {
	cl, err := a.s.ticketChecklist(a.ctx, a.tx, a.t)
	if err != nil || cl == nil || len(cl.Missing) == 0 {
		return err
	}
	texts := make([]string, 0, len(cl.Missing))
	for _, it := range cl.Items {
		if slices.Contains(cl.Missing, it.ID) {
			texts = append(texts, it.ID+" ("+it.Text+")")
		}
	}
	return &ActionError{Action: ActResolve, Kind: ErrIllegal, Field: "checklist", Code: "checklist_incomplete",
		Params: map[string]any{"number": a.t.Number, "checklist": cl.Name, "items": cl.Missing},
		Reason: fmt.Sprintf("the checklist %s of ticket %s is not complete: check %s first", cl.Name, a.t.Number, strings.Join(texts, ", "))}
}

func (s *Service) siteLocation(site string) *time.Location {
	if s.cfg.SiteLocation != nil {
		if l := s.cfg.SiteLocation(site); l != nil {
			return l
		}
	}
	return s.cfg.Location
}
