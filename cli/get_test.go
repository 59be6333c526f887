package cli

import (
	"strings"
	"testing"
)

func TestGetGolden(t *testing.T) {
	r := newRunner(t)
	fixture(t, r)
	for _, tc := range []struct{ name, args string }{
		{"get_pods", "get pods"},
		{"get_pods_wide", "get po -o wide"},
		{"get_pods_all", "get pods -A"},
		{"get_pods_all_wide", "get pods -A -o wide"},
		{"get_pods_selector", "get pods -l app=web"},
		{"get_nodes", "get nodes"},
		{"get_nodes_wide", "get no -o wide"},
		{"get_services", "get svc"},
		{"get_endpoints", "get endpoints"},
		{"get_volumes", "get vol"},
		{"get_volumes_wide", "get volumes -o wide"},
		{"get_pvc", "get pvc logs"},
		{"get_pv", "get pv"},
		{"get_pv_wide", "get pv -o wide"},
		{"get_replicasets", "get rs"},
		{"get_replicasets_wide", "get rs -o wide"},
		{"get_autoscalers", "get as"},
		{"get_events", "get ev"},
		{"get_namespaces", "get ns"},
		{"get_names", "get pods -o name"},
		{"get_two_pods", "get pod web crash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, tc.name, r.ok(strings.Fields(tc.args)...))
		})
	}
}

func TestGetEmptyAndMissing(t *testing.T) {
	r := newRunner(t)
	res := r.run("get", "pods")
	if res.e != nil || res.out != "" || res.err != "No resources found in default namespace.\n" {
		t.Errorf("empty list: %+v", res)
	}
	res = r.run("get", "pods", "-A")
	if res.err != "No resources found\n" {
		t.Errorf("empty -A: %q", res.err)
	}
	res = r.run("get", "pod", "nope")
	if res.e == nil || res.err != "error: pod \"nope\" not found in namespace \"default\"\n" {
		t.Errorf("missing: %+v", res)
	}
	res = r.run("get", "controllerrevisions")
	if res.e == nil || !strings.Contains(res.err, "unknown kind \"controllerrevisions\"; use one of: namespaces (ns), nodes (no), pods (po)") {
		t.Errorf("unknown kind: %q", res.err)
	}
	res = r.run("get", "pods", "--field-selector", "spec.color=red")
	if res.e == nil || !strings.Contains(res.err, "spec.nodeName") {
		t.Errorf("bad field selector: %q", res.err)
	}
}

func TestGetSeveralKinds(t *testing.T) {
	r := newRunner(t)
	fixture(t, r)
	golden(t, "get_several_kinds", r.ok("get", "po,svc,rs"))
	out := r.ok("get", "svc,rs", "-o", "yaml")
	if !strings.Contains(out, "kind: List") || strings.Count(out, "- apiVersion: skiff/v1") != 3 {
		t.Errorf("yaml:\n%s", out)
	}
	if res := r.run("get", "po,svc", "web"); res.e == nil {
		t.Error("names with several kinds accepted")
	}
	// "all" is kubectl's: the same tables as the kinds it stands for.
	if all, kinds := r.ok("get", "all"), r.ok("get", allKinds); all != kinds || !strings.Contains(all, "pod/web") || !strings.Contains(all, "service/") {
		t.Errorf("get all:\n%s\nwant the tables of %s:\n%s", all, allKinds, kinds)
	}
	if res := r.run("get", "all", "-n", "empty"); res.e != nil || !strings.Contains(res.err, "No resources found in empty namespace.") {
		t.Errorf("get all of an empty namespace: %+v", res)
	}
}

// listReads counts the list pages the server read: from etcd, or from
// its watch cache.
func listReads(t *testing.T, r *runner) uint64 {
	t.Helper()
	mfs, err := r.srv.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "skiff_apiserver_watch_cache_lists_total":
				n += uint64(m.GetCounter().GetValue())
			case "skiff_apiserver_etcd_request_duration_seconds":
				for _, l := range m.GetLabel() {
					if l.GetName() == "operation" && l.GetValue() == "list" {
						n += m.GetHistogram().GetSampleCount()
					}
				}
			}
		}
	}
	return n
}

// `get --chunk-size` reads a list in pages and prints what one read
// prints: a single header, columns aligned over every page.
func TestGetChunkSize(t *testing.T) {
	r := newRunner(t)
	fixture(t, r)
	for _, args := range [][]string{{"get", "pods", "-A"}, {"get", "pods", "-A", "-o", "wide"}, {"get", "pods", "-A", "-o", "json"}, {"get", "ev", "-A"}} {
		whole := r.ok(append(args, "--chunk-size", "0")...)
		before := listReads(t, r)
		paged := r.ok(append(args, "--chunk-size", "1")...)
		rows := strings.Count(whole, "\n") - 1
		if args[len(args)-1] == "json" {
			rows = strings.Count(whole, `"kind": "Pod"`)
		}
		if reads := listReads(t, r) - before; rows < 2 || reads < uint64(rows) {
			t.Errorf("%v: %d list reads for %d items in chunks of 1", args, reads, rows)
		}
		if paged != whole {
			t.Errorf("%v: in chunks of 1\n%s\nin one request\n%s", args, paged, whole)
		}
	}
	golden(t, "get_pods_all", r.ok("get", "pods", "-A", "--chunk-size", "2"))
	res := r.run("get", "pods", "--chunk-size", "-1")
	if res.e == nil || !strings.Contains(res.err, "--chunk-size") {
		t.Errorf("negative chunk size: %+v", res)
	}
}
