package cron

import "time"

// searchYears bounds the search for the next time: a schedule such as
// "0 0 30 2 *" (February 30th) never fires.
const searchYears = 5

// Next is the first time after `after` at which the schedule fires, read
// on the wall clock of loc; the zero time if it never does.
//
// Wall-clock times, not instants, are matched, so daylight saving time
// changes behave as for a person reading the clock: a time the change
// skips (02:30 when clocks jump from 02:00 to 03:00) does not happen that
// day, and a time it repeats (01:30 when clocks fall back from 02:00 to
// 01:00) fires once, at its first occurrence.
func (s *Schedule) Next(after time.Time, loc *time.Location) time.Time {
	t := after.In(loc)
	y, mo, d := t.Date()
	startH, startM := t.Hour(), t.Minute()
	for day := 0; day <= searchYears*366; day++ {
		date := time.Date(y, mo, d+day, 12, 0, 0, 0, time.UTC) // date arithmetic only
		if !s.dayMatches(date) {
			continue
		}
		for h := 0; h < 24; h++ {
			if s.hour&(1<<uint(h)) == 0 || (day == 0 && h < startH) {
				continue
			}
			for m := 0; m < 60; m++ {
				if s.minute&(1<<uint(m)) == 0 || (day == 0 && h == startH && m < startM) {
					continue
				}
				at, ok := wallTime(date, h, m, loc)
				if ok && at.After(after) {
					return at
				}
			}
		}
	}
	return time.Time{}
}

// dayMatches: the month matches, and the day of the month or of the week
// (either, when both are restricted, as cron has it).
func (s *Schedule) dayMatches(date time.Time) bool {
	if s.month&(1<<uint(date.Month())) == 0 {
		return false
	}
	dom := s.dom&(1<<uint(date.Day())) != 0
	dow := s.dow&(1<<uint(date.Weekday())) != 0
	if s.domStar || s.dowStar {
		return dom && dow
	}
	return dom || dow
}

// wallTime is the first instant at which loc's clock reads date h:m; ok
// is false when the clock skips that time that day.
func wallTime(date time.Time, h, m int, loc *time.Location) (time.Time, bool) {
	y, mo, d := date.Date()
	at := time.Date(y, mo, d, h, m, 0, 0, loc)
	if !sameWall(at, y, mo, d, h, m) {
		return time.Time{}, false
	}
	// A repeated hour: time.Date may pick either occurrence; take the
	// earlier. Zones shift by at most a few hours.
	for back := 15 * time.Minute; back <= 3*time.Hour; back += 15 * time.Minute {
		if e := at.Add(-back); sameWall(e, y, mo, d, h, m) {
			return e, true
		}
	}
	return at, true
}

func sameWall(t time.Time, y int, mo time.Month, d, h, m int) bool {
	ty, tmo, td := t.Date()
	return ty == y && tmo == mo && td == d && t.Hour() == h && t.Minute() == m
}
