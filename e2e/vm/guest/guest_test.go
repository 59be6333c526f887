package guest

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseConsole(t *testing.T) {
	console := "\x1b[2Jnoise\r\n" + markBegin + "one\r\nline 1\nline 2\n" + markEnd + "one exit=3\n" +
		"[ 1.0] kernel message\n" + markBegin + "two\n" + markEnd + "two exit=0\n" + markDone + "\n"
	res := parse(console)
	want := []StepResult{{Name: "one", Exit: 3, Output: "line 1\nline 2"}, {Name: "two", Exit: 0}}
	if !res.Done || !reflect.DeepEqual(res.Steps, want) {
		t.Errorf("parse: done=%v steps=%+v", res.Done, res.Steps)
	}
	// A guest that died inside a step: the step has no exit status.
	res = parse(markBegin + "one\npanic\n")
	if res.Done || len(res.Steps) != 1 || res.Steps[0].Exit != -1 || res.Steps[0].Output != "panic" {
		t.Errorf("cut short: %+v", res)
	}
}

func TestScriptRunsEveryStepAndReportsIt(t *testing.T) {
	c := Config{Steps: []Step{{Name: "a", Dir: "/x y", Env: []string{"K=it's"}, Command: "echo 'hi'"}}}
	s := c.script()
	for _, want := range []string{`cd '/x y'`, `env 'K=it'\''s'`, `sh -c 'echo '\''hi'\'''`, markBegin + "a", markEnd + "a exit=$(cat /run/step-0.rc)", markDone, "poweroff -f"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
}
