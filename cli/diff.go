package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/cli/manifest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func newDiffCommand(e *env) *cobra.Command {
	var src fileFlags
	cmd := &cobra.Command{
		Use:   "diff -f FILE|DIR|URL|-",
		Short: "Show what applying manifests would change",
		Long: `Show how each object stored now differs from what skiff apply of the
manifests would store, as kubectl diff does: the server answers each apply
as a dry run (its checks and defaults, storing nothing), and the two sides
are compared as YAML by $KUBECTL_EXTERNAL_DIFF, else by diff -u -N. An
object not stored yet shows as all added. The values of a Secret's data
show as *** (changed ones as *** (before) and *** (after)).

The exit status is kubectl's: 0 when nothing would change, 1 when something
would, above 1 when the diff could not be made.`,
		Example: `  skiff diff -f web.yaml
  skiff diff -R -f manifests/ && echo "nothing to apply"
  KUBECTL_EXTERNAL_DIFF="diff -u --color=always" skiff diff -f web.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return diffError(runDiff(cmd, e, src))
		},
	}
	src.add(cmd)
	return cmd
}

// diffError gives a failure kubectl diff's exit status, 2 and above; a
// found difference (exit 1, already printed) passes through.
func diffError(err error) error {
	var ee *ExitError
	if err == nil || errors.As(err, &ee) {
		return err
	}
	return &ExitError{Code: 2, Err: err}
}

func runDiff(cmd *cobra.Command, e *env, src fileFlags) error {
	objs, err := readManifests(cmd, e, src)
	if err != nil {
		return err
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "skiff-diff-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	live, merged := filepath.Join(dir, "LIVE"), filepath.Join(dir, "MERGED")
	for _, d := range []string{live, merged} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return err
		}
	}
	for _, o := range objs {
		if o.Name() == "" {
			return fmt.Errorf("%s: metadata.name is missing; diff compares with the object of that name", o)
		}
		cur, next, err := diffSides(cmd, e, c, o)
		if err != nil {
			return fmt.Errorf("%s: %w", slashName(o.Info, o.Name()), err)
		}
		maskSecrets(cur, next)
		file := fmt.Sprintf("%s.%s.%s", o.Info.Name, o.Obj.GetMetadata().GetNamespace(), o.Name())
		if err := writeDiffSide(filepath.Join(live, file), cur); err != nil {
			return err
		}
		if err := writeDiffSide(filepath.Join(merged, file), next); err != nil {
			return err
		}
	}
	return runDiffProgram(cmd, live, merged)
}

// diffSides is the object stored now (nil when there is none) and what
// applying o would store, as the server answers a dry run.
func diffSides(cmd *cobra.Command, e *env, c *client.Client, o manifest.Object) (cur, next skiffv1.Resource, err error) {
	ctx, cancel := e.call(cmd.Context())
	cur, err = getObject(ctx, c, o.Info, o.Obj.GetMetadata().GetNamespace(), o.Name())
	cancel()
	switch {
	case client.IsNotFound(err):
		cur = nil
	case err != nil:
		return nil, nil, apiErr(err)
	}
	_, next, err = applyOne(cmd.Context(), e, c, o, "server")
	return cur, next, err
}

// maskSecrets hides a Secret's values on both sides, telling changed ones
// apart.
func maskSecrets(sides ...skiffv1.Resource) {
	var secrets []*skiffv1.Secret
	for _, s := range sides {
		if sec, ok := s.(*skiffv1.Secret); ok {
			secrets = append(secrets, sec)
		}
	}
	if len(secrets) == 2 {
		before, after := secrets[0], secrets[1]
		for k, v := range after.Data {
			if old, ok := before.Data[k]; ok && !bytes.Equal(old, v) {
				before.Data[k], after.Data[k] = []byte("*** (before)"), []byte("*** (after)")
			}
		}
	}
	for _, sec := range secrets {
		for k, v := range sec.Data {
			if !bytes.HasPrefix(v, []byte("*** (")) {
				sec.Data[k] = []byte("***")
			}
		}
	}
}

// writeDiffSide writes obj as YAML to path, or nothing for no object
// (diff -N shows it as absent). Secret data prints as text: masked, it is
// no longer the bytes -o yaml would encode.
func writeDiffSide(path string, obj skiffv1.Resource) error {
	if obj == nil {
		return nil
	}
	j, err := manifest.Encode(obj)
	if err != nil {
		return err
	}
	if sec, ok := obj.(*skiffv1.Secret); ok && len(sec.Data) > 0 {
		if j, err = secretDataAsText(j, sec); err != nil {
			return err
		}
	}
	var b bytes.Buffer
	if err := writeFormatted(&b, "yaml", j); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o600)
}

func secretDataAsText(j []byte, sec *skiffv1.Secret) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		return nil, err
	}
	data := map[string]string{}
	for k, v := range sec.Data {
		data[k] = string(v)
	}
	m["data"] = data
	return json.Marshal(m)
}

// runDiffProgram compares the two directories, passing the program's
// output through; its exit status 1 (a difference) becomes skiff's.
func runDiffProgram(cmd *cobra.Command, live, merged string) error {
	program := strings.Fields(os.Getenv("KUBECTL_EXTERNAL_DIFF"))
	if len(program) == 0 {
		program = []string{"diff", "-u", "-N"}
	}
	d := exec.CommandContext(cmd.Context(), program[0], append(program[1:], live, merged)...)
	d.Stdout, d.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
	err := d.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return &ExitError{Code: 1}
	case errors.As(err, &exit):
		return fmt.Errorf("%s failed with exit status %d", program[0], exit.ExitCode())
	default:
		return fmt.Errorf("run %s: %w (set KUBECTL_EXTERNAL_DIFF to another diff program)", program[0], err)
	}
}
