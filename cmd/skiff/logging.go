package main

import (
	"fmt"
	"github.com/spf13/cobra"
	"io"
	"log/slog"
)

// newLogger makes the one logger a daemon passes down: text or JSON,
// Info by default, Debug with -v.
func newLogger(w io.Writer, format string, verbose int) (*slog.Logger, error) {
	level := slog.LevelInfo
	if verbose > 0 {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

// verbosity reads the root command's -v count.
func verbosity(cmd *cobra.Command) int {
	n, _ := cmd.Flags().GetCount("verbose")
	return n
}
