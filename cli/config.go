package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/skiff-sh/skiff/apiserver/validation"
	"github.com/skiff-sh/skiff/client"
)

func newConfigCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config SUBCOMMAND",
		Short: "Show or change the command line's config (~/.skiff/config)",
		Long: `The config file (--config, else $SKIFF_CONFIG, else ~/.skiff/config) says
which server to reach, with which credentials, and in which namespace to
work when no -n is given. skiff server writes it; a namespace set here is
kept when it does again.`,
		Example: `  skiff config view
  skiff config set-context --current --namespace=team`,
	}
	cmd.AddCommand(newConfigViewCommand(e), newConfigSetContextCommand(e))
	return cmd
}

func newConfigViewCommand(e *env) *cobra.Command {
	var raw bool
	cmd := &cobra.Command{
		Use:     "view",
		Short:   "Print the config, its token hidden",
		Example: "  skiff config view\n  skiff config view --raw   # with the token",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := client.LoadConfig(e.config())
			if err != nil {
				return configError(e.config(), err)
			}
			if cfg.Token != "" && !raw {
				cfg.Token = "REDACTED"
			}
			out, err := yaml.Marshal(cfg)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().BoolVar(&raw, "raw", false, "show the token too")
	return cmd
}

func newConfigSetContextCommand(e *env) *cobra.Command {
	var current bool
	var namespace string
	cmd := &cobra.Command{
		Use:   "set-context --current --namespace=NAMESPACE",
		Short: "Set the namespace commands work in without -n",
		Long: `Set the namespace the config names, as kubectl config set-context
--current --namespace does: commands then work there when no -n is given.
skiff's config has one context, the current one. An empty namespace goes
back to "default".`,
		Example: `  skiff config set-context --current --namespace=team
  skiff config set-context --current --namespace=   # back to default`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 || !current {
				return errors.New("skiff's config has one context: give --current (skiff config set-context --current --namespace=NAME)")
			}
			if !cmd.Flags().Changed("namespace") {
				return errors.New("give --namespace=NAME: it is all a context holds here")
			}
			if namespace != "" && !validation.IsDNSLabel(namespace) {
				return fmt.Errorf("--namespace=%s is not a namespace name: lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters", namespace)
			}
			path := e.config()
			cfg, err := client.LoadConfig(path)
			if err != nil {
				return configError(path, err)
			}
			cfg.Namespace = namespace
			if err := client.SaveConfig(path, cfg); err != nil {
				return err
			}
			if namespace == "" {
				namespace = "default"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Context modified: commands now work in namespace %q.\n", namespace)
			return nil
		},
	}
	cmd.Flags().BoolVar(&current, "current", false, "change the current context (the only one)")
	cmd.Flags().StringVar(&namespace, "namespace", "", "the namespace to work in without -n")
	return cmd
}

// configError says what to do about a config that cannot be read.
func configError(path string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no config at %s: skiff server or skiff up writes one; --config or $SKIFF_CONFIG name another", path)
	}
	return err
}
