package ticketing

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// StatsQuery selects the tickets of a KPI report: opened in [From, To),
// of one site or all.
type StatsQuery struct {
	From time.Time
	To   time.Time
	Site string
	// Sites, if any, limit the tickets to these sites besides Site.
	Sites []string
}

// Stats is the KPI report (domain.md, "Measures"), overall and per level,
// category and building. Everything is computed from the stored tickets,
// their history and their clocks, so a past month can be recomputed.
type Stats struct {
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Site       string    `json:"site,omitempty"`
	Overall    Summary   `json:"overall"`
	ByLevel    []Group   `json:"by_level"`
	ByCategory []Group   `json:"by_category"`
	ByBuilding []Group   `json:"by_building"`
}

// Group is the summary of the tickets sharing a key (L1, gas, B2...).
type Group struct {
	Key string `json:"key"`
	Summary
}

// Summary holds the measures of a set of tickets. Cancelled tickets count
// in Tickets and Cancelled only.
type Summary struct {
	Tickets   int `json:"tickets"`
	Cancelled int `json:"cancelled"`
	// ResponseTimeliness: dispatch clocks met in time, of those met or
	// overdue (响应及时率).
	ResponseTimeliness Rate `json:"response_timeliness"`
	// OnTimeArrival: arrive clocks met in time, of those met or overdue.
	OnTimeArrival Rate `json:"on_time_arrival"`
	// ClosureRate: closed tickets of those not cancelled (闭环率).
	ClosureRate Rate `json:"closure_rate"`
	// FirstTimeFix: resolved tickets not disputed, not reopened, with no
	// rework and not "not fixed" at callback, of those resolved
	// (一次维修合格率).
	FirstTimeFix Rate `json:"first_time_fix"`
	// RepeatReports: tickets whose place and category had another ticket
	// opened within RepeatWindow before (重复报修率); follow-up tickets
	// (rework, re-inspection) are not reports and are left out.
	RepeatReports Rate `json:"repeat_reports"`
	// Satisfaction: callback scores (满意度); Satisfied is the share of
	// scores 4 and 5.
	Callbacks        int      `json:"callbacks"`
	SatisfactionMean *float64 `json:"satisfaction_mean"`
	Satisfied        Rate     `json:"satisfied"`
	// SensorFirst: tickets a sensor raised before any person reported
	// the fault, of all reports (follow-ups left out); SensorAhead of
	// them later had a person's report merged in.
	SensorFirst Rate `json:"sensor_first"`
	SensorAhead int  `json:"sensor_ahead_of_reports"`
	// Times from the first report, in minutes: to dispatch, on site,
	// resolved.
	ResponseTime   Times `json:"response_time"`
	ArrivalTime    Times `json:"arrival_time"`
	ResolutionTime Times `json:"resolution_time"`
}

// Rate is Num of Den; Value is nil when Den is 0.
type Rate struct {
	Num   int      `json:"num"`
	Den   int      `json:"den"`
	Value *float64 `json:"rate"`
}

// Times is the mean and 90th percentile (nearest rank) of durations, in
// minutes; nil when Count is 0.
type Times struct {
	Count       int      `json:"count"`
	MeanMinutes *float64 `json:"mean_minutes"`
	P90Minutes  *float64 `json:"p90_minutes"`
}

// facts is what the measures need of one ticket.
type facts struct {
	level                         int
	category, building, status    string
	source, outcome               string
	firstReport                   int64
	followUp, reopened, hasRework bool
	repeat, humanMerged           bool
	score, fixed                  sql.NullInt64
	dispatched, arrived, resolved sql.NullInt64
	dispatchDue, dispatchMet      sql.NullInt64
	arriveDue, arriveMet          sql.NullInt64
}

