package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/apiserver/auth"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func readEntries(t *testing.T, path string) []Entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: bad line %q: %v", path, sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

func TestRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(Options{Path: path, MaxBytes: 1000, Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	for i := range n {
		if err := l.Log(Entry{Time: time.Unix(int64(i), 0).UTC(), User: "admin", Method: "/m", Name: fmt.Sprint(i), Code: "OK"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Fatalf("more than Keep rotated files: %v", err)
	}
	var all []Entry
	for _, p := range []string{path + ".2", path + ".1", path} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > 1000 {
			t.Errorf("%s is %d bytes, over MaxBytes", p, st.Size())
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", p, st.Mode().Perm())
		}
		all = append(all, readEntries(t, p)...)
	}
	// The kept files hold the newest entries, in order, ending with the last.
	if len(all) == 0 || len(all) >= n {
		t.Fatalf("%d entries kept of %d: rotation dropped nothing or everything", len(all), n)
	}
	first := n - len(all)
	for i, e := range all {
		if e.Name != fmt.Sprint(first+i) {
			t.Fatalf("entry %d is %q, want %d", i, e.Name, first+i)
		}
	}

	// Reopening appends to the live file rather than truncating it.
	before := len(readEntries(t, path))
	l, err = Open(Options{Path: path, MaxBytes: 1 << 20, Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	l.Log(Entry{User: "admin", Method: "/m", Code: "OK"})
	l.Close()
	if got := len(readEntries(t, path)); got != before+1 {
		t.Errorf("after reopen: %d entries, want %d", got, before+1)
	}
}

func TestInterceptorRecordsMutationsOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	ic := &Interceptor{Log: l, Now: func() time.Time { clock = clock.Add(time.Millisecond); return clock }}
	ctx := auth.NewContext(context.Background(), pki.NodeIdentity("n1"))

	ok := func(context.Context, any) (any, error) { return nil, nil }
	denied := func(context.Context, any) (any, error) {
		return nil, status.Error(codes.PermissionDenied, "node:n1 may not update pods/default/web: it is bound to node n2")
	}
	pod := &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Namespace: "default", Name: "web"}}
	calls := []struct {
		method string
		req    any
		h      grpc.UnaryHandler
	}{
		{skiffv1.Objects_List_FullMethodName, &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD}, ok},
		{skiffv1.Objects_Get_FullMethodName, &skiffv1.GetRequest{Kind: skiffv1.Kind_KIND_POD}, ok},
		{skiffv1.Objects_UpdateStatus_FullMethodName, &skiffv1.UpdateRequest{Object: skiffv1.Wrap(pod)}, denied},
		{skiffv1.Objects_Delete_FullMethodName, &skiffv1.DeleteRequest{Kind: skiffv1.Kind_KIND_NODE, Name: "n1"}, ok},
		{skiffv1.Objects_Create_FullMethodName, &skiffv1.CreateRequest{Object: skiffv1.Wrap(pod), DryRun: true}, ok},
		{skiffv1.Usage_Report_FullMethodName, &skiffv1.UsageReport{Node: "n1"}, ok},
	}
	for _, c := range calls {
		ic.Unary(ctx, c.req, &grpc.UnaryServerInfo{FullMethod: c.method}, c.h)
	}
	// A stream: the target comes from its first message.
	exec := &fakeStream{ctx: ctx, msgs: []any{&skiffv1.ExecInput{Start: &skiffv1.ExecStart{Namespace: "default", Pod: "web"}}}}
	ic.Stream(nil, exec, &grpc.StreamServerInfo{FullMethod: skiffv1.PodIO_Exec_FullMethodName}, func(_ any, s grpc.ServerStream) error {
		return s.RecvMsg(&skiffv1.ExecInput{})
	})
	l.Close()

	got := readEntries(t, path)
	if len(got) != 4 {
		t.Fatalf("%d entries, want 4 (reads and usage reports are not recorded): %+v", len(got), got)
	}
	e := got[0]
	if e.User != "node:n1" || e.Method != skiffv1.Objects_UpdateStatus_FullMethodName || e.Kind != "pods" ||
		e.Namespace != "default" || e.Name != "web" || e.Code != "PermissionDenied" || e.DurationMS != 1 ||
		!e.Time.Equal(time.Date(2030, 1, 2, 3, 4, 5, int(time.Millisecond), time.UTC)) || len(e.Groups) != 1 {
		t.Errorf("update entry: %+v", e)
	}
	if e := got[1]; e.Kind != "nodes" || e.Name != "n1" || e.Code != "OK" {
		t.Errorf("delete entry: %+v", e)
	}
	if e := got[2]; e.Method != skiffv1.Objects_Create_FullMethodName || !e.DryRun || got[1].DryRun {
		t.Errorf("dry-run create entry: %+v", e)
	}
	if e := got[3]; e.Method != skiffv1.PodIO_Exec_FullMethodName || e.Kind != "pods" || e.Name != "web" {
		t.Errorf("exec entry: %+v", e)
	}
}

type fakeStream struct {
	grpc.ServerStream
	ctx  context.Context
	msgs []any
}

func (f *fakeStream) Context() context.Context { return f.ctx }

func (f *fakeStream) RecvMsg(m any) error {
	if len(f.msgs) == 0 {
		return status.Error(codes.Canceled, "done")
	}
	in := f.msgs[0].(*skiffv1.ExecInput)
	f.msgs = f.msgs[1:]
	out := m.(*skiffv1.ExecInput)
	out.Start = in.Start
	return nil
}

func TestMutating(t *testing.T) {
	for m, want := range map[string]bool{
		skiffv1.Objects_Create_FullMethodName: true,
		skiffv1.Objects_Bind_FullMethodName:   true,
		skiffv1.Objects_Watch_FullMethodName:  false,
		auth.MethodJoinSignNode:               true,
		"/grpc.health.v1.Health/Check":        false,
		"/skiff.v1.Tokens/Revoke":             true,
	} {
		if Mutating(m) != want {
			t.Errorf("Mutating(%s) = %v", m, !want)
		}
	}
}
