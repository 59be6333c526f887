package apiserver_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// watchStream is a Watch stream whose context the test holds.
type watchStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (w watchStream) Context() context.Context       { return w.ctx }
func (w watchStream) Send(*skiffv1.WatchEvent) error { return nil }

// A watch whose client deadline passes ends with DeadlineExceeded, never
// as a clean end: the server may see the deadline before the client does,
// and a client reading EOF would take the watch for over.
func TestWatchEndsWithTheDeadlineStatus(t *testing.T) {
	s := apitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := s.Server.Watch(&skiffv1.WatchRequest{Kind: skiffv1.Kind_KIND_POD, Namespace: "default"}, watchStream{ctx: ctx})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("watch past its deadline ended with %v, want DeadlineExceeded", err)
	}
}