// Stats computes the KPIs of the tickets opened in q's period.
func (s *Service) Stats(ctx context.Context, q StatsQuery) (Stats, error) {
	if q.From.IsZero() || q.To.IsZero() || !q.From.Before(q.To) {
		return Stats{}, &FieldError{Field: "from", Message: "from and to are required, from before to"}
	}
	now := ms(s.now())
	window := s.cfg.RepeatWindow.Milliseconds()
	args := []any{ms(q.From), ms(q.To), window, q.Site}
	inSites := ""
	if len(q.Sites) > 0 {
		marks := make([]string, len(q.Sites))
		for i, site := range q.Sites {
			marks[i] = fmt.Sprintf("?%d", len(args)+1)
			args = append(args, site)
		}
		inSites = " AND t.site IN (" + strings.Join(marks, ", ") + ")"
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT t.level, t.category, t.building, t.status, t.source, t.outcome,
			coalesce(t.first_reported_at, t.created_at),
			t.rework_of IS NOT NULL OR t.reinspection_of IS NOT NULL,
			EXISTS (SELECT 1 FROM ticket_history h WHERE h.ticket_id = t.id AND h.action IN ('reopen', 'reopened')),
			EXISTS (SELECT 1 FROM tickets r WHERE r.rework_of = t.id),
			EXISTS (SELECT 1 FROM tickets p WHERE p.id <> t.id AND p.site = t.site AND p.building = t.building
				AND p.location = t.location AND p.category = t.category AND p.scope = t.scope
				AND (t.scope = 'public' OR (p.unit = t.unit AND p.floor = t.floor AND p.room = t.room))
				AND p.created_at < t.created_at AND p.created_at >= t.created_at - ?3),
			EXISTS (SELECT 1 FROM ticket_history h WHERE h.ticket_id = t.id AND h.action = 'report_merged'),
			t.score, t.fixed,
			(SELECT min(at) FROM ticket_history h WHERE h.ticket_id = t.id AND h.action IN ('assign', 'claim', 'auto_dispatch')),
			(SELECT min(at) FROM ticket_history h WHERE h.ticket_id = t.id AND h.action = 'arrive'),
			(SELECT min(at) FROM ticket_history h WHERE h.ticket_id = t.id AND h.action = 'resolve'),
			d.due_at, d.met_at, a.due_at, a.met_at
		FROM tickets t
		LEFT JOIN ticket_deadlines d ON d.ticket_id = t.id AND d.kind = 'dispatch'
		LEFT JOIN ticket_deadlines a ON a.ticket_id = t.id AND a.kind = 'arrive'
		WHERE t.created_at >= ?1 AND t.created_at < ?2 AND (?4 = '' OR t.site = ?4)`+inSites+`
		ORDER BY t.id`, args...)
	if err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	defer rows.Close()
	var all []facts
	for rows.Next() {
		var f facts
		if err := rows.Scan(&f.level, &f.category, &f.building, &f.status, &f.source, &f.outcome, &f.firstReport,
			&f.followUp, &f.reopened, &f.hasRework, &f.repeat, &f.humanMerged, &f.score, &f.fixed,
			&f.dispatched, &f.arrived, &f.resolved, &f.dispatchDue, &f.dispatchMet, &f.arriveDue, &f.arriveMet); err != nil {
			return Stats{}, fmt.Errorf("stats: %w", err)
		}
		all = append(all, f)
	}
	if err := rows.Err(); err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	st := Stats{From: q.From.UTC(), To: q.To.UTC(), Site: q.Site, Overall: summarize(all, now)}
	st.ByLevel = groups(all, now, func(f facts) string { return "L" + strconv.Itoa(f.level) })
	st.ByCategory = groups(all, now, func(f facts) string { return f.category })
	st.ByBuilding = groups(all, now, func(f facts) string { return f.building })
	return st, nil
}

func groups(all []facts, now int64, key func(facts) string) []Group {
	by := map[string][]facts{}
	for _, f := range all {
		by[key(f)] = append(by[key(f)], f)
	}
	out := make([]Group, 0, len(by))
	for k, fs := range by {
		out = append(out, Group{Key: k, Summary: summarize(fs, now)})
	}
	slices.SortFunc(out, func(a, b Group) int {
		if a.Key < b.Key {
			return -1
		}
		if a.Key > b.Key {
			return 1
		}
		return 0
	})
	return out
}

func summarize(fs []facts, now int64) Summary {
	var s Summary
	var response, arrival, resolution []int64
	var scoreSum int
	onTime := func(r *Rate, due, met sql.NullInt64) {
		switch {
		case !due.Valid:
		case met.Valid:
			r.Den++
			if met.Int64 <= due.Int64 {
				r.Num++
			}
		case due.Int64 <= now:
			r.Den++
		}
	}
	for _, f := range fs {
		s.Tickets++
		if f.status == string(StatusCancelled) {
			s.Cancelled++
			continue
		}
		onTime(&s.ResponseTimeliness, f.dispatchDue, f.dispatchMet)
		onTime(&s.OnTimeArrival, f.arriveDue, f.arriveMet)
		s.ClosureRate.Den++
		if f.status == string(StatusClosed) {
			s.ClosureRate.Num++
		}
		if f.resolved.Valid {
			s.FirstTimeFix.Den++
			notFixed := f.fixed.Valid && f.fixed.Int64 == 0
			if f.outcome != OutcomeDisputed && f.outcome != OutcomeRework && !f.reopened && !f.hasRework && !notFixed {
				s.FirstTimeFix.Num++
			}
		}
		if !f.followUp {
			s.RepeatReports.Den++
			s.SensorFirst.Den++
			if f.repeat {
				s.RepeatReports.Num++
			}
			if f.source == string(SourceSensor) {
				s.SensorFirst.Num++
				if f.humanMerged {
					s.SensorAhead++
				}
			}
		}
		if f.score.Valid {
			s.Callbacks++
			scoreSum += int(f.score.Int64)
			s.Satisfied.Den++
			if f.score.Int64 >= 4 {
				s.Satisfied.Num++
			}
		}
		if f.dispatched.Valid {
			response = append(response, f.dispatched.Int64-f.firstReport)
		}
		if f.arrived.Valid {
			arrival = append(arrival, f.arrived.Int64-f.firstReport)
		}
		if f.resolved.Valid {
			resolution = append(resolution, f.resolved.Int64-f.firstReport)
		}
	}
	for _, r := range []*Rate{&s.ResponseTimeliness, &s.OnTimeArrival, &s.ClosureRate, &s.FirstTimeFix,
		&s.RepeatReports, &s.Satisfied, &s.SensorFirst} {
		if r.Den > 0 {
			v := float64(r.Num) / float64(r.Den)
			r.Value = &v
		}
	}
	if s.Callbacks > 0 {
		v := float64(scoreSum) / float64(s.Callbacks)
		s.SatisfactionMean = &v
	}
	s.ResponseTime, s.ArrivalTime, s.ResolutionTime = times(response), times(arrival), times(resolution)
	return s
}

// times gives mean and nearest-rank p90 of millisecond durations in
// minutes.
func times(ds []int64) Times {
	t := Times{Count: len(ds)}
	if len(ds) == 0 {
		return t
	}
	slices.Sort(ds)
	var sum int64
	for _, d := range ds {
		sum += d
	}
	mean := float64(sum) / float64(len(ds)) / 60000
	rank := int(math.Ceil(0.9*float64(len(ds)))) - 1
	p90 := float64(ds[rank]) / 60000
	t.MeanMinutes, t.P90Minutes = &mean, &p90
	return t
}

// csvHeader is the first line of WriteCSV.
var csvHeader = []string{"group", "key", "tickets", "cancelled", "response_timeliness", "on_time_arrival",
	"closure_rate", "first_time_fix", "repeat_report_rate", "callbacks", "satisfaction_mean", "satisfied_rate",
	"sensor_first_rate", "sensor_ahead_of_reports", "response_mean_min", "response_p90_min", "arrival_mean_min",
	"arrival_p90_min", "resolution_mean_min", "resolution_p90_min"}

// WriteCSV writes the report as CSV: one line overall, then one per
// level, category and building. Rates are shares from 0 to 1; an empty
// cell means there was nothing to measure.
func (st Stats) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	write := func(group, key string, s Summary) error {
		row := []string{group, key, strconv.Itoa(s.Tickets), strconv.Itoa(s.Cancelled),
			rateCell(s.ResponseTimeliness), rateCell(s.OnTimeArrival), rateCell(s.ClosureRate), rateCell(s.FirstTimeFix),
			rateCell(s.RepeatReports), strconv.Itoa(s.Callbacks), numCell(s.SatisfactionMean), rateCell(s.Satisfied),
			rateCell(s.SensorFirst), strconv.Itoa(s.SensorAhead),
			numCell(s.ResponseTime.MeanMinutes), numCell(s.ResponseTime.P90Minutes),
			numCell(s.ArrivalTime.MeanMinutes), numCell(s.ArrivalTime.P90Minutes),
			numCell(s.ResolutionTime.MeanMinutes), numCell(s.ResolutionTime.P90Minutes)}
		for i := range row {
			row[i] = CSVSafe(row[i])
		}
		return cw.Write(row)
	}
	if err := write("overall", "all", st.Overall); err != nil {
		return err
	}
	for _, g := range []struct {
		name string
		gs   []Group
	}{{"level", st.ByLevel}, {"category", st.ByCategory}, {"building", st.ByBuilding}} {
		for _, x := range g.gs {
			if err := write(g.name, x.Key, x.Summary); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// CSVSafe keeps a spreadsheet from taking a cell for a formula: a cell
// that begins with =, +, -, @, a tab or a carriage return (a building
// named =HYPERLINK(...) or +cmd|' /C calc'!A0) gets a leading ' and is
// shown as the text it is. The web UI's own export (reports.js, csvCell)
// follows the same rule.
func CSVSafe(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

func rateCell(r Rate) string { return numCell(r.Value) }

func numCell(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', 4, 64)
}
