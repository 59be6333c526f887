package apiserver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/apiserver/storage"
	"github.com/skiff-sh/skiff/apiserver/validation"
	"github.com/skiff-sh/skiff/apiserver/watchcache"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// ref names an object in messages: `pod "web" in namespace "default"`.
type ref struct {
	info      skiffv1.KindInfo
	namespace string
	name      string
}

func (r ref) String() string { return r.what() + r.where() }

// what is `pod "web"`, or `pods` for a list or a watch of the kind.
func (r ref) what() string {
	if r.name == "" && r.info.Plural != "" {
		return r.info.Plural
	}
	return fmt.Sprintf("%s %q", strings.ToLower(r.info.Name), r.name)
}

// where is ` in namespace "default"`, or nothing for kinds outside namespaces.
func (r ref) where() string {
	if !r.info.Namespaced || r.namespace == "" {
		return ""
	}
	return fmt.Sprintf(" in namespace %q", r.namespace)
}

// toStatus maps an error of storage or validation to the gRPC status a
// client sees: every storage sentinel (storage.ErrNotFound, …) and
// validation error becomes its code here. Handlers also return codes of
// their own for what is theirs alone (a bad request, a bind conflict, a
// node that cannot be reached), and apiserver/auth returns
// Unauthenticated and PermissionDenied.
func toStatus(err error, r ref) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var verr validation.Errors
	switch {
	case errors.As(err, &verr):
		return status.Errorf(codes.InvalidArgument, "%s %q is invalid: %v", r.info.Name, r.name, verr)
	case errors.Is(err, storage.ErrNotFound):
		return status.Errorf(codes.NotFound, "%s not found%s", r.what(), r.where())
	case errors.Is(err, storage.ErrExists):
		return status.Errorf(codes.AlreadyExists, "%s already exists%s", r.what(), r.where())
	case errors.Is(err, storage.ErrConflict):
		return status.Errorf(codes.Aborted, "conflict: %s has changed since it was read; read it again and retry", r)
	case errors.Is(err, storage.ErrBadContinue):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, storage.ErrContinueExpired):
		// Kubernetes answers 410 Gone with these words.
		return status.Errorf(codes.OutOfRange, "the provided continue parameter is too old to display a consistent list result (%v); start a new list without the continue parameter", err)
	case errors.Is(err, storage.ErrCompacted):
		return status.Errorf(codes.OutOfRange, "%v; list again and watch from the list's revision", err)
	case errors.Is(err, watchcache.ErrTooSlow):
		return status.Error(codes.ResourceExhausted, err.Error())
	case errors.Is(err, watchcache.ErrStopped):
		return status.Error(codes.Unavailable, err.Error())
	case storage.IsUnavailable(err):
		return status.Errorf(codes.Unavailable, "%s: %v (retry, here or on another server)", r, err)
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Errorf(codes.Internal, "%s: %v", r, err)
}

func invalid(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}
