package nodeagent_test

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Logs keep only the records written since a time (sinceTime, or the
// last sinceSeconds) and stop at limitBytes, as kubectl logs --since,
// --since-time and --limit-bytes ask.
func TestLogsSinceAndLimit(t *testing.T) {
	h := newHarness(t)
	h.create(h.pod("talker", "echo early-1; echo early-2; sleep 3; echo late; sleep 600"))
	h.waitPod("talker", "running", func(p *skiffv1.Pod) bool { return container(p).GetState().GetRunning() != nil })
	podio := h.podIO()
	read := func(req *skiffv1.LogsRequest) string {
		t.Helper()
		req.Namespace, req.Pod, req.TailLines = "default", "talker", -1
		stream, err := podio.Logs(h.ctx(), req)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		for {
			m, err := stream.Recv()
			if err == io.EOF {
				return b.String()
			}
			if err != nil {
				t.Fatal(err)
			}
			b.Write(m.Data)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for read(&skiffv1.LogsRequest{}) != "early-1\nearly-2\nlate\n" {
		if time.Now().After(deadline) {
			t.Fatalf("log never became the three lines: %q", read(&skiffv1.LogsRequest{}))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The last line came 3 s after the first two, and just before it was
	// seen: since a moment before that holds it alone.
	sawLate := time.Now()
	if got := read(&skiffv1.LogsRequest{SinceTime: timestamppb.New(sawLate.Add(-2500 * time.Millisecond))}); got != "late\n" {
		t.Errorf("since just before the last line: %q, want it alone", got)
	}
	if got := read(&skiffv1.LogsRequest{SinceSeconds: 3600}); got != "early-1\nearly-2\nlate\n" {
		t.Errorf("since an hour: %q, want everything", got)
	}
	if got := read(&skiffv1.LogsRequest{SinceTime: timestamppb.New(time.Now().Add(time.Hour))}); got != "" {
		t.Errorf("since an hour from now: %q, want nothing", got)
	}
	if got := read(&skiffv1.LogsRequest{SinceTime: timestamppb.New(time.Now().Add(-time.Hour))}); got != "early-1\nearly-2\nlate\n" {
		t.Errorf("since an hour ago: %q, want everything", got)
	}
	if got := read(&skiffv1.LogsRequest{LimitBytes: 10}); got != "early-1\nea" {
		t.Errorf("limit 10 bytes: %q", got)
	}
	stream, err := podio.Logs(h.ctx(), &skiffv1.LogsRequest{Namespace: "default", Pod: "talker", SinceSeconds: 5, SinceTime: timestamppb.Now()})
	if err == nil {
		_, err = stream.Recv()
	}
	if err == nil || !strings.Contains(err.Error(), "give at most one") {
		t.Errorf("sinceSeconds with sinceTime: %v, want a refusal", err)
	}
}
