package cli

import (
	"context"
	"strings"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestGetJSONPath(t *testing.T) {
	r := newRunner(t)
	fixture(t, r)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"list", []string{"get", "pods", "-o", "jsonpath={.items[*].metadata.name}"}, "crash done old pending web"},
		{"first of a list", []string{"get", "pods", "-o", "jsonpath={.items[0].metadata.name}"}, "crash"},
		{"kind of a list", []string{"get", "svc", "-o", "jsonpath={.kind}"}, "List"},
		{"one object", []string{"get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"}, "10.96.1.1"},
		{"maps as JSON", []string{"get", "pod", "web", "-o", "jsonpath={.metadata.labels} {.spec.containers[0].ports[0].containerPort}"}, `{"app":"web"} 8080`},
		{"two names make a list", []string{"get", "pod", "web", "crash", "-o", "jsonpath={.items[*].status.podIP}"}, "10.244.0.5 10.244.0.6"},
		{"range with tabs and newlines", []string{"get", "nodes", "-o",
			`jsonpath={range .items[*]}{.metadata.name}{"\t"}{.status.addresses[0].address}{"\n"}{end}`},
			"node1\t10.0.0.1\nnode2\t10.0.0.2\n"},
		{"filter", []string{"get", "nodes", "-o", `jsonpath={.items[?(@.metadata.name=="node2")].status.addresses[?(@.type=="InternalIP")].address}`}, "10.0.0.2"},
		{"missing key prints nothing", []string{"get", "pods", "-o", "jsonpath=[{.items[*].spec.nodeName}]"}, "[node1 node2 node1 node1]"},
		{"missing key, allowed explicitly", []string{"get", "pod", "pending", "-o", "jsonpath=[{.spec.nodeName}]", "--allow-missing-template-keys=true"}, "[]"},
		{"several kinds", []string{"get", "svc,rs", "-o", `jsonpath={range .items[*]}{.kind}/{.metadata.name} {end}`}, "Service/db Service/web ReplicaSet/web "},
		{"file", []string{"get", "pod", "web", "-o", "jsonpath-file=" + writeFile(t, "tmpl", "{.metadata.name} on {.spec.nodeName}\n")}, "web on node1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := r.run(tc.args...)
			if res.e != nil || res.out != tc.want {
				t.Errorf("skiff %s:\ngot  %q (%v %s)\nwant %q", strings.Join(tc.args, " "), res.out, res.e, res.err, tc.want)
			}
		})
	}
}

func TestGetJSONPathErrors(t *testing.T) {
	r := newRunner(t)
	fixture(t, r)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing key not allowed", []string{"get", "pod", "pending", "-o", "jsonpath={.spec.nodeName}", "--allow-missing-template-keys=false"},
			"error: -o jsonpath: nodeName is not found (in {.spec.nodeName})\n"},
		{"missing key in a list not allowed", []string{"get", "pods", "-o", "jsonpath={.items[*].status.podIP}", "--allow-missing-template-keys=false"},
			"podIP is not found"},
		{"bad template", []string{"get", "pods", "-o", "jsonpath={.items[0}"}, `template "{.items[0}": at offset 9: unexpected '}' in [ ], want ]`},
		{"unclosed range", []string{"get", "pods", "-o", "jsonpath={range .items[*]}{.metadata.name}"}, "at offset 0: {range} has no {end}"},
		{"no template", []string{"get", "pods", "-o", "jsonpath"}, "-o jsonpath needs a template: -o jsonpath='{.metadata.name}'"},
		{"no file", []string{"get", "pods", "-o", "jsonpath-file=/nonexistent/tmpl"}, "-o jsonpath-file: open /nonexistent/tmpl"},
		{"bad column", []string{"get", "pods", "-o", "custom-columns=NAME"}, `column "NAME": want HEADER:PATH`},
		{"bad column path", []string{"get", "pods", "-o", "custom-columns=NAME:.a[x]"}, "column NAME: template"},
		{"unknown format", []string{"get", "pods", "-o", "xml"},
			`--output "xml": use wide, yaml, json, name, jsonpath=TEMPLATE, jsonpath-file=FILE, custom-columns=HEADER:PATH,... or custom-columns-file=FILE`},
		{"unknown format, several kinds", []string{"get", "pods,svc", "-o", "xml"}, `--output "xml": use wide`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := r.run(tc.args...)
			if res.e == nil || !strings.Contains(res.err, tc.want) || res.out != "" {
				t.Errorf("skiff %s: out %q, err %q; want an error with %q", strings.Join(tc.args, " "), res.out, res.err, tc.want)
			}
		})
	}
}

