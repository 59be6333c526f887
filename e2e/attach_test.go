package e2e

import (
	"strings"
	"testing"
)

// kubectl run -i --rm: the shell reads the input piped to skiff, its
// output comes back, and the pod is gone when skiff returns.
func TestRunInteractiveRemovesPod(t *testing.T) {
	t.Parallel()
	c := newUpCluster(t)
	const image = "127.0.0.1:5000/demo:latest"
	// The demo image's entrypoint is httpd: --command makes sh the command.
	out, err := c.SkiffIn("echo attached-$((40+2))\nexit 7\n", "run", "sh1", "--image="+image, "-i", "--rm",
		"--restart=Never", "--command", "--", "sh")
	if !strings.Contains(out, "attached-42") {
		t.Fatalf("output %q, %v: want attached-42", out, err)
	}
	if err == nil || !strings.Contains(err.Error(), "exit status 7") {
		t.Errorf("skiff run: %v, want the shell's exit status 7", err)
	}
	if !strings.Contains(out, `pod "sh1" deleted`) {
		t.Errorf("output %q: no deletion", out)
	}
	if got, err := c.Skiff("get", "pods"); err != nil || strings.Contains(got, "sh1") {
		t.Errorf("after --rm, get pods: %q, %v", got, err)
	}
}
