package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/cli/manifest"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// fileFlags are kubectl's -f and -R: the manifests a command reads.
type fileFlags struct {
	files     []string
	recursive bool
}

func (f *fileFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.files, "filename", "f", nil, "manifest file, directory, http(s) URL, or - for stdin (repeatable)")
	fl.BoolVarP(&f.recursive, "recursive", "R", false, "with -f DIR: read its subdirectories too")
}

// read decodes every manifest the flags name.
func (f *fileFlags) read(cmd *cobra.Command) ([]manifest.Object, error) {
	return manifest.Read(cmd.Context(), manifest.Sources{Paths: f.files, Recursive: f.recursive, Stdin: cmd.InOrStdin()})
}

// eachManifest runs do on each object in turn and says what it did ("pod/web
// created"), as apply, create -f and replace do. An object do fails on is
// reported at the end while the others go on; a server out of reach
// stops the run. With -o yaml|json the objects do returned print whole.
func eachManifest(cmd *cobra.Command, out createOutput, objs []manifest.Object, do func(manifest.Object) (verb string, obj skiffv1.Resource, err error)) error {
	var done []skiffv1.Resource
	var failed []error
	for _, o := range objs {
		verb, obj, err := do(o)
		if err != nil {
			if isConnectionError(err) {
				return err
			}
			failed = append(failed, fmt.Errorf("%s: %w", slashName(o.Info, o.Name()), err))
			continue
		}
		done = append(done, obj)
		if err := out.say(cmd.OutOrStdout(), verb, obj); err != nil {
			return err
		}
	}
	if err := out.printWhole(cmd.OutOrStdout(), done); err != nil {
		return err
	}
	return errors.Join(failed...)
}
