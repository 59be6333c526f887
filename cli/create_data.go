package cli

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// dataSources are kubectl's flags that fill a ConfigMap's or a Secret's
// keys: --from-literal, --from-file and --from-env-file.
type dataSources struct {
	literals []string
	files    []string
	envFiles []string
	createOutput
}

func (d *dataSources) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&d.literals, "from-literal", nil, "a key and its value, KEY=VALUE (repeatable)")
	f.StringArrayVar(&d.files, "from-file", nil, "a file, [KEY=]PATH, whose name (or KEY) is the key and content the value; a directory adds each regular file in it (repeatable)")
	f.StringArrayVar(&d.envFiles, "from-env-file", nil, "a file of KEY=VALUE lines; # starts a comment, a bare KEY takes its value from the environment (repeatable)")
	d.createOutput.addFlags(cmd)
}

// read gathers the keys in flag order (literals, files, env files, as
// kubectl does); a key given twice is an error.
func (d *dataSources) read() (map[string][]byte, error) {
	out := map[string][]byte{}
	add := func(flag, key string, value []byte) error {
		if key == "" {
			return fmt.Errorf("%s: the key is empty", flag)
		}
		if _, dup := out[key]; dup {
			return fmt.Errorf("%s: key %q is given twice", flag, key)
		}
		out[key] = value
		return nil
	}
	for _, l := range d.literals {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return nil, fmt.Errorf("--from-literal=%s: give KEY=VALUE", l)
		}
		if err := add("--from-literal="+l, k, []byte(v)); err != nil {
			return nil, err
		}
	}
	for _, f := range d.files {
		key, path, named := strings.Cut(f, "=")
		if !named {
			path = f
		}
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("--from-file=%s: %w", f, err)
		}
		if st.IsDir() {
			if named {
				return nil, fmt.Errorf("--from-file=%s: a directory gives each file its own key; drop %q=", f, key)
			}
			entries, err := os.ReadDir(path)
			if err != nil {
				return nil, fmt.Errorf("--from-file=%s: %w", f, err)
			}
			for _, e := range entries {
				if !e.Type().IsRegular() {
					continue
				}
				b, err := os.ReadFile(filepath.Join(path, e.Name()))
				if err != nil {
					return nil, fmt.Errorf("--from-file=%s: %w", f, err)
				}
				if err := add("--from-file="+f, e.Name(), b); err != nil {
					return nil, err
				}
			}
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--from-file=%s: %w", f, err)
		}
		if !named {
			key = filepath.Base(path)
		}
		if err := add("--from-file="+f, key, b); err != nil {
			return nil, err
		}
	}
	for _, f := range d.envFiles {
		if err := readEnvFile(f, func(k, v string) error { return add("--from-env-file="+f, k, []byte(v)) }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readEnvFile reads KEY=VALUE lines as kubectl does: leading blanks are
// dropped, blank lines and lines starting with # are skipped, the value
// is kept as written (quotes included), and a bare KEY takes its value
// from this process's environment.
func readEnvFile(path string, add func(k, v string) error) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--from-env-file=%s: %w", path, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), " \t")
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			v = os.Getenv(line)
		}
		if strings.ContainsAny(k, " \t") {
			return fmt.Errorf("--from-env-file=%s: line %d: %q is not a valid key", path, n, k)
		}
		if err := add(k, v); err != nil {
			return err
		}
	}
	return sc.Err()
}

