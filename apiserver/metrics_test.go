package apiserver_test

import (
	"testing"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
)

func TestMetrics(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	first, err := s.Client.Pods().Create(ctx, pod("web"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.Pods().Create(ctx, pod("web")); err == nil {
		t.Fatal("duplicate create succeeded")
	}
	// From a known revision: a watch "from now" may start after the
	// create below and then never see it.
	w, err := s.Client.Pods().Watch(ctx, client.ListOptions{}, first.Metadata.ResourceVersion)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// The watch is open once it delivers something.
	if _, err := s.Client.Pods().Create(ctx, pod("db")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Next(); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"skiff_apiserver_requests_total":                false,
		"skiff_apiserver_request_duration_seconds":      false,
		"skiff_apiserver_etcd_request_duration_seconds": false,
		"skiff_apiserver_watch_streams":                 false,
		"skiff_apiserver_objects":                       false,
	}
	families, err := s.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if _, ok := want[f.GetName()]; ok {
			want[f.GetName()] = true
		}
	}
	for name, seen := range want {
		if !seen {
			t.Errorf("metric %s missing", name)
		}
	}
	if n := requests(t, s, "/skiff.v1.Objects/Create", "AlreadyExists"); n != 1 {
		t.Errorf("AlreadyExists creates = %v, want 1", n)
	}
}

// requests reads one series of skiff_apiserver_requests_total.
func requests(t *testing.T, s *apitest.Server, method, code string) float64 {
	t.Helper()
	families, err := s.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "skiff_apiserver_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["method"] == method && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
