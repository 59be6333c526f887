package validation

import (
	"regexp"
	"strings"

	"github.com/skiff-sh/skiff/labels"
	"github.com/skiff-sh/skiff/quantity"
)

var (
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	envName          = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)
	portName         = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// IsDNSLabel reports whether s is a DNS-1123 label, as namespace names are.
func IsDNSLabel(s string) bool { return len(s) <= 63 && dns1123Label.MatchString(s) }

// checkLabel checks a DNS-1123 label: lower-case alphanumerics and '-',
// starting and ending alphanumeric, at most 63 characters.
func checkLabel(e *errs, path, s string) {
	switch {
	case s == "":
		e.add(path, "required")
	case !IsDNSLabel(s):
		e.add(path, "%q is not a valid name: lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters", s)
	}
}

// checkSubdomain checks a DNS-1123 subdomain (dot-separated labels, ≤ 253).
func checkSubdomain(e *errs, path, s string) {
	switch {
	case s == "":
		e.add(path, "required")
	case len(s) > 253 || !dns1123Subdomain.MatchString(s):
		e.add(path, "%q is not a valid name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters", s)
	}
}

func checkLabels(e *errs, path string, m map[string]string) {
	for k, v := range m {
		if err := labels.ValidateKey(k); err != nil {
			e.add(path, "%v", err)
		}
		if err := labels.ValidateValue(v); err != nil {
			e.add(path+"."+k, "%v", err)
		}
	}
}

func checkQuantity(e *errs, path, s string) (quantity.Quantity, bool) {
	q, err := quantity.Parse(s)
	if err != nil {
		e.add(path, "%q is not a quantity", s)
		return q, false
	}
	if q.Sign() < 0 {
		e.add(path, "%q must not be negative", s)
		return q, false
	}
	return q, true
}

func checkPort(e *errs, path string, p int32, required bool) {
	if p == 0 && !required {
		return
	}
	if p < 1 || p > 65535 {
		e.add(path, "%d is not a port number (1-65535)", p)
	}
}

func checkOneOf(e *errs, path, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	e.add(path, "%q is not one of %s", v, strings.Join(allowed, ", "))
}