func newCreateConfigMapCommand(e *env) *cobra.Command {
	d := &dataSources{}
	cmd := &cobra.Command{
		Use:     "configmap NAME [--from-literal=KEY=VALUE] [--from-file=[KEY=]PATH] [--from-env-file=PATH]",
		Aliases: []string{"cm"},
		Short:   "Create a ConfigMap from literals, files or an env file",
		Long: `Create a ConfigMap whose keys come from the command line, as kubectl's
create configmap: --from-literal KEY=VALUE, --from-file PATH (the file's
name is the key; KEY=PATH names it; a directory adds each file in it) and
--from-env-file PATH (KEY=VALUE lines). A file that is not UTF-8 goes in
binaryData.`,
		Example: `  skiff create configmap site --from-literal=greeting=hello --from-file=index.html
  skiff create configmap nginx-conf --from-file=conf.d/
  skiff create configmap env --from-env-file=app.env --dry-run=client -o yaml > cm.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := d.read()
			if err != nil {
				return err
			}
			cm := &skiffv1.ConfigMap{Metadata: &skiffv1.ObjectMeta{Name: args[0], Namespace: e.ns()}}
			for k, v := range data {
				if utf8.Valid(v) {
					if cm.Data == nil {
						cm.Data = map[string]string{}
					}
					cm.Data[k] = string(v)
					continue
				}
				if cm.BinaryData == nil {
					cm.BinaryData = map[string][]byte{}
				}
				cm.BinaryData[k] = v
			}
			return d.finish(cmd, e, "created", cm)
		},
	}
	d.addFlags(cmd)
	return cmd
}

func newCreateSecretCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Create a Secret: generic (from literals and files), tls or docker-registry",
		Example: `  skiff create secret generic db --from-literal=password=s3cret
  skiff create secret tls web-tls --cert=tls.crt --key=tls.key
  skiff create secret docker-registry regcred --docker-server=registry.example:5000 --docker-username=ci --docker-password=s3cret`,
	}
	cmd.AddCommand(newCreateSecretGenericCommand(e), newCreateSecretTLSCommand(e), newCreateSecretDockerRegistryCommand(e))
	return cmd
}

func newCreateSecretGenericCommand(e *env) *cobra.Command {
	d := &dataSources{}
	var typ string
	cmd := &cobra.Command{
		Use:   "generic NAME [--from-literal=KEY=VALUE] [--from-file=[KEY=]PATH] [--from-env-file=PATH]",
		Short: "Create a Secret from literals, files or an env file",
		Long: `Create a Secret whose keys come from the command line, with the flags of
skiff create configmap. The server stores it encrypted.`,
		Example: `  skiff create secret generic db --from-literal=user=app --from-literal=password=s3cret
  skiff create secret generic ssh --from-file=id_ed25519=~/.ssh/id_ed25519
  skiff create secret generic env --from-env-file=prod.env`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := d.read()
			if err != nil {
				return err
			}
			s := &skiffv1.Secret{Metadata: &skiffv1.ObjectMeta{Name: args[0], Namespace: e.ns()}, Type: typ, Data: data}
			if s.Type == "" {
				s.Type = "Opaque"
			}
			return d.finish(cmd, e, "created", s)
		},
	}
	d.addFlags(cmd)
	cmd.Flags().StringVar(&typ, "type", "", "the Secret's type (default Opaque)")
	return cmd
}

func newCreateSecretTLSCommand(e *env) *cobra.Command {
	var o createOutput
	var cert, key string
	cmd := &cobra.Command{
		Use:     "tls NAME --cert=PATH --key=PATH",
		Short:   "Create a kubernetes.io/tls Secret from a certificate and its key",
		Example: `  skiff create secret tls web-tls --cert=tls.crt --key=tls.key`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cert == "" || key == "" {
				return errors.New("give both --cert and --key (PEM files)")
			}
			certPEM, err := os.ReadFile(cert)
			if err != nil {
				return fmt.Errorf("--cert: %w", err)
			}
			keyPEM, err := os.ReadFile(key)
			if err != nil {
				return fmt.Errorf("--key: %w", err)
			}
			if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
				return fmt.Errorf("--cert %s and --key %s: %w", cert, key, err)
			}
			s := &skiffv1.Secret{
				Metadata: &skiffv1.ObjectMeta{Name: args[0], Namespace: e.ns()},
				Type:     "kubernetes.io/tls",
				Data:     map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM},
			}
			return o.finish(cmd, e, "created", s)
		},
	}
	o.addFlags(cmd)
	cmd.Flags().StringVar(&cert, "cert", "", "the certificate (PEM)")
	cmd.Flags().StringVar(&key, "key", "", "its private key (PEM)")
	return cmd
}

// dockerHubServer is the registry kubectl's docker-registry secrets name
// by default.
const dockerHubServer = "https://index.docker.io/v1/"

func newCreateSecretDockerRegistryCommand(e *env) *cobra.Command {
	var o createOutput
	var server, user, password, email string
	var files []string
	cmd := &cobra.Command{
		Use:   "docker-registry NAME --docker-username=USER --docker-password=PASSWORD [--docker-server=HOST] [--docker-email=EMAIL] | --from-file=[.dockerconfigjson=]PATH",
		Short: "Create a kubernetes.io/dockerconfigjson Secret for pulling images (a pod's imagePullSecrets)",
		Long: `Create a Secret holding registry credentials as a docker config, as kubectl
does: from a user and password (for --docker-server, Docker Hub by default),
or from an existing config file such as ~/.docker/config.json. Name it in a
pod's imagePullSecrets to pull that registry's private images.`,
		Example: `  skiff create secret docker-registry regcred --docker-server=registry.example:5000 \
      --docker-username=ci --docker-password=s3cret
  skiff create secret docker-registry regcred --from-file=.dockerconfigjson=$HOME/.docker/config.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			config, err := dockerConfigJSON(files, server, user, password, email)
			if err != nil {
				return err
			}
			s := &skiffv1.Secret{
				Metadata: &skiffv1.ObjectMeta{Name: args[0], Namespace: e.ns()},
				Type:     "kubernetes.io/dockerconfigjson",
				Data:     map[string][]byte{".dockerconfigjson": config},
			}
			return o.finish(cmd, e, "created", s)
		},
	}
	o.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&server, "docker-server", dockerHubServer, "the registry's address")
	f.StringVar(&user, "docker-username", "", "the user to log in as")
	f.StringVar(&password, "docker-password", "", "the password (or token)")
	f.StringVar(&email, "docker-email", "", "an email address, kept in the config")
	f.StringSliceVar(&files, "from-file", nil, "a docker config file to store as is, as [.dockerconfigjson=]PATH")
	return cmd
}

