package controller

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// recorder writes Events about the objects the controllers act on, for
// `skiff describe`. Failing to record one is logged, never fatal.
type recorder struct {
	c      *client.Client
	source string
	log    *slog.Logger
}

func (r *recorder) event(ctx context.Context, kind string, obj skiffv1.Resource, typ, reason, format string, args ...any) {
	m := obj.GetMetadata()
	ns := m.GetNamespace()
	if ns == "" {
		ns = "default" // events about cluster-wide objects (nodes) live there
	}
	now := time.Now()
	ev := &skiffv1.Event{
		Metadata:       &skiffv1.ObjectMeta{Name: fmt.Sprintf("%s.%x", m.GetName(), now.UnixNano()), Namespace: ns},
		InvolvedObject: &skiffv1.ObjectReference{Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName(), Uid: m.GetUid()},
		Type:           typ, Reason: reason, Message: fmt.Sprintf(format, args...),
		Source: r.source, Count: 1,
		FirstTimestamp: timestamppb.New(now), LastTimestamp: timestamppb.New(now),
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := r.c.Events().Create(ctx, ev); err != nil {
		r.log.Debug("event not recorded", "reason", reason, "object", m.GetName(), "err", err)
	}
}
