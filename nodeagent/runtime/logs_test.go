package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLogWriterFormatAndRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w, err := openLogWriter(path, 1000, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := w.record("stdout", false, fmt.Appendf(nil, "line %03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	for _, p := range []string{path, path + ".1", path + ".2"} {
		st, err := os.Stat(p)
		if err != nil || st.Size() > 1000 {
			t.Errorf("%s: %v size %d", p, err, st.Size())
		}
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Error("kept more than 2 old files")
	}
	b, _ := os.ReadFile(path)
	first := strings.SplitN(string(b), "\n", 2)[0]
	r, err := ParseLogLine([]byte(first))
	if err != nil || r.Stream != "stdout" || r.Partial || !strings.HasPrefix(string(r.Text), "line ") {
		t.Errorf("record %q → %+v %v", first, r, err)
	}
	var got []string
	ReadLogs(context.Background(), path, LogOptions{Tail: 5}, func(r LogRecord) error {
		got = append(got, string(r.Text))
		return nil
	})
	if strings.Join(got, ",") != "line 095,line 096,line 097,line 098,line 099" {
		t.Errorf("tail 5: %v", got)
	}
	got = nil
	ReadLogs(context.Background(), path, LogOptions{Tail: 30}, func(r LogRecord) error {
		got = append(got, string(r.Text))
		return nil
	})
	if len(got) != 30 || got[29] != "line 099" || got[0] != "line 070" {
		t.Errorf("tail 30 across rotated files: %v", got)
	}
}

func TestLogWriterSplitsLongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w, _ := openLogWriter(path, 1<<20, 1)
	long := strings.Repeat("x", maxLogLine+10)
	w.copyStream("stderr", strings.NewReader(long+"\nshort\nno-newline"))
	w.Close()
	var recs []LogRecord
	ReadLogs(context.Background(), path, LogOptions{Tail: -1}, func(r LogRecord) error {
		recs = append(recs, r)
		return nil
	})
	if len(recs) != 4 || !recs[0].Partial || recs[1].Partial || len(recs[0].Text)+len(recs[1].Text) != len(long) ||
		string(recs[2].Text) != "short" || string(recs[3].Text) != "no-newline" || recs[3].Stream != "stderr" {
		t.Errorf("records: %d %+v", len(recs), recs[2:])
	}
}

func TestFollowLogsAcrossRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w, _ := openLogWriter(path, 400, 5)
	w.record("stdout", false, []byte("before"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 200)
	done := make(chan error, 1)
	go func() {
		done <- ReadLogs(ctx, path, LogOptions{Tail: 1, Follow: true, PollInterval: 5 * time.Millisecond}, func(r LogRecord) error {
			got <- string(r.Text)
			return nil
		})
	}()
	if s := <-got; s != "before" {
		t.Fatalf("first record %q", s)
	}
	for i := range 40 {
		w.record("stdout", false, fmt.Appendf(nil, "n%02d", i))
		if i%10 == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	for i := range 40 {
		select {
		case s := <-got:
			if want := fmt.Sprintf("n%02d", i); s != want {
				t.Fatalf("record %d = %q, want %q", i, s, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("follow stalled at %d", i)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A follower that falls several rotations behind reads every rotated file
// in turn; it once jumped from the file it held to the newest one and
// lost the records of the files in between.
func TestFollowLogsFallenSeveralRotationsBehind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w, _ := openLogWriter(path, 400, 20)
	w.record("stdout", false, []byte("before"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started, release := make(chan string), make(chan struct{})
	got := make(chan string, 200)
	done := make(chan error, 1)
	go func() {
		first := true
		done <- ReadLogs(ctx, path, LogOptions{Tail: 1, Follow: true, PollInterval: 5 * time.Millisecond}, func(r LogRecord) error {
			if first {
				first = false
				started <- string(r.Text)
				<-release // the follower stalls while the writer rotates
				return nil
			}
			got <- string(r.Text)
			return nil
		})
	}()
	if s := <-started; s != "before" {
		t.Fatalf("first record %q", s)
	}
	for i := range 40 {
		w.record("stdout", false, fmt.Appendf(nil, "n%02d", i))
	}
	if rotations, _ := filepath.Glob(path + ".*"); len(rotations) < 3 {
		t.Fatalf("only %d rotations: the test shows nothing", len(rotations))
	}
	close(release)
	for i := range 40 {
		select {
		case s := <-got:
			if want := fmt.Sprintf("n%02d", i); s != want {
				t.Fatalf("record %d = %q, want %q", i, s, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("follow stalled at %d", i)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
