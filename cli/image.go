package cli

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/nodeagent/image/build"
	"github.com/skiff-sh/skiff/ports"
)

// newImageCommand is `skiff image`: import, build, push, list and remove
// images in the cluster's registry. The work is in nodeagent/image/build.
func newImageCommand(e *env) *cobra.Command {
	o := &imageOpts{env: e}
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Import, build, push, list and remove images in the cluster registry",
		Long: `Manage images in skiff's registry (the one 'skiff server' embeds) without Docker.

A bare NAME:TAG means an image in the registry given by --registry; a name that
starts with a registry host (registry.example.com/app:1) is used as written.
Plain HTTP is used only for loopback hosts and --insecure-registry hosts.

The cluster registry lets admins push and delete with the client certificate
of the command line's config (~/.skiff/config); nodes only pull. A CI job
without that certificate pushes with a registry-push token:
  skiff token create --usage registry-push --ttl 1h > ci-token   (as an admin)
  skiff image build ./app --name app:1 --token-file ci-token     (in CI)
(or "docker login HOST:5000 -u token" with the token as the password).`,
		Example: `  skiff image import app.tar --name app:1
  skiff image build ./site --name site:1 --entrypoint /bin/httpd,-f,-p,8080
  skiff image build ./server --name server:1
  skiff image demo
  skiff image ls
  skiff image push app:1 registry.example.com/team/app:1
  skiff image rm app:1`,
	}
	cmd.PersistentFlags().StringVar(&o.registry, "registry", fmt.Sprintf("127.0.0.1:%d", ports.Registry),
		"registry HOST:PORT for bare image names")
	cmd.PersistentFlags().StringSliceVar(&o.insecure, "insecure-registry", nil,
		"HOST or HOST:PORT to reach over plain HTTP (loopback always is)")
	cmd.PersistentFlags().StringVar(&o.tokenFile, "token-file", "",
		"file holding a registry-push token (skiff token create --usage registry-push), sent to --registry only")
	cmd.AddCommand(o.importCmd(), o.buildCmd(), o.demoCmd(), o.pushCmd(), o.lsCmd(), o.rmCmd())
	return cmd
}

type imageOpts struct {
	env       *env // for the client config (the cluster CA)
	registry  string
	insecure  []string
	tokenFile string
	// keychain sends the token of --token-file to --registry, and
	// otherwise the Docker config's credentials.
	keychain authn.Keychain
	// transport trusts the cluster CA from the command line's config: the
	// cluster's registry serves TLS with the API server's certificate.
	transport http.RoundTripper
}

func (o *imageOpts) validate() error {
	if _, _, err := net.SplitHostPort(o.registry); err != nil {
		return fmt.Errorf("--registry %q: want HOST:PORT: %w", o.registry, err)
	}
	return nil
}

func (o *imageOpts) remote() build.Remote {
	return build.Remote{Insecure: o.insecure, Transport: o.transport, Keychain: o.keychain}
}

// checked validates the flags before running fn. (Not a PersistentPreRunE:
// that would shadow the root command's.)
func (o *imageOpts) checked(fn func(*cobra.Command, []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := o.validate(); err != nil {
			return err
		}
		t, err := client.RegistryTransport(o.env.config())
		if err != nil {
			return err
		}
		o.transport = t
		if o.tokenFile != "" {
			b, err := os.ReadFile(o.tokenFile)
			if err != nil {
				return fmt.Errorf("--token-file: %w", err)
			}
			o.keychain = registryToken{host: o.registry, token: strings.TrimSpace(string(b))}
		}
		return fn(cmd, args)
	}
}

// push sends img to name in the registry with a progress bar on stderr.
func (o *imageOpts) push(cmd *cobra.Command, img v1.Image, name string) error {
	ref := build.Qualify(o.registry, name)
	bar := build.NewProgressBar(cmd.ErrOrStderr(), "pushing "+ref)
	d, err := o.remote().Push(cmd.Context(), img, ref, bar.Update)
	bar.Finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s@%s\n", ref, d)
	return nil
}

