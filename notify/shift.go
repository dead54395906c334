package notify

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Shift is a weekly duty window in wall-clock time: on Days, from Start to
// End minutes after midnight. End <= Start crosses midnight; such a shift
// belongs to the day it starts ("fri 20:00-08:00" runs into Saturday
// morning).
type Shift struct {
	Days  [7]bool // indexed by time.Weekday
	Start int     // minutes, 0..1439
	End   int     // minutes, 1..1440
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseShift reads "mon-fri 08:00-20:00", "sat,sun 00:00-24:00",
// "fri-mon 20:00-08:00" (a day range may wrap round the week) or
// "08:00-20:00" (every day).
func ParseShift(s string) (Shift, error) {
	var sh Shift
	fields := strings.Fields(strings.ToLower(s))
	var days, hours string
	switch len(fields) {
	case 1:
		days, hours = "mon-sun", fields[0]
	case 2:
		days, hours = fields[0], fields[1]
	default:
		return sh, errors.New(`want "days hh:mm-hh:mm", e.g. "mon-fri 08:00-20:00"`)
	}
	for _, part := range strings.Split(days, ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, ok := dayNames[from]
		if !ok {
			return sh, fmt.Errorf("%q is not a day (mon tue wed thu fri sat sun)", from)
		}
		b := a
		if isRange {
			if b, ok = dayNames[to]; !ok {
				return sh, fmt.Errorf("%q is not a day (mon tue wed thu fri sat sun)", to)
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			sh.Days[d] = true
			if d == b {
				break
			}
		}
	}
	from, to, ok := strings.Cut(hours, "-")
	if !ok {
		return sh, fmt.Errorf("%q is not hh:mm-hh:mm", hours)
	}
	var err error
	if sh.Start, err = parseClock(from); err != nil {
		return sh, err
	}
	if sh.End, err = parseClock(to); err != nil {
		return sh, err
	}
	if sh.Start == 24*60 {
		return sh, errors.New("a shift cannot start at 24:00")
	}
	if sh.End == sh.Start {
		return sh, errors.New("a shift cannot end when it starts")
	}
	if sh.End == 0 {
		sh.End = 24 * 60 // "08:00-00:00" ends at midnight: the same as 24:00
	}
	return sh, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, fmt.Errorf("%q is not hh:mm", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%q is not hh:mm", s)
	}
	if hh < 0 || hh > 24 {
		return 0, errors.New("hour out of range")
	}
	if mm < 0 || mm > 59 {
		return 0, errors.New("minute out of range")
	}
	if hh == 24 && mm != 0 {
		return 0, errors.New("hour out of range")
	}
	return hh*60 + mm, nil
}

// Covers tells whether the shift is on at t, read as wall-clock time in loc.
func (sh Shift) Covers(t time.Time, loc *time.Location) bool {
	lt := t.In(loc)
	m := lt.Hour()*60 + lt.Minute()
	day := lt.Weekday()
	if sh.End > sh.Start {
		return sh.Days[day] && m >= sh.Start && m < sh.End
	}
	// Crosses midnight: the evening part today, the morning part of the
	// shift that started yesterday.
	yesterday := (day + 6) % 7
	return (sh.Days[day] && m >= sh.Start) || (sh.Days[yesterday] && m < sh.End)
}
