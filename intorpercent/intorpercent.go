// Package intorpercent reads the "int or percent" values of Kubernetes
// (a Deployment's maxSurge and maxUnavailable): an absolute count such as
// "2", or a share of a total such as "25%".
package intorpercent

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Value is a parsed count or percentage.
type Value struct {
	n       int
	percent bool
}

// Parse reads "N" or "N%" with N a non-negative integer.
func Parse(s string) (Value, error) {
	num, percent := strings.CutSuffix(s, "%")
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || strings.HasPrefix(num, "+") {
		return Value{}, fmt.Errorf("%q is neither a count nor a percentage (such as 1 or 25%%)", s)
	}
	return Value{n: n, percent: percent}, nil
}

// IsPercent reports whether v is a percentage.
func (v Value) IsPercent() bool { return v.percent }

// Int is the number as written (the percentage itself for a percentage).
func (v Value) Int() int { return v.n }

// Of resolves v against total: a count is itself; a percentage is that
// share of total, rounded up or down.
func (v Value) Of(total int, roundUp bool) int {
	if !v.percent {
		return v.n
	}
	x := float64(v.n) * float64(total) / 100
	if roundUp {
		return int(math.Ceil(x))
	}
	return int(math.Floor(x))
}
