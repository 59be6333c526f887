package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

// Stand-ins are busybox images that take the place of the images the
// Kubernetes documentation's manifests name (nginx, redis, hello-app, …):
// no test may reach Docker Hub, so the cluster registry, mirroring every
// registry, serves these instead. Each behaves as much like the original as
// a manifest can see: servers answer on the ports the manifests give them,
// tools are a shell with busybox's applets.

// standinPath is what the stand-ins' image config sets: busybox's applets
// are in /bin, the scripts below in /usr/bin and /usr/sbin.
const standinPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// standinScripts are the programs a stand-in may add to busybox: each
// waits, once started, until SIGTERM (a shell as PID 1 has no default
// handler, so the trap is what makes deletion prompt).
var standinScripts = map[string]string{
	// An HTTP server on each port of $STANDIN_PORTS.
	"/usr/bin/standin-serve": `#!/bin/sh
trap 'exit 0' TERM INT
mkdir -p /www
[ -f /www/index.html ] || echo "stand-in for $STANDIN_IMAGE" > /www/index.html
for p in $STANDIN_PORTS; do httpd -p "$p" -h /www; done
while :; do sleep 3600 & wait $!; done
`,
	// nginx's defaults: port 80, /usr/share/nginx/html.
	"/usr/sbin/nginx": `#!/bin/sh
trap 'exit 0' TERM INT
httpd -p 80 -h /usr/share/nginx/html
while :; do sleep 3600 & wait $!; done
`,
	"/usr/share/nginx/html/index.html": "<h1>Welcome to nginx!</h1>\n",
	// Sleeps until told to stop: pause, log shippers, load generators.
	"/usr/bin/standin-wait": `#!/bin/sh
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
`,
	"/bin/bash": "#!/bin/sh\nexec sh \"$@\"\n",
	"/usr/bin/curl": `#!/bin/sh
# The last argument is the URL; the flags the manifests pass are curl's.
for a; do url=$a; done
exec wget -qO- "$url"
`,
	// The pi Job of the documentation: perl -Mbignum=bpi -wle 'print bpi(2000)'.
	"/usr/bin/perl": "#!/bin/sh\necho 3.14159265358979323846264338327950288419716939937510\n",
}

// standinKind is how a stand-in behaves, chosen by the image's last path
// element.
type standinKind struct {
	entrypoint string   // empty: the image's command is sh
	scripts    []string // keys of standinScripts it carries
}

var (
	toolStandin  = standinKind{scripts: []string{"/bin/bash", "/usr/bin/curl", "/usr/bin/perl"}}
	waitStandin  = standinKind{entrypoint: "/usr/bin/standin-wait", scripts: []string{"/usr/bin/standin-wait"}}
	nginxStandin = standinKind{entrypoint: "/usr/sbin/nginx", scripts: []string{"/usr/sbin/nginx", "/usr/share/nginx/html/index.html"}}
	serveStandin = standinKind{entrypoint: "/usr/bin/standin-serve", scripts: []string{"/usr/bin/standin-serve"}}
)

func standinFor(repo string) standinKind {
	switch path.Base(repo) {
	case "busybox", "alpine", "debian", "ubuntu", "curl", "perl":
		return toolStandin
	case "pause", "stress", "fluentd-elasticsearch":
		return waitStandin
	case "nginx", "nginx-slim":
		return nginxStandin
	}
	return serveStandin
}

// corpusImages are the images named by the manifests under dir, each with
// the container ports the manifests give it.
func corpusImages(t *testing.T, docs []*corpusDoc) map[string][]int {
	t.Helper()
	images := map[string]map[int]bool{}
	for _, d := range docs {
		for _, c := range d.containers() {
			img, _ := c["image"].(string)
			if img == "" {
				continue
			}
			if images[img] == nil {
				images[img] = map[int]bool{}
			}
			ports, _ := c["ports"].([]any)
			for _, p := range ports {
				pm, _ := p.(map[string]any)
				if n, ok := pm["containerPort"].(float64); ok {
					images[img][int(n)] = true
				}
			}
		}
	}
	out := map[string][]int{}
	for img, ports := range images {
		var list []int
		for p := range ports {
			list = append(list, p)
		}
		sort.Ints(list)
		out[img] = list
	}
	return out
}

// pushStandins builds a stand-in for every image and puts it in the
// cluster registry under the name a mirrored pull looks for. It returns
// the images that have none (a name that is no valid reference).
func pushStandins(t *testing.T, c *upCluster, images map[string][]int) []string {
	t.Helper()
	var refused []string
	for img, ports := range images {
		ref, err := name.ParseReference(img)
		if err != nil {
			refused = append(refused, img)
			continue
		}
		repo := strings.TrimPrefix(ref.Context().RepositoryStr(), "library/")
		kind := standinFor(repo)
		dir := standinRoot(t, kind)
		args := []string{"image", "build", dir, "--name", repo + ":" + ref.Identifier(),
			"--env", standinPath, "--env", "STANDIN_IMAGE=" + img}
		if kind.entrypoint != "" {
			args = append(args, "--entrypoint", kind.entrypoint)
		} else {
			args = append(args, "--cmd", "sh")
		}
		if kind.entrypoint == serveStandin.entrypoint {
			if len(ports) == 0 {
				ports = []int{80, 8080}
			}
			var ps []string
			for _, p := range ports {
				ps = append(ps, strconv.Itoa(p))
			}
			args = append(args, "--env", "STANDIN_PORTS="+strings.Join(ps, " "))
		}
		if out, err := c.Skiff(args...); err != nil {
			t.Fatalf("stand-in for %s: %v %s", img, err, out)
		}
	}
	sort.Strings(refused)
	return refused
}

// standinRoot lays out a stand-in's root file system: busybox with a link
// per applet in /bin, and the kind's scripts.
func standinRoot(t *testing.T, kind standinKind) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	for _, d := range []string{bin, filepath.Join(dir, "tmp"), filepath.Join(dir, "etc")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(bin, applet)); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
		"/etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for _, s := range kind.scripts {
		files[s] = standinScripts[s]
	}
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		os.Remove(full) // /bin/bash may be an applet link
		mode := os.FileMode(0o644)
		if strings.HasPrefix(content, "#!") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			t.Fatal(fmt.Errorf("stand-in %s: %w", p, err))
		}
	}
	return dir
}