func (o *imageOpts) importCmd() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "import FILE.tar --name NAME:TAG",
		Short: "Push an image from a docker-save or OCI-layout tarball",
		Example: `  docker save app:1 -o app.tar && skiff image import app.tar --name app:1
  skiff image import oci-layout.tar --name tools/app:2`,
		Args: cobra.ExactArgs(1),
		RunE: o.checked(func(cmd *cobra.Command, args []string) error {
			img, err := build.Import(args[0])
			if err != nil {
				return err
			}
			return o.push(cmd, img, name)
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "image name, NAME:TAG (required)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func (o *imageOpts) buildCmd() *cobra.Command {
	var name, workdir, user string
	var bo build.Options
	cmd := &cobra.Command{
		Use:   "build DIR|BINARY --name NAME:TAG",
		Short: "Build a minimal one-layer image from a directory or a static binary",
		Long: `Build a one-layer image without Docker. A directory becomes the image's root
file system (owned by root, mtimes cleared, so equal input gives an equal digest);
a single file, typically a static binary, becomes /NAME with entrypoint /NAME.`,
		Example: `  CGO_ENABLED=0 go build -o server . && skiff image build server --name server:1
  skiff image build ./rootfs --name site:1 --entrypoint /bin/httpd,-f,-p,8080 --port 8080/tcp
  skiff image build ./rootfs --name tool:1 --env MODE=prod --workdir /app`,
		Args: cobra.ExactArgs(1),
		RunE: o.checked(func(cmd *cobra.Command, args []string) error {
			bo.Source, bo.WorkingDir, bo.User = args[0], workdir, user
			img, err := build.Build(bo)
			if err != nil {
				return err
			}
			return o.push(cmd, img, name)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "image name, NAME:TAG (required)")
	f.StringSliceVar(&bo.Entrypoint, "entrypoint", nil, "entrypoint, comma-separated (default for a binary: /NAME)")
	f.StringSliceVar(&bo.Cmd, "cmd", nil, "default arguments, comma-separated")
	f.StringArrayVar(&bo.Env, "env", nil, "KEY=VALUE, repeatable")
	f.StringVar(&workdir, "workdir", "", "working directory")
	f.StringVar(&user, "user", "", "user (UID[:GID] or name)")
	f.StringSliceVar(&bo.ExposedPorts, "port", nil, "exposed port, e.g. 8080/tcp")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func (o *imageOpts) demoCmd() *cobra.Command {
	var name, busybox string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Build and push the busybox demo image (httpd on port 8080)",
		Long: `Build the demo image from Debian's busybox-static (apt-get install busybox-static):
busybox with its applets in /bin, serving /www/index.html on port 8080.`,
		Example: `  skiff image demo
  skiff image demo --name tools/busybox:1 --busybox /usr/local/bin/busybox`,
		Args: cobra.NoArgs,
		RunE: o.checked(func(cmd *cobra.Command, _ []string) error {
			img, err := build.Busybox(busybox)
			if err != nil {
				return err
			}
			return o.push(cmd, img, name)
		}),
	}
	cmd.Flags().StringVar(&name, "name", "busybox:demo", "image name, NAME:TAG")
	cmd.Flags().StringVar(&busybox, "busybox", build.BusyboxPath, "static busybox binary")
	return cmd
}

func (o *imageOpts) pushCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "push SRC DEST",
		Short: "Copy an image between registries",
		Example: `  skiff image push app:1 registry.example.com/team/app:1
  skiff image push registry.example.com/team/app:1 app:1`,
		Args: cobra.ExactArgs(2),
		RunE: o.checked(func(cmd *cobra.Command, args []string) error {
			img, err := o.remote().Pull(cmd.Context(), build.Qualify(o.registry, args[0]))
			if err != nil {
				return err
			}
			return o.push(cmd, img, args[1])
		}),
	}
}

func (o *imageOpts) lsCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the images in the registry",
		Example: `  skiff image ls
  skiff image ls --registry 10.0.0.1:5000 --insecure-registry 10.0.0.1`,
		Args: cobra.NoArgs,
		RunE: o.checked(func(cmd *cobra.Command, _ []string) error {
			images, err := o.remote().List(cmd.Context(), o.registry)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTAG\tDIGEST\tSIZE")
			for _, l := range images {
				short := strings.TrimPrefix(l.Digest, "sha256:")
				if len(short) > 12 {
					short = short[:12]
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Repo, l.Tag, short, build.HumanBytes(l.Size))
			}
			return tw.Flush()
		}),
	}
}

func (o *imageOpts) rmCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME:TAG...",
		Aliases: []string{"remove"},
		Short:   "Remove tags (or digests) from the registry",
		Example: `  skiff image rm app:1 app:2`,
		Args:    cobra.MinimumNArgs(1),
		RunE: o.checked(func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				ref := build.Qualify(o.registry, a)
				if err := o.remote().Delete(cmd.Context(), ref); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", ref)
			}
			return nil
		}),
	}
}

// registryToken is a keychain that answers the cluster registry's basic
// challenge with a registry-push token, and leaves every other registry to
// the Docker config.
type registryToken struct {
	host, token string
}

func (k registryToken) Resolve(res authn.Resource) (authn.Authenticator, error) {
	if res.RegistryStr() == k.host {
		return &authn.Basic{Username: "token", Password: k.token}, nil
	}
	return authn.DefaultKeychain.Resolve(res)
}
