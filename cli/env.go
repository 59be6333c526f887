package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/client"
)

// env is what every command shares: the global flags, the process
// environment they fall back on, the clock, and the connection, made on
// first use. One env belongs to one root command.
type env struct {
	// environ is where --server and --config default from ($SKIFF_SERVER,
	// $SKIFF_CONFIG, ~/.skiff/config); tests give their own.
	environ client.Environment

	server         string
	configPath     string
	namespace      string
	verbosity      int
	requestTimeout time.Duration

	// now is the clock ages are measured against; tests fix it.
	now func() time.Time

	// errOut is the running command's error stream, for -v notes.
	errOut io.Writer

	addr string
	c    *client.Client
	// configNS is the config file's namespace, once read.
	configNS string
}

func newEnv(environ client.Environment) *env {
	return &env{environ: environ, now: time.Now, errOut: os.Stderr}
}

// addFlags registers the global flags on the root command.
func (e *env) addFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&e.server, "server", "", "API server HOST:PORT (default: $SKIFF_SERVER, else the server in --config)")
	f.StringVar(&e.configPath, "config", "", "client config file (default: $SKIFF_CONFIG, else ~/.skiff/config)")
	f.StringVarP(&e.namespace, "namespace", "n", "", "namespace of the objects (default: the config's, else \"default\")")
	// Named like the daemons' own -v/--verbose, which then shadows it
	// there instead of clashing with it.
	f.CountVarP(&e.verbosity, "verbose", "v", "print more about what happens (-v, -vv)")
	f.DurationVar(&e.requestTimeout, "request-timeout", 10*time.Second, "give up on a request to the server after this long")
}

// client connects on first use, resolving the server the documented way.
func (e *env) client() (*client.Client, error) {
	if e.c != nil {
		return e.c, nil
	}
	cfg := e.config()
	addr, err := e.environ.ResolveServer(e.server, cfg)
	if err != nil {
		return nil, err
	}
	e.addr = addr
	opts, err := client.OptionsFor(cfg)
	if err != nil {
		return nil, err
	}
	c, err := client.New(addr, opts)
	if err != nil {
		return nil, err
	}
	e.c = c
	e.debugf("server %s", addr)
	return c, nil
}

// config is the client config file: --config, else $SKIFF_CONFIG, else
// ~/.skiff/config.
func (e *env) config() string { return e.environ.ConfigPath(e.configPath) }

// close ends the connection, if one was made.
func (e *env) close() {
	if e.c != nil {
		e.c.Close()
		e.c = nil
	}
}

// ns is the namespace commands work in: -n, else the config's, else
// "default".
func (e *env) ns() string {
	if e.namespace != "" {
		return e.namespace
	}
	if e.configNS == "" {
		e.configNS = "default"
		if cfg, err := client.LoadConfig(e.config()); err == nil && cfg.Namespace != "" {
			e.configNS = cfg.Namespace
		}
	}
	return e.configNS
}

// withClient runs fn with a client and a context bounded by
// --request-timeout: the shape of most commands.
func (e *env) withClient(cmd *cobra.Command, fn func(ctx context.Context, c *client.Client) error) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	ctx, cancel := e.call(cmd.Context())
	defer cancel()
	return fn(ctx, c)
}

// call bounds one request to the server.
func (e *env) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, e.requestTimeout)
}

func (e *env) debugf(format string, args ...any) {
	if e.verbosity > 0 {
		fmt.Fprintf(e.errOut, "skiff: "+format+"\n", args...)
	}
}

// progress writes a line to the command's error stream (progress notes
// that must not mix with output a script reads).
func progress(cmd *cobra.Command, format string, args ...any) {
	fmt.Fprintf(cmd.ErrOrStderr(), format+"\n", args...)
}
