package client

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Resource is the typed API of one kind.
type Resource[T skiffv1.Resource] struct {
	c    *Client
	kind skiffv1.Kind
}

// For returns the typed API of the kind T.
func For[T skiffv1.Resource](c *Client) Resource[T] {
	var zero T
	return Resource[T]{c: c, kind: skiffv1.KindOf(zero)}
}

// Kind is the kind this accessor serves.
func (r Resource[T]) Kind() skiffv1.Kind { return r.kind }

// ListOptions narrow a list or a watch.
type ListOptions struct {
	Namespace     string // empty: every namespace
	LabelSelector string // "app=web,tier!=db"
	FieldSelector string // "spec.nodeName=n1"
}

// DeleteOptions tune a deletion.
type DeleteOptions struct {
	ResourceVersion    string
	UID                string
	Force              bool
	GracePeriodSeconds *int64
	Propagation        string // "Background" (default) or "Orphan"
}

func (r Resource[T]) unwrap(o *skiffv1.Object, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return unwrapAs[T](r.kind, o)
}

func (r Resource[T]) Create(ctx context.Context, obj T) (T, error) {
	return r.unwrap(r.c.api.Create(ctx, &skiffv1.CreateRequest{Object: skiffv1.Wrap(obj)}))
}

func (r Resource[T]) Get(ctx context.Context, namespace, name string) (T, error) {
	return r.unwrap(r.c.api.Get(ctx, &skiffv1.GetRequest{Kind: r.kind, Namespace: namespace, Name: name}))
}

// List returns the matching objects and the revision they were read at,
// read in pages of DefaultChunkSize (see ListAll).
func (r Resource[T]) List(ctx context.Context, opts ListOptions) ([]T, string, error) {
	return r.ListChunked(ctx, opts, DefaultChunkSize)
}

// ListChunked is List in pages of chunk items (0: one request).
func (r Resource[T]) ListChunked(ctx context.Context, opts ListOptions, chunk int64) ([]T, string, error) {
	return listAs[T](ctx, grpcListerWatcher{r.c.api}, r.kind, opts, chunk)
}

// Update replaces metadata and spec; a stale resource version is a conflict.
func (r Resource[T]) Update(ctx context.Context, obj T) (T, error) {
	return r.unwrap(r.c.api.Update(ctx, &skiffv1.UpdateRequest{Object: skiffv1.Wrap(obj)}))
}

// UpdateStatus replaces the status only.
func (r Resource[T]) UpdateStatus(ctx context.Context, obj T) (T, error) {
	return r.unwrap(r.c.api.UpdateStatus(ctx, &skiffv1.UpdateRequest{Object: skiffv1.Wrap(obj)}))
}

// Delete removes an object. deleted is false when a graceful deletion began
// and the object is still there with its deletion timestamp set.
func (r Resource[T]) Delete(ctx context.Context, namespace, name string, opts DeleteOptions) (obj T, deleted bool, err error) {
	resp, err := r.c.api.Delete(ctx, &skiffv1.DeleteRequest{
		Kind: r.kind, Namespace: namespace, Name: name,
		ResourceVersion: opts.ResourceVersion, Uid: opts.UID, Force: opts.Force,
		GracePeriodSeconds: opts.GracePeriodSeconds, Propagation: opts.Propagation,
	})
	if err != nil {
		return obj, false, err
	}
	obj, err = r.unwrap(resp.Object, nil)
	return obj, resp.Deleted, err
}

// Modify reads an object, applies change and writes it back, retrying on
// conflicts. change returning ErrNoChange skips the write.
func (r Resource[T]) Modify(ctx context.Context, namespace, name string, change func(T) error) (T, error) {
	return r.modify(ctx, namespace, name, change, r.Update)
}

// ModifyStatus is Modify for the status.
func (r Resource[T]) ModifyStatus(ctx context.Context, namespace, name string, change func(T) error) (T, error) {
	return r.modify(ctx, namespace, name, change, r.UpdateStatus)
}

func (r Resource[T]) modify(ctx context.Context, namespace, name string, change func(T) error, write func(context.Context, T) (T, error)) (T, error) {
	var out T
	err := RetryOnConflict(ctx, func() error {
		cur, err := r.Get(ctx, namespace, name)
		if err != nil {
			return err
		}
		if err := change(cur); err != nil {
			if err == ErrNoChange {
				out = cur
				return nil
			}
			return err
		}
		out, err = write(ctx, cur)
		return err
	})
	return out, err
}

// IsNotFound, IsConflict and IsAlreadyExists classify API errors.
func IsNotFound(err error) bool      { return status.Code(err) == codes.NotFound }
func IsConflict(err error) bool      { return status.Code(err) == codes.Aborted }
func IsAlreadyExists(err error) bool { return status.Code(err) == codes.AlreadyExists }
func IsCompacted(err error) bool     { return status.Code(err) == codes.OutOfRange }
