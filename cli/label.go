package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// metaMapEdit is one `skiff label` or `skiff annotate` run: keys to set
// and keys to remove from one of an object's metadata maps.
type metaMapEdit struct {
	what      string // "label" or "annotation"
	set       map[string]string
	remove    []string
	overwrite bool
	field     func(*skiffv1.ObjectMeta) *map[string]string
}

func newLabelCommand(e *env) *cobra.Command {
	return newMetaMapCommand(e, "label", "label", "labeled", func(m *skiffv1.ObjectMeta) *map[string]string { return &m.Labels },
		`  skiff label node vm disktype=ssd
  skiff label pod web tier=frontend --overwrite
  skiff label pod web tier-                 # remove the label
  skiff label nodes --all zone=a`)
}

func newAnnotateCommand(e *env) *cobra.Command {
	return newMetaMapCommand(e, "annotate", "annotation", "annotated", func(m *skiffv1.ObjectMeta) *map[string]string { return &m.Annotations },
		`  skiff annotate deploy web kubernetes.io/change-cause="image 1.2"
  skiff annotate pod web note-               # remove the annotation`)
}

// newMetaMapCommand makes `skiff VERB`, which edits the metadata map of
// the given field, one entry per KEY=VALUE or KEY- argument.
func newMetaMapCommand(e *env, verb, what, done string, field func(*skiffv1.ObjectMeta) *map[string]string, example string) *cobra.Command {
	var all, overwrite bool
	cmd := &cobra.Command{
		Use:   verb + " KIND NAME|KIND/NAME|KIND --all KEY=VALUE... KEY-...",
		Short: fmt.Sprintf("Set or remove %ss of objects", what),
		Long: fmt.Sprintf(`Set (KEY=VALUE) or remove (KEY-) %ss of one object, or of every object of
a kind in the namespace with --all. Changing the value of an existing %s needs
--overwrite, as kubectl does.`, what, what),
		Example: example,
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if kind, name, ok := strings.Cut(args[0], "/"); ok && !all {
				args = append([]string{kind, name}, args[1:]...)
			}
			info, err := parseKind(args[0])
			if err != nil {
				return err
			}
			var names []string
			rest := args[1:]
			if !all {
				names, rest = rest[:1], rest[1:]
			}
			edit, err := parseMetaMapEdit(what, rest)
			if err != nil {
				return err
			}
			edit.overwrite, edit.field = overwrite, field
			c, err := e.client()
			if err != nil {
				return err
			}
			if all {
				// --request-timeout bounds each page and each object's
				// edit, not the whole run: --all may mean thousands.
				objs, _, err := listEvery(cmd, e, c, info, e.ns(), "", "", client.DefaultChunkSize)
				if err != nil {
					return err
				}
				for _, o := range objs {
					names = append(names, o.GetMetadata().GetName())
				}
			}
			for _, name := range names {
				ctx, cancel := e.call(cmd.Context())
				changed, err := edit.apply(ctx, c, info, e.ns(), name)
				cancel()
				if err != nil {
					return err
				}
				if changed {
					fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", slashName(info, name), done)
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "%s not %s\n", slashName(info, name), done)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "every object of the kind in the namespace")
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, fmt.Sprintf("allow changing the value of an existing %s", what))
	return cmd
}

// parseMetaMapEdit reads KEY=VALUE and KEY- arguments.
func parseMetaMapEdit(what string, args []string) (*metaMapEdit, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("no %ss given: add KEY=VALUE to set one or KEY- to remove one", what)
	}
	edit := &metaMapEdit{what: what, set: map[string]string{}}
	for _, a := range args {
		if key, ok := strings.CutSuffix(a, "-"); ok && !strings.Contains(a, "=") {
			edit.remove = append(edit.remove, key)
			continue
		}
		key, value, ok := strings.Cut(a, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("%q: want KEY=VALUE to set a %s or KEY- to remove it", a, what)
		}
		edit.set[key] = value
	}
	return edit, nil
}

// apply edits one object, retrying on a conflicting write; it reports
// whether anything changed.
func (m *metaMapEdit) apply(ctx context.Context, c *client.Client, info skiffv1.KindInfo, ns, name string) (bool, error) {
	changed := false
	err := client.RetryOnConflict(ctx, func() error {
		obj, err := getObject(ctx, c, info, ns, name)
		if err != nil {
			return err
		}
		field := m.field(obj.GetMetadata())
		changed = false
		for k, v := range m.set {
			old, had := (*field)[k]
			if had && old == v {
				continue
			}
			if had && !m.overwrite {
				return fmt.Errorf("%s %s already has a %s %s=%s; add --overwrite to change it", lower(info), name, m.what, k, old)
			}
			if *field == nil {
				*field = map[string]string{}
			}
			(*field)[k] = v
			changed = true
		}
		for _, k := range m.remove {
			if _, had := (*field)[k]; had {
				delete(*field, k)
				changed = true
			}
		}
		if !changed {
			return nil
		}
		_, err = c.API().Update(ctx, &skiffv1.UpdateRequest{Object: skiffv1.Wrap(obj)})
		return err
	})
	if err != nil && !errors.Is(err, client.ErrNoChange) {
		return false, apiErr(err)
	}
	return changed, nil
}