func TestGetCustomColumns(t *testing.T) {
	r := newRunner(t)
	fixture(t, r)
	cols := "custom-columns=NAME:.metadata.name,IP:.status.podIP,NODE:spec.nodeName,PORTS:{.spec.containers[*].ports[*].containerPort}"
	want := "" +
		"NAME      IP           NODE     PORTS\n" +
		"crash     10.244.0.6   node1    <none>\n" +
		"done      <none>       node2    <none>\n" +
		"old       10.244.0.7   node1    <none>\n" +
		"pending   <none>       <none>   <none>\n" +
		"web       10.244.0.5   node1    8080\n"
	if got := r.ok("get", "pods", "-o", cols); got != want {
		t.Errorf("custom-columns:\n%s\nwant:\n%s", got, want)
	}
	headless := strings.SplitN(want, "\n", 2)[1]
	if got := r.ok("get", "pods", "-o", cols, "--no-headers"); got != headless {
		t.Errorf("--no-headers:\n%s\nwant:\n%s", got, headless)
	}
	// Commas inside [ ] and quotes belong to the path.
	union := "custom-columns=NAME:.metadata.name,ADDRS:.status.addresses[?(@.type != 'x,y')]['type','address']"
	if got, want := r.ok("get", "nodes", "-o", union), "NAME    ADDRS\nnode1   InternalIP,Hostname,10.0.0.1,node1\nnode2   InternalIP,10.0.0.2\n"; got != want {
		t.Errorf("union column:\n%q\nwant:\n%q", got, want)
	}
	file := writeFile(t, "cols", "NAME  IMAGES\n.metadata.name   .spec.containers[*].image\n")
	if got, want := r.ok("get", "pod", "web", "crash", "-o", "custom-columns-file="+file), "NAME    IMAGES\nweb     registry.local/web:1\ncrash   busybox:1.36\n"; got != want {
		t.Errorf("custom-columns-file:\n%q\nwant:\n%q", got, want)
	}
	res := r.run("get", "pods", "-n", "empty", "-o", cols)
	if res.e != nil || res.out != "" || res.err != "No resources found in empty namespace.\n" {
		t.Errorf("empty: %+v", res)
	}
	res = r.run("get", "pods", "-n", "empty", "-o", "jsonpath={.kind} of {.items}")
	if res.e != nil || res.out != "List of []" {
		t.Errorf("empty jsonpath: %+v", res)
	}
}

func TestGetWatchTemplates(t *testing.T) {
	r := newRunner(t)
	r.ok("apply", "-f", writeFile(t, "pods.yaml", threePods))
	// watch follows the pods labelled app=x, then labels pod a seen=value.
	watch := func(output, first, value, last string) string {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan result, 1)
		pr, pw := newPipe()
		go func() { done <- r.runWatch(ctx, pw, "get", "pods", "-w", "-l", "app=x", "-o", output) }()
		pr.waitFor(t, first)
		if _, err := r.srv.Client.Pods().Modify(ctx, "default", "a", func(p *skiffv1.Pod) error {
			p.Metadata.Labels["seen"] = value
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		pr.waitFor(t, last)
		cancel()
		if res := <-done; res.e != nil {
			t.Fatalf("watch -o %s: %v %s", output, res.e, res.err)
		}
		return pr.String()
	}
	out := watch(`jsonpath={.metadata.name}={.metadata.labels.seen}{"\n"}`, "b=\n", "yes", "a=yes\n")
	if out != "a=\nb=\na=yes\n" {
		t.Errorf("watch jsonpath:\n%q", out)
	}
	out = watch("custom-columns=NAME:.metadata.name,SEEN:.metadata.labels.seen", "b ", "again", "again")
	if out != "NAME   SEEN\na      yes\nb      <none>\na     again\n" {
		t.Errorf("watch custom-columns:\n%q", out)
	}
}
