package cron

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	// Time zones resolve even where the machine has no zoneinfo files.
	_ "time/tzdata"
)

// Schedule is a parsed cron schedule: the set of minutes, hours, days of
// the month, months and days of the week it fires on.
type Schedule struct {
	minute, hour, dom, month, dow uint64 // bit i set: value i matches
	// domStar, dowStar: the field was "*" (or "?"). As in cron, when
	// both day fields are restricted a day matching either fires.
	domStar, dowStar bool
}

type field struct {
	name     string
	min, max int
	names    map[string]int
}

var (
	minuteField = field{name: "minute", min: 0, max: 59}
	hourField   = field{name: "hour", min: 0, max: 23}
	domField    = field{name: "day of month", min: 1, max: 31}
	monthField  = field{name: "month", min: 1, max: 12, names: map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
	}}
	dowField = field{name: "day of week", min: 0, max: 6, names: map[string]int{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
	}}
)

// descriptors are the named schedules.
var descriptors = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// Parse reads a schedule: five fields (minute, hour, day of month, month,
// day of week) of values, names (JAN, MON), ranges, steps and lists, or
// one of @yearly, @annually, @monthly, @weekly, @daily, @midnight,
// @hourly. A TZ= or CRON_TZ= prefix is refused, as Kubernetes does: the
// zone is the CronJob's timeZone.
func Parse(spec string) (*Schedule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fmt.Errorf("empty schedule; give five fields, e.g. \"*/5 * * * *\"")
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, fmt.Errorf("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
	}
	if strings.HasPrefix(spec, "@") {
		if strings.HasPrefix(spec, "@every") {
			return nil, fmt.Errorf("%q: @every is not supported by skiff yet; give five fields", spec)
		}
		d, ok := descriptors[strings.ToLower(spec)]
		if !ok {
			return nil, fmt.Errorf("unknown descriptor %q; use @yearly, @monthly, @weekly, @daily, @midnight or @hourly", spec)
		}
		spec = d
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return nil, fmt.Errorf("expected exactly 5 fields (minute hour day-of-month month day-of-week), found %d: %q", len(fields), spec)
	}
	s := &Schedule{}
	var err error
	if s.minute, _, err = minuteField.parse(fields[0]); err != nil {
		return nil, err
	}
	if s.hour, _, err = hourField.parse(fields[1]); err != nil {
		return nil, err
	}
	if s.dom, s.domStar, err = domField.parse(fields[2]); err != nil {
		return nil, err
	}
	if s.month, _, err = monthField.parse(fields[3]); err != nil {
		return nil, err
	}
	if s.dow, s.dowStar, err = dowField.parse(fields[4]); err != nil {
		return nil, err
	}
	return s, nil
}

// parse reads one field: a comma-separated list of "*", "?", values or
// ranges, each with an optional "/step". star is whether the field was
// a plain "*" (or "?", or "*/1").
func (f field) parse(expr string) (bits uint64, star bool, err error) {
	items := strings.Split(expr, ",")
	for _, item := range items {
		b, isStar, err := f.parseItem(item)
		if err != nil {
			return 0, false, fmt.Errorf("%s field %q: %w", f.name, expr, err)
		}
		bits |= b
		star = star || (isStar && len(items) == 1)
	}
	return bits, star, nil
}

func (f field) parseItem(item string) (uint64, bool, error) {
	rng, stepText, hasStep := strings.Cut(item, "/")
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepText)
		if err != nil || n <= 0 {
			return 0, false, fmt.Errorf("step %q must be a positive number", stepText)
		}
		step = n
	}
	var lo, hi int
	star := false
	switch {
	case rng == "*" || rng == "?":
		lo, hi, star = f.min, f.max, step == 1
	case strings.Contains(rng, "-"):
		a, b, _ := strings.Cut(rng, "-")
		var err error
		if lo, err = f.value(a); err != nil {
			return 0, false, err
		}
		if hi, err = f.value(b); err != nil {
			return 0, false, err
		}
		if lo > hi {
			return 0, false, fmt.Errorf("range %q starts after it ends", rng)
		}
	default:
		v, err := f.value(rng)
		if err != nil {
			return 0, false, err
		}
		lo, hi = v, v
		if hasStep { // "5/15" is 5, 20, 35, 50
			hi = f.max
		}
	}
	var bits uint64
	for v := lo; v <= hi; v += step {
		bits |= 1 << uint(v)
	}
	return bits, star, nil
}

// value is a number or, for months and days of the week, a name.
func (f field) value(s string) (int, error) {
	if v, ok := f.names[strings.ToLower(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		if f.names != nil {
			return 0, fmt.Errorf("%q is neither a number nor a name", s)
		}
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if v < f.min || v > f.max {
		return 0, fmt.Errorf("%d is out of range %d-%d", v, f.min, f.max)
	}
	return v, nil
}

// LoadLocation resolves a CronJob's timeZone as Kubernetes does: an IANA
// name ("Europe/Berlin", "Etc/UTC"); "Local" is refused, since it would
// mean whatever machine the controller runs on. Empty means the
// controller's own zone.
func LoadLocation(name string) (*time.Location, error) {
	switch {
	case name == "":
		return time.Local, nil
	case strings.EqualFold(name, "Local"):
		return nil, fmt.Errorf("%q: give an explicit IANA time zone such as \"Etc/UTC\" or \"Europe/Berlin\"", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not a known IANA time zone (e.g. \"Etc/UTC\", \"America/New_York\")", name)
	}
	return loc, nil
}
