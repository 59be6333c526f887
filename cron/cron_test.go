package cron

import (
	"strings"
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"", "empty schedule"},
		{"* * * *", "expected exactly 5 fields"},
		{"* * * * * *", "expected exactly 5 fields"},
		{"CRON_TZ=UTC * * * * *", "use timeZone field instead"},
		{"TZ=Europe/Berlin 0 * * * *", "use timeZone field instead"},
		{"60 * * * *", `minute field "60": 60 is out of range 0-59`},
		{"* 24 * * *", "hour field"},
		{"* * 0 * *", "day of month field"},
		{"* * * 13 *", "month field"},
		{"* * * * 7", `day of week field "7": 7 is out of range 0-6`},
		{"* * * FOO *", `"FOO" is neither a number nor a name`},
		{"5-1 * * * *", "starts after it ends"},
		{"*/0 * * * *", "must be a positive number"},
		{"a * * * *", `"a" is not a number`},
		{"@every 5m", "@every is not supported by skiff yet"},
		{"@fortnightly", "unknown descriptor"},
	} {
		_, err := Parse(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", tc.spec, err, tc.want)
		}
	}
}

// next lists the first n times spec fires after from, formatted in loc.
func next(t *testing.T, spec string, from time.Time, loc *time.Location, n int) []string {
	t.Helper()
	s, err := Parse(spec)
	if err != nil {
		t.Fatalf("Parse(%q): %v", spec, err)
	}
	var out []string
	at := from
	for i := 0; i < n; i++ {
		at = s.Next(at, loc)
		if at.IsZero() {
			out = append(out, "never")
			break
		}
		out = append(out, at.In(loc).Format("2006-01-02 15:04 MST Mon"))
	}
	return out
}

func TestNext(t *testing.T) {
	utc := time.UTC
	from := time.Date(2026, 1, 30, 23, 58, 30, 0, utc) // a Friday
	for _, tc := range []struct {
		spec string
		want []string
	}{
		{"* * * * *", []string{"2026-01-30 23:59 UTC Fri", "2026-01-31 00:00 UTC Sat", "2026-01-31 00:01 UTC Sat"}},
		{"*/20 * * * *", []string{"2026-01-31 00:00 UTC Sat", "2026-01-31 00:20 UTC Sat", "2026-01-31 00:40 UTC Sat"}},
		{"5/20 1 * * *", []string{"2026-01-31 01:05 UTC Sat", "2026-01-31 01:25 UTC Sat", "2026-01-31 01:45 UTC Sat", "2026-02-01 01:05 UTC Sun"}},
		{"0 9-17/4 * * MON-FRI", []string{"2026-02-02 09:00 UTC Mon", "2026-02-02 13:00 UTC Mon", "2026-02-02 17:00 UTC Mon", "2026-02-03 09:00 UTC Tue"}},
		{"30 8 * * sat,SUN", []string{"2026-01-31 08:30 UTC Sat", "2026-02-01 08:30 UTC Sun", "2026-02-07 08:30 UTC Sat"}},
		{"0 0 1 JAN-MAR/2 *", []string{"2026-03-01 00:00 UTC Sun", "2027-01-01 00:00 UTC Fri"}},
		// Both day fields restricted: either matches, as in cron.
		{"0 12 13 * 5", []string{"2026-02-06 12:00 UTC Fri", "2026-02-13 12:00 UTC Fri", "2026-02-20 12:00 UTC Fri", "2026-02-27 12:00 UTC Fri", "2026-03-06 12:00 UTC Fri", "2026-03-13 12:00 UTC Fri"}},
		// Day of month restricted, day of week "*": only the 13th.
		{"0 12 13 * *", []string{"2026-02-13 12:00 UTC Fri", "2026-03-13 12:00 UTC Fri"}},
		{"0 12 13 * ?", []string{"2026-02-13 12:00 UTC Fri"}},
		{"0 0 29 2 *", []string{"2028-02-29 00:00 UTC Tue", "2032-02-29 00:00 UTC Sun"}},
		{"0 0 30 2 *", []string{"never"}},
		{"@hourly", []string{"2026-01-31 00:00 UTC Sat", "2026-01-31 01:00 UTC Sat"}},
		{"@daily", []string{"2026-01-31 00:00 UTC Sat", "2026-02-01 00:00 UTC Sun"}},
		{"@midnight", []string{"2026-01-31 00:00 UTC Sat"}},
		{"@weekly", []string{"2026-02-01 00:00 UTC Sun", "2026-02-08 00:00 UTC Sun"}},
		{"@monthly", []string{"2026-02-01 00:00 UTC Sun", "2026-03-01 00:00 UTC Sun"}},
		{"@yearly", []string{"2027-01-01 00:00 UTC Fri"}},
		{"@annually", []string{"2027-01-01 00:00 UTC Fri"}},
		{"  0   6 * * *  ", []string{"2026-01-31 06:00 UTC Sat"}},
	} {
		got := next(t, tc.spec, from, utc, len(tc.want))
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%q after %v:\n got %q\nwant %q", tc.spec, from, got, tc.want)
		}
	}
}

