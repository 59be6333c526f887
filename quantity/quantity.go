// Package quantity parses and prints resource quantities the way Kubernetes
// writes them: "250m" cpu, "1.5" cores, "128Mi" or "1G" bytes. It is the only
// place that knows the syntax.
package quantity

import (
	"fmt"
	"math"
	"math/big"
	"strings"
)

// Quantity is an amount in thousandths of a unit (milli-units): 250m cpu is
// 250, 1Ki bytes is 1,024,000. The range is about ±9.2e15 units, which is
// plenty for cores and bytes on a node (8 PiB).
type Quantity struct {
	milli int64
}

// suffixes maps each suffix to its multiplier as a rational.
var suffixes = map[string]*big.Rat{
	"n":  big.NewRat(1, 1_000_000_000),
	"u":  big.NewRat(1, 1_000_000),
	"m":  big.NewRat(1, 1000),
	"":   big.NewRat(1, 1),
	"k":  big.NewRat(1_000, 1),
	"M":  big.NewRat(1_000_000, 1),
	"G":  big.NewRat(1_000_000_000, 1),
	"T":  big.NewRat(1_000_000_000_000, 1),
	"P":  big.NewRat(1_000_000_000_000_000, 1),
	"E":  new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)),
	"Ki": big.NewRat(1<<10, 1),
	"Mi": big.NewRat(1<<20, 1),
	"Gi": big.NewRat(1<<30, 1),
	"Ti": big.NewRat(1<<40, 1),
	"Pi": big.NewRat(1<<50, 1),
	"Ei": big.NewRat(1<<60, 1),
}

// Parse reads a quantity: an optional sign, a decimal number, and an optional
// suffix (n u m k M G T P E, Ki Mi Gi Ti Pi Ei) or exponent (1e3).
func Parse(s string) (Quantity, error) {
	bad := func(why string) (Quantity, error) {
		return Quantity{}, fmt.Errorf("%q is not a quantity (%s)", s, why)
	}
	if s == "" {
		return bad("empty")
	}
	num, suf := splitNumber(s)
	if num == "" || num == "+" || num == "-" || num == "." {
		return bad("no number")
	}
	mult, ok := suffixes[suf]
	if !ok {
		if e, ok := parseExponent(suf); ok {
			mult = e
		} else {
			return bad("unknown suffix " + fmt.Sprintf("%q", suf) + "; use m, k, M, G, T, Ki, Mi, Gi, Ti …")
		}
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return bad("malformed number")
	}
	r.Mul(r, mult)
	r.Mul(r, big.NewRat(1000, 1))
	// Round up to whole milli-units, as Kubernetes does.
	q, rem := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if rem.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() || q.Int64() > math.MaxInt64/2 || q.Int64() < math.MinInt64/2 {
		return bad("too large")
	}
	return Quantity{milli: q.Int64()}, nil
}

// MustParse is Parse for constants in code and tests; it panics on error.
func MustParse(s string) Quantity {
	q, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return q
}

func splitNumber(s string) (num, suffix string) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	return s[:i], s[i:]
}

func parseExponent(suf string) (*big.Rat, bool) {
	if len(suf) < 2 || (suf[0] != 'e' && suf[0] != 'E') {
		return nil, false
	}
	var exp int
	if _, err := fmt.Sscanf(suf[1:], "%d", &exp); err != nil || fmt.Sprint(exp) != strings.TrimPrefix(suf[1:], "+") || exp > 18 || exp < -9 {
		return nil, false
	}
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(exp))), nil)
	if exp < 0 {
		return new(big.Rat).SetFrac(big.NewInt(1), p), true
	}
	return new(big.Rat).SetInt(p), true
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

// FromMilli makes a quantity of n thousandths.
func FromMilli(n int64) Quantity { return Quantity{milli: n} }

// FromInt makes a quantity of n whole units.
func FromInt(n int64) Quantity { return Quantity{milli: n * 1000} }

// MilliValue is the amount in thousandths (cpu millicores).
func (q Quantity) MilliValue() int64 { return q.milli }

// Value is the amount in whole units, rounded up (bytes, cores, pods).
func (q Quantity) Value() int64 {
	v := q.milli / 1000
	if q.milli%1000 > 0 {
		v++
	}
	return v
}

// IsZero reports a zero amount.
func (q Quantity) IsZero() bool { return q.milli == 0 }

// Sign is -1, 0 or +1.
func (q Quantity) Sign() int {
	switch {
	case q.milli < 0:
		return -1
	case q.milli > 0:
		return 1
	}
	return 0
}

// Add returns q + o.
func (q Quantity) Add(o Quantity) Quantity { return Quantity{milli: q.milli + o.milli} }

// Sub returns q - o.
func (q Quantity) Sub(o Quantity) Quantity { return Quantity{milli: q.milli - o.milli} }

// Cmp is -1, 0 or +1 as q is less than, equal to or more than o.
func (q Quantity) Cmp(o Quantity) int {
	switch {
	case q.milli < o.milli:
		return -1
	case q.milli > o.milli:
		return 1
	}
	return 0
}

// String prints the shortest exact form: "250m", "2", "128Mi", "1500k".
func (q Quantity) String() string {
	if q.milli%1000 != 0 {
		return fmt.Sprintf("%dm", q.milli)
	}
	v := q.milli / 1000
	if v == 0 {
		return "0"
	}
	for _, s := range []struct {
		suf string
		n   int64
	}{{"Ei", 1 << 60}, {"Pi", 1 << 50}, {"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if v%s.n == 0 && abs64(v) >= s.n {
			return fmt.Sprintf("%d%s", v/s.n, s.suf)
		}
	}
	return fmt.Sprintf("%d", v)
}

// HumanBytes prints a byte count for people: "1.5Gi", "300Mi", "12Ki".
func HumanBytes(b int64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d", b)
	}
	div, exp := int64(unit), 0
	for n := b / unit; n >= unit && exp < 5; n /= unit {
		div *= unit
		exp++
	}
	v := float64(b) / float64(div)
	suffix := []string{"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}[exp]
	if v >= 10 {
		return fmt.Sprintf("%.0f%s", v, suffix)
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0") + suffix
}

func abs64(i int64) int64 {
	if i < 0 {
		return -i
	}
	return i
}
