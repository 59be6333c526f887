package cli

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestPrintServersWide(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	servers := []*skiffv1.ServerInfo{
		{Name: "server-1", Address: "10.0.0.1:6443", EtcdMember: "server-1", Leader: true, Health: "Healthy",
			Started: timestamppb.New(now.Add(-5 * time.Minute)), MetricsAddress: "10.0.0.1:10260", DnsAddress: "10.0.0.1:53"},
		{Name: "server-2", EtcdMember: "server-2", Health: "Down"},
	}
	var narrow, wide strings.Builder
	if err := printServers(&narrow, servers, false, now); err != nil {
		t.Fatal(err)
	}
	if err := printServers(&wide, servers, true, now); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(narrow.String(), "METRICS") || strings.Contains(narrow.String(), "10.0.0.1:53") {
		t.Errorf("the default table has the wide columns:\n%s", narrow.String())
	}
	want := []string{
		"NAME       ADDRESS         ETCD MEMBER   LEADER   HEALTH    AGE   METRICS          DNS",
		"server-1   10.0.0.1:6443   server-1      *        Healthy   5m    10.0.0.1:10260   10.0.0.1:53",
		"server-2   -               server-2               Down      -     -                -",
	}
	if got := strings.Split(strings.TrimRight(wide.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("wide table:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
