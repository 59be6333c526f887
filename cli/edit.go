package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/cli/manifest"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

const editHeader = `# Please edit the object below. Lines beginning with a '#' will be ignored,
# and an empty file will abort the edit. If an error occurs while saving this file will be
# reopened with the relevant failures.
#
`

func newEditCommand(e *env) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "edit TYPE NAME | TYPE/NAME",
		Short: "Edit a stored object in your editor",
		Long: `Open the object in an editor ($KUBE_EDITOR, else $EDITOR, else vi) as
kubectl edit does, and store what you save. Saving the file unchanged, or
empty, stores nothing. The edit is pinned to the resource version it
started from: a change someone made meanwhile is a conflict. When the
server refuses the edit, the file opens again with the reasons at its top;
closing it unchanged then gives up, keeping your changes in a file whose
name is printed.`,
		Example: `  skiff edit deploy/web
  KUBE_EDITOR="code --wait" skiff edit svc web -o json`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "yaml" && output != "json" {
				return fmt.Errorf("--output must be yaml or json, not %q", output)
			}
			info, name, err := kindAndName(args)
			if err != nil {
				return err
			}
			if name == "" {
				return fmt.Errorf("name the object to edit: skiff edit %s NAME", lower(info))
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := e.call(cmd.Context())
			cur, err := getObject(ctx, c, info, nsFor(info, e.ns()), name)
			cancel()
			if err != nil {
				return apiErr(err)
			}
			original, err := formatObject(cur, output)
			if err != nil {
				return err
			}
			ed := editSession{cmd: cmd, ext: output, original: original}
			return ed.run(func(text []byte) (skiffv1.Resource, error) {
				o, err := decodeEdited(text, cur)
				if err != nil {
					return nil, err
				}
				return replaceOne(cmd.Context(), e, c, o, "none")
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "format to edit in: yaml or json")
	return cmd
}

// formatObject is obj as get -o yaml|json prints it.
func formatObject(obj skiffv1.Resource, format string) ([]byte, error) {
	var b bytes.Buffer
	err := printObjects(&b, format, []skiffv1.Resource{obj}, true)
	return b.Bytes(), err
}

// editSession is one object's round trips through the user's editor.
type editSession struct {
	cmd      *cobra.Command
	ext      string // yaml or json: the file's extension
	original []byte // the object as first shown
}

// run opens the editor until the edit is stored, cancelled, or given up.
func (s editSession) run(store func(text []byte) (skiffv1.Resource, error)) error {
	f, err := os.CreateTemp("", "skiff-edit-*."+s.ext)
	if err != nil {
		return fmt.Errorf("create the file to edit: %w", err)
	}
	path := f.Name()
	f.Close()
	keep := false
	defer func() {
		if !keep {
			os.Remove(path)
		}
	}()

	header, body := editHeader, s.original
	for {
		if err := os.WriteFile(path, append([]byte(header), body...), 0o600); err != nil {
			return fmt.Errorf("write the file to edit: %w", err)
		}
		if err := runEditor(s.cmd, path); err != nil {
			return err
		}
		saved, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read the edited file: %w", err)
		}
		edited := withoutComments(saved)
		switch {
		case len(bytes.TrimSpace(edited)) == 0:
			fmt.Fprintln(s.cmd.ErrOrStderr(), "Edit cancelled, the file was saved empty.")
			return nil
		case bytes.Equal(edited, withoutComments(s.original)):
			fmt.Fprintln(s.cmd.ErrOrStderr(), "Edit cancelled, no changes made.")
			return nil
		case header != editHeader && bytes.Equal(edited, withoutComments(body)):
			// Reopened with an error and closed unchanged: give up.
			keep = true
			return fmt.Errorf("the edit was not stored; your changes are in %s", path)
		}
		obj, err := store(edited)
		if err == nil {
			fmt.Fprintf(s.cmd.OutOrStdout(), "%s edited\n", slashName(infoOf(obj), obj.GetMetadata().GetName()))
			return nil
		}
		var stale staleError
		if errors.As(err, &stale) {
			keep = true
			return fmt.Errorf("someone changed the object since the edit began (at resourceVersion %s); your changes are in %s: run skiff edit again and make them there", stale.resourceVersion, path)
		}
		if isConnectionError(err) {
			keep = true
			return fmt.Errorf("%w\nyour changes are in %s", err, path)
		}
		header, body = editHeader+errorComment(err), edited
	}
}

// runEditor opens path in $KUBE_EDITOR, else $EDITOR, else vi, through
// the shell so that an editor with arguments ("code --wait") works.
func runEditor(cmd *cobra.Command, path string) error {
	editor := os.Getenv("KUBE_EDITOR")
	if editor == "" {
		editor = os.Getenv("EDITOR")
	}
	if editor == "" {
		editor = "vi"
	}
	ed := exec.CommandContext(cmd.Context(), "sh", "-c", editor+` "$1"`, "editor", path)
	ed.Stdin, ed.Stdout, ed.Stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	if err := ed.Run(); err != nil {
		return fmt.Errorf("the editor %q failed: %w; nothing was stored (set KUBE_EDITOR or EDITOR to choose another)", editor, err)
	}
	return nil
}

// withoutComments drops the lines that start with '#'.
func withoutComments(text []byte) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(text, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimLeft(line, " \t"), []byte("#")) {
			out = append(out, line...)
		}
	}
	return out
}

// errorComment is err as comment lines for the top of the reopened file.
func errorComment(err error) string {
	var b strings.Builder
	b.WriteString("# The edit could not be stored:\n")
	for _, line := range strings.Split(strings.TrimSpace(err.Error()), "\n") {
		b.WriteString("# " + line + "\n")
	}
	b.WriteString("#\n")
	return b.String()
}

// decodeEdited reads the edited text as one object, which must still be
// the one being edited.
func decodeEdited(text []byte, cur skiffv1.Resource) (manifest.Object, error) {
	objs, err := manifest.Decode("edited file", text)
	if err != nil {
		return manifest.Object{}, err
	}
	if len(objs) != 1 {
		return manifest.Object{}, fmt.Errorf("the file holds %d objects; edit one", len(objs))
	}
	o := objs[0]
	if err := manifest.Check(o); err != nil {
		return manifest.Object{}, err
	}
	was, now := cur.GetMetadata(), o.Obj.GetMetadata()
	curInfo := infoOf(cur)
	switch {
	case o.Info.Name != curInfo.Name:
		return manifest.Object{}, fmt.Errorf("kind: changed from %s to %s; an edit cannot change it", curInfo.Name, o.Info.Name)
	case now.GetName() != was.GetName():
		return manifest.Object{}, fmt.Errorf("metadata.name: changed from %q to %q; an edit cannot change it", was.GetName(), now.GetName())
	case now.GetNamespace() != was.GetNamespace():
		return manifest.Object{}, fmt.Errorf("metadata.namespace: changed from %q to %q; an edit cannot change it", was.GetNamespace(), now.GetNamespace())
	case now.GetResourceVersion() == "":
		return manifest.Object{}, errors.New("metadata.resourceVersion: removed; put it back so a change made meanwhile is not overwritten")
	}
	return o, nil
}