// dockerConfigJSON is the .dockerconfigjson of a docker-registry secret:
// a config file as given, or one entry made from the credentials.
func dockerConfigJSON(files []string, server, user, password, email string) ([]byte, error) {
	if len(files) > 0 {
		if user != "" || password != "" || email != "" {
			return nil, errors.New("give --from-file or --docker-username/--docker-password, not both")
		}
		if len(files) > 1 {
			return nil, errors.New("--from-file: give one docker config file")
		}
		key, path, ok := strings.Cut(files[0], "=")
		if !ok {
			key, path = ".dockerconfigjson", files[0]
		}
		if key != ".dockerconfigjson" {
			return nil, fmt.Errorf("--from-file=%s: the key must be .dockerconfigjson", files[0])
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--from-file: %w", err)
		}
		var cfg struct {
			Auths map[string]json.RawMessage `json:"auths"`
		}
		if err := json.Unmarshal(data, &cfg); err != nil || len(cfg.Auths) == 0 {
			return nil, fmt.Errorf("--from-file %s: not a docker config with \"auths\" entries", path)
		}
		return data, nil
	}
	switch {
	case user == "":
		return nil, errors.New("--docker-username is required (or give --from-file)")
	case password == "":
		return nil, errors.New("--docker-password is required (or give --from-file)")
	case server == "":
		return nil, errors.New("--docker-server: give the registry's address")
	}
	type entry struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Email    string `json:"email,omitempty"`
		Auth     string `json:"auth"`
	}
	return json.Marshal(map[string]map[string]entry{"auths": {server: {
		Username: user, Password: password, Email: email,
		Auth: base64.StdEncoding.EncodeToString([]byte(user + ":" + password)),
	}}})
}
