package build

import (
	"archive/tar"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BusyboxPath is where Debian's busybox-static installs the binary.
const BusyboxPath = "/bin/busybox"

// DemoPort is where the demo image's httpd listens.
const DemoPort = 8080

// busyboxApplets get a /bin symlink in the demo image; busybox runs the
// applet named by argv[0].
func busyboxApplets() []string {
	return []string{
		"ash", "awk", "cat", "chmod", "chown", "cp", "date", "df", "dmesg", "du", "echo", "env",
		"false", "find", "free", "grep", "head", "hostname", "httpd", "id", "ifconfig", "ip",
		"kill", "ln", "ls", "mkdir", "mount", "mv", "nc", "nslookup", "ping", "printf", "ps",
		"pwd", "rm", "sed", "seq", "sh", "sleep", "sort", "tail", "tar", "tee", "test", "top", "touch",
		"true", "umount", "uname", "uniq", "uptime", "vi", "wc", "wget", "which", "whoami", "xargs",
	}
}

const demoIndex = `<!doctype html>
<html><head><title>skiff</title></head>
<body><h1>Hello from skiff</h1><p>This page is served by busybox httpd in a skiff pod.</p></body>
</html>
`

// printenvScript stands in for the printenv applet, which Debian's
// busybox-static lacks and the Kubernetes documentation's examples call:
// the values of the named variables that are set (exit 1 if one is not),
// or the whole environment.
const printenvScript = `#!/bin/sh
[ $# -eq 0 ] && exec env
rc=0
for n; do
	if env | grep -q "^$n="; then eval "printf '%s\\n' \"\$$n\""; else rc=1; fi
done
exit $rc
`

// Busybox makes the demo image from a static busybox binary (Debian's
// busybox-static; BusyboxPath): busybox with its applets under /bin, a
// root and a nobody user, and httpd serving /www on port 8080 as its
// entrypoint. A new user gets a working pod from it without the internet;
// tests run their containers in it.
func Busybox(busybox string) (v1.Image, error) {
	fi, err := os.Stat(busybox)
	if err != nil {
		return nil, fmt.Errorf("build: busybox: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("build: busybox: %s is not a regular file", busybox)
	}
	es := []entry{
		dirEntry("bin", 0o755), dirEntry("dev", 0o755), dirEntry("etc", 0o755),
		dirEntry("proc", 0o555), dirEntry("root", 0o700), dirEntry("sys", 0o555),
		dirEntry("tmp", 0o1777), dirEntry("var", 0o755), dirEntry("www", 0o755),
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: fi.Size()}, src: busybox},
		fileEntry("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")),
		fileEntry("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n")),
		fileEntry("www/index.html", 0o644, []byte(demoIndex)),
		fileEntry("bin/printenv", 0o755, []byte(printenvScript)),
	}
	for _, a := range busyboxApplets() {
		es = append(es, symlinkEntry("bin/"+a, "busybox"))
	}
	sortEntries(es)
	return imageFrom(es, Options{
		Entrypoint:   []string{"/bin/httpd", "-f", "-p", fmt.Sprint(DemoPort), "-h", "/www"},
		Env:          []string{"PATH=/bin"},
		ExposedPorts: []string{fmt.Sprintf("%d/tcp", DemoPort)},
	})
}
