package build

import (
	"bytes"
	"strings"
	"testing"
)

func TestProgressBarPlainLines(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgressBar(&buf, "push app:1")
	for done := int64(0); done <= 1000; done += 50 {
		p.Update(done, 1000)
	}
	p.Finish()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[4], "push app:1 100% (1.0 kB of 1.0 kB)") {
		t.Errorf("plain output:\n%s", buf.String())
	}
	if strings.Contains(buf.String(), "\r") {
		t.Error("carriage returns outside a terminal")
	}
}

func TestQualify(t *testing.T) {
	for in, want := range map[string]string{
		"app:1":                     "127.0.0.1:5000/app:1",
		"team/app:1":                "127.0.0.1:5000/team/app:1",
		"localhost/app":             "localhost/app",
		"registry.example.com/a:1":  "registry.example.com/a:1",
		"10.0.0.1:5000/app@sha256:": "10.0.0.1:5000/app@sha256:",
	} {
		if got := Qualify("127.0.0.1:5000", in); got != want {
			t.Errorf("Qualify(%q) = %q, want %q", in, got, want)
		}
	}
	if HumanBytes(2_600_000) != "2.6 MB" {
		t.Error(HumanBytes(2_600_000))
	}
}