// Daylight saving time: a skipped wall-clock time does not happen that
// day, a repeated one happens once.
func TestNextAcrossDST(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	// 2026-03-08: clocks jump from 02:00 EST to 03:00 EDT.
	spring := time.Date(2026, 3, 7, 12, 0, 0, 0, ny)
	// The 8th's 02:30 does not exist: the next run is on the 9th.
	if got, want := next(t, "30 2 * * *", spring, ny, 2), []string{"2026-03-09 02:30 EDT Mon", "2026-03-10 02:30 EDT Tue"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("spring forward: got %q, want %q", got, want)
	}
	hourly := next(t, "0 * * * *", time.Date(2026, 3, 8, 0, 30, 0, 0, ny), ny, 3)
	if want := []string{"2026-03-08 01:00 EST Sun", "2026-03-08 03:00 EDT Sun", "2026-03-08 04:00 EDT Sun"}; strings.Join(hourly, "|") != strings.Join(want, "|") {
		t.Errorf("hourly over spring forward: got %q, want %q", hourly, want)
	}
	// 2026-11-01: clocks fall back from 02:00 EDT to 01:00 EST.
	fall := next(t, "30 1 * * *", time.Date(2026, 10, 31, 12, 0, 0, 0, ny), ny, 2)
	if want := []string{"2026-11-01 01:30 EDT Sun", "2026-11-02 01:30 EST Mon"}; strings.Join(fall, "|") != strings.Join(want, "|") {
		t.Errorf("fall back: got %q, want %q", fall, want)
	}
	// Every 30 minutes through the repeated hour: each wall time once,
	// so 01:00 and 01:30 EST are not run again, and the real gap between
	// 01:30 EDT and 02:00 EST is 90 minutes.
	halfHourly := next(t, "*/30 * * * *", time.Date(2026, 11, 1, 0, 45, 0, 0, ny), ny, 4)
	if want := []string{"2026-11-01 01:00 EDT Sun", "2026-11-01 01:30 EDT Sun", "2026-11-01 02:00 EST Sun", "2026-11-01 02:30 EST Sun"}; strings.Join(halfHourly, "|") != strings.Join(want, "|") {
		t.Errorf("half-hourly over fall back: got %q, want %q", halfHourly, want)
	}
	// Starting inside the second pass of the repeated hour.
	secondPass := time.Date(2026, 11, 1, 6, 15, 0, 0, time.UTC) // 01:15 EST
	if got := next(t, "*/30 * * * *", secondPass, ny, 1); got[0] != "2026-11-01 02:00 EST Sun" {
		t.Errorf("from the repeated hour's second pass: got %q", got)
	}
	// The same schedule in another zone fires at other instants.
	berlin := mustLoc(t, "Europe/Berlin")
	s, _ := Parse("0 9 * * *")
	from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	if got := s.Next(from, berlin).UTC().Format(time.RFC3339); got != "2026-06-01T07:00:00Z" {
		t.Errorf("09:00 Berlin in summer = %s, want 07:00Z", got)
	}
	if got := s.Next(from, ny).UTC().Format(time.RFC3339); got != "2026-06-01T13:00:00Z" {
		t.Errorf("09:00 New York in summer = %s, want 13:00Z", got)
	}
}

func TestLoadLocation(t *testing.T) {
	if loc, err := LoadLocation("Asia/Kolkata"); err != nil || loc.String() != "Asia/Kolkata" {
		t.Errorf("Asia/Kolkata: %v %v", loc, err)
	}
	if loc, err := LoadLocation(""); err != nil || loc != time.Local {
		t.Errorf("empty: %v %v", loc, err)
	}
	for _, bad := range []string{"Local", "local", "Mars/Olympus", "../etc/passwd", "Europe/Berlin "} {
		if _, err := LoadLocation(bad); err == nil {
			t.Errorf("LoadLocation(%q) accepted", bad)
		}
	}
}
