package main

import "github.com/spf13/cobra"

// daemonCommands are the long-running parts of skiff, wired here from their
// packages' configs; the user-facing commands live in cli.
func daemonCommands() []*cobra.Command {
	return []*cobra.Command{serverCommand(), agentCommand(), upCommand(), schedulerCommand(), controllerCommand(), dnsCommand(), resetCommand()}
}
