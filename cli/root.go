package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/client"
)

// NewRootCommand builds the `skiff` command with the client commands and the
// extra ones main passes in (the daemons: server, up, agent, …). Every
// command's errors are printed once as `error: …` on its Err writer; main
// then exits with ExitCode(err). Defaults come from the process's
// environment ($SKIFF_SERVER, $SKIFF_CONFIG, ~/.skiff).
func NewRootCommand(extra ...*cobra.Command) *cobra.Command {
	return NewRootCommandIn(client.OSEnvironment(), extra...)
}

// NewRootCommandIn is NewRootCommand with the environment given: what a
// test uses so that nothing of the invoking user's setup reaches it.
func NewRootCommandIn(environ client.Environment, extra ...*cobra.Command) *cobra.Command {
	return newRoot(newEnv(environ), extra...)
}

func newRoot(e *env, extra ...*cobra.Command) *cobra.Command {
	root := &cobra.Command{
		Use:   "skiff",
		Short: "skiff runs containers on a handful of machines, the Kubernetes way",
		Long: `skiff is a small container orchestrator: pods, services, volumes, replica
sets and autoscalers, driven by YAML manifests like Kubernetes.

The client commands find the API server from --server HOST:PORT, else
$SKIFF_SERVER, else ~/.skiff/config (which ` + "`skiff server`" + ` writes on start).`,
		Example: `  sudo skiff up                 # a single-node cluster on this machine
  skiff apply -f web.yaml       # create or update what the manifest describes
  skiff get pods -o wide
  skiff describe pod web
  skiff delete pod web --wait`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	e.addFlags(root)
	root.AddCommand(
		newApplyCommand(e),
		newCreateCommand(e), newRunCommand(e), newExposeCommand(e), newPortForwardCommand(e),
		newGetCommand(e),
		newDescribeCommand(e),
		newDeleteCommand(e),
		newWaitCommand(e),
		newLogsCommand(e),
		newExecCommand(e),
		newAttachCommand(e),
		newVersionCommand(e),
		newImageCommand(e),
		newTopCommand(e), newScaleCommand(e), newAutoscaleCommand(e),
		newRolloutCommand(e), newSetCommand(e), newLabelCommand(e), newAnnotateCommand(e), newPatchCommand(e), newCpCommand(e), newReplaceCommand(e), newEditCommand(e), newDiffCommand(e), newAPIResourcesCommand(), newExplainCommand(), newEventsCommand(e),
		newClusterCommand(e),
	)
	root.AddCommand(newNodeCommands(e)...)
	root.AddCommand(newTokenCommand(e), newDashboardCommand(e), newConfigCommand(e))
	root.AddCommand(extra...)
	addServerList(root, e)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		err = fmt.Errorf("%w\nSee '%s --help' for usage.", err, cmd.CommandPath())
		printError(cmd.ErrOrStderr(), err)
		return printedError{err}
	})
	wrapTree(root, e)
	return root
}

// wrapTree makes every command print its own error once, with connection
// failures explained, and close the connection when it is done.
func wrapTree(cmd *cobra.Command, e *env) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			e.errOut = c.ErrOrStderr()
			defer e.close()
			err := run(c, args)
			if err == nil {
				return nil
			}
			err = explainConnection(err, e.addr)
			printError(c.ErrOrStderr(), err)
			return printedError{err}
		}
	}
	if args := cmd.Args; args != nil {
		cmd.Args = func(c *cobra.Command, a []string) error {
			if err := args(c, a); err != nil {
				err = fmt.Errorf("%w\nSee '%s --help' for usage.", err, c.CommandPath())
				printError(c.ErrOrStderr(), err)
				return printedError{err}
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		wrapTree(sub, e)
	}
}
