package cli

import (
	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/cli/manifest"
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
