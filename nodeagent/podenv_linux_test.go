package nodeagent_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func i64(v int64) *int64 { return &v }

// A pod reads its own fields and resources through env (with $(VAR) in a
// value) and a downwardAPI volume; a label change reaches the volume's
// file in place. A Secret used as env is nowhere under the agent's data
// dir (the runtime keeps the environment under RunDir).
func TestDownwardAPIInPod(t *testing.T) {
	h := newHarness(t)
	ctx := h.ctx()
	const secretValue = "env-only-s3cret-7d1f"
	if _, err := h.c.Secrets().Create(ctx, &skiffv1.Secret{
		Metadata: &skiffv1.ObjectMeta{Name: "envsecret"}, StringData: map[string]string{"v": secretValue},
	}); err != nil {
		t.Fatal(err)
	}
	p := h.pod("dapi", `echo "env name=$MY_POD_NAME ns=$MY_POD_NAMESPACE node=$MY_NODE_NAME ip=$MY_POD_IP sa=$MY_SA zone=$ZONE cpu=$CPU_M mem=$MEM_MI greet=$GREET"
echo "uid=$MY_UID" > /dev/null
last=""
while true; do cur=$(cat /etc/podinfo/labels | tr '\n' ' '); if [ "$cur" != "$last" ]; then echo "labels=[$cur] cpu=$(cat /etc/podinfo/cpu_limit)"; last=$cur; fi; sleep 0.2; done`)
	p.Metadata.Labels = map[string]string{"zone": "us-est-coast", "cluster": "test-cluster1"}
	p.Metadata.Annotations = map[string]string{"build": "two"}
	c := p.Spec.Containers[0]
	c.Resources = &skiffv1.ResourceRequirements{
		Requests: map[string]string{"cpu": "125m", "memory": "32Mi"},
		Limits:   map[string]string{"cpu": "250m", "memory": "64Mi"},
	}
	field := func(path string) *skiffv1.EnvVarSource {
		return &skiffv1.EnvVarSource{FieldRef: &skiffv1.ObjectFieldSelector{FieldPath: path}}
	}
	c.Env = []*skiffv1.EnvVar{
		{Name: "MY_POD_NAME", ValueFrom: field("metadata.name")},
		{Name: "MY_POD_NAMESPACE", ValueFrom: field("metadata.namespace")},
		{Name: "MY_NODE_NAME", ValueFrom: field("spec.nodeName")},
		{Name: "MY_POD_IP", ValueFrom: field("status.podIP")},
		{Name: "MY_SA", ValueFrom: field("spec.serviceAccountName")},
		{Name: "MY_UID", ValueFrom: field("metadata.uid")},
		{Name: "ZONE", ValueFrom: field("metadata.labels['zone']")},
		{Name: "CPU_M", ValueFrom: &skiffv1.EnvVarSource{ResourceFieldRef: &skiffv1.ResourceFieldSelector{Resource: "limits.cpu", Divisor: "1m"}}},
		{Name: "MEM_MI", ValueFrom: &skiffv1.EnvVarSource{ResourceFieldRef: &skiffv1.ResourceFieldSelector{Resource: "requests.memory", Divisor: "1Mi"}}},
		{Name: "GREET", Value: "hi $(MY_POD_NAME) in $(ZONE), $$(ZONE) stays, $(NOPE) too"},
		{Name: "SECRET", ValueFrom: &skiffv1.EnvVarSource{SecretKeyRef: &skiffv1.KeySelector{Name: "envsecret", Key: "v"}}},
	}
	p.Spec.Volumes = []*skiffv1.PodVolume{{Name: "podinfo", DownwardApi: &skiffv1.DownwardAPIVolumeSource{Items: []*skiffv1.DownwardAPIVolumeFile{
		{Path: "labels", FieldRef: &skiffv1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
		{Path: "annotations", FieldRef: &skiffv1.ObjectFieldSelector{FieldPath: "metadata.annotations"}},
		{Path: "cpu_limit", ResourceFieldRef: &skiffv1.ResourceFieldSelector{ContainerName: "main", Resource: "limits.cpu", Divisor: "1m"}},
	}}}}
	c.VolumeMounts = []*skiffv1.VolumeMount{{Name: "podinfo", MountPath: "/etc/podinfo"}}
	h.create(p)
	running := h.waitPod("dapi", "Running", phase("Running"))
	waitLogs(t, h, "dapi", "env name=dapi ns=default node=node-1 ip="+running.Status.PodIp+" sa=default zone=us-est-coast cpu=250 mem=32 greet=hi dapi in us-est-coast, $(ZONE) stays, $(NOPE) too")
	waitLogs(t, h, "dapi", `labels=[cluster="test-cluster1" zone="us-est-coast"] cpu=250`)

	if _, err := h.c.Pods().Modify(ctx, "default", "dapi", func(p *skiffv1.Pod) error {
		p.Metadata.Labels["zone"] = "eu-west"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitLogs(t, h, "dapi", `labels=[cluster="test-cluster1" zone="eu-west"]`)

	var found []string
	err := filepath.WalkDir(h.cfg.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(secretValue)) {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Errorf("the Secret used as env is on the node's disk in %v", found)
	}
}

// dnsPolicy None with dnsConfig, Default with the node's resolver, and
// hostAliases reach the container's /etc/resolv.conf and /etc/hosts.
func TestPodDNSAndHosts(t *testing.T) {
	h := newHarness(t)
	h.stopAgent()
	h.cfg.ResolvConf = filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(h.cfg.ResolvConf, []byte("nameserver 192.0.2.53\nsearch node.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.startAgent()
	none := h.pod("dns-none", `cat /etc/resolv.conf /etc/hosts; sleep 1000`)
	none.Spec.DnsPolicy = "None"
	none.Spec.DnsConfig = &skiffv1.PodDNSConfig{
		Nameservers: []string{"192.0.2.1"}, Searches: []string{"ns1.svc.cluster-domain.example", "my.dns.search.suffix"},
		Options: []*skiffv1.PodDNSConfigOption{{Name: "ndots", Value: new("2")}, {Name: "edns0"}},
	}
	none.Spec.HostAliases = []*skiffv1.HostAlias{{Ip: "127.0.0.1", Hostnames: []string{"foo.local", "bar.local"}}, {Ip: "10.1.2.3", Hostnames: []string{"foo.remote"}}}
	h.create(none)
	def := h.pod("dns-default", `cat /etc/resolv.conf; sleep 1000`)
	def.Spec.DnsPolicy = "Default"
	def.Spec.DnsConfig = &skiffv1.PodDNSConfig{Options: []*skiffv1.PodDNSConfigOption{{Name: "ndots", Value: new("1")}}}
	h.create(def)
	waitLogs(t, h, "dns-none", "nameserver 192.0.2.1\nsearch ns1.svc.cluster-domain.example my.dns.search.suffix\noptions ndots:2 edns0\n")
	waitLogs(t, h, "dns-none", "# Entries added by HostAliases.\n127.0.0.1\tfoo.local\tbar.local\n10.1.2.3\tfoo.remote\n")
	waitLogs(t, h, "dns-default", "nameserver 192.0.2.53\nsearch node.example\noptions ndots:1\n")
}

// The security context reaches the process: no_new_privs and seccomp by
// default and off when asked, capabilities, groups from fsGroup and
// supplementalGroups, a group-owned emptyDir; runAsNonRoot refuses an
// image that runs as root.
func TestSecurityContextInPod(t *testing.T) {
	h := newHarness(t)
	const show = `grep -E '^(NoNewPrivs|Seccomp|CapEff|Groups):' /proc/self/status | tr '\t' ' '; echo "dir=$(stat -c %g:%a /data)"; touch /data/f && echo "file=$(stat -c %g /data/f)"; echo "uid=$(id -u)"; echo "dapi=$(stat -L -c %g:%a /info/labels 2>/dev/null)"; id -G | tr ' ' '\n' | sed 's/^/group=/'; sleep 1000`
	strict := h.pod("strict", show)
	strict.Spec.SecurityContext = &skiffv1.PodSecurityContext{RunAsUser: i64(1000), RunAsNonRoot: yes(), FsGroup: i64(2000), SupplementalGroups: []int64{3000}}
	strict.Spec.Volumes = []*skiffv1.PodVolume{{Name: "data", EmptyDir: &skiffv1.EmptyDirSource{}}}
	strict.Spec.Containers[0].VolumeMounts = []*skiffv1.VolumeMount{{Name: "data", MountPath: "/data"}}
	// fsGroup owns the agent's files too, readable by the group.
	strict.Spec.Volumes = append(strict.Spec.Volumes, &skiffv1.PodVolume{Name: "info", DownwardApi: &skiffv1.DownwardAPIVolumeSource{
		DefaultMode: i32(0o400), Items: []*skiffv1.DownwardAPIVolumeFile{{Path: "labels", FieldRef: &skiffv1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}})
	strict.Spec.Containers[0].VolumeMounts = append(strict.Spec.Containers[0].VolumeMounts, &skiffv1.VolumeMount{Name: "info", MountPath: "/info"})
	no := false
	strict.Spec.Containers[0].SecurityContext = &skiffv1.SecurityContext{
		AllowPrivilegeEscalation: &no,
		Capabilities:             &skiffv1.Capabilities{Drop: []string{"ALL"}, Add: []string{"NET_BIND_SERVICE"}},
		SeccompProfile:           &skiffv1.SeccompProfile{Type: "RuntimeDefault"},
	}
	h.create(strict)
	loose := h.pod("loose", show)
	loose.Spec.Volumes = []*skiffv1.PodVolume{{Name: "data", EmptyDir: &skiffv1.EmptyDirSource{}}}
	loose.Spec.Containers[0].VolumeMounts = []*skiffv1.VolumeMount{{Name: "data", MountPath: "/data"}}
	loose.Spec.Containers[0].SecurityContext = &skiffv1.SecurityContext{
		AllowPrivilegeEscalation: yes(),
		SeccompProfile:           &skiffv1.SeccompProfile{Type: "Unconfined"},
		Capabilities:             &skiffv1.Capabilities{Drop: []string{"ALL"}, Add: []string{"NET_BIND_SERVICE"}},
	}
	h.create(loose)
	// Without no_new_privs the filter is loaded while the init is still
	// root, before it becomes uid 1000.
	escalate := h.pod("escalate", show)
	escalate.Spec.Volumes = []*skiffv1.PodVolume{{Name: "data", EmptyDir: &skiffv1.EmptyDirSource{}}}
	escalate.Spec.Containers[0].VolumeMounts = []*skiffv1.VolumeMount{{Name: "data", MountPath: "/data"}}
	escalate.Spec.SecurityContext = &skiffv1.PodSecurityContext{RunAsUser: i64(1000)}
	escalate.Spec.Containers[0].SecurityContext = &skiffv1.SecurityContext{AllowPrivilegeEscalation: yes()}
	h.create(escalate)
	rootImage := h.pod("nonroot", "sleep 1000")
	rootImage.Spec.SecurityContext = &skiffv1.PodSecurityContext{RunAsNonRoot: yes()}
	h.create(rootImage)

	waitLogs(t, h, "strict", "NoNewPrivs: 1\nSeccomp: 2\n")
	waitLogs(t, h, "strict", "dir=2000:2777\nfile=2000\nuid=1000\ndapi=2000:440\n")
	waitLogs(t, h, "strict", "group=2000\n")
	waitLogs(t, h, "strict", "group=3000\n")
	waitLogs(t, h, "loose", "CapEff: 0000000000000400\nNoNewPrivs: 0\nSeccomp: 0\n")
	waitLogs(t, h, "escalate", "NoNewPrivs: 0\nSeccomp: 2\n")
	waitLogs(t, h, "escalate", "uid=1000")
	got := h.waitPod("nonroot", "refused", func(p *skiffv1.Pod) bool {
		return container(p).GetState().GetWaiting().GetReason() == "CreateContainerConfigError"
	})
	if msg := container(got).GetState().GetWaiting().GetMessage(); !strings.Contains(msg, "runAsNonRoot and image will run as root") {
		t.Errorf("waiting message %q", msg)
	}
}
