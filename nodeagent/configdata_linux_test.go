package nodeagent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func i32(v int32) *int32 { return &v }
func yes() *bool         { return new(true) }

// A pod takes a ConfigMap and a Secret as env (valueFrom, envFrom with a
// prefix, an optional missing key), as configMap, secret and projected
// volumes (items, modes) and as a subPath file. Secret volumes are on
// tmpfs. An update of the ConfigMap reaches the mounted files in place
// while the env keeps the value the container started with.
func TestConfigMapAndSecretInPod(t *testing.T) {
	h := newHarness(t)
	ctx := h.ctx()
	if _, err := h.c.ConfigMaps().Create(ctx, &skiffv1.ConfigMap{
		Metadata: &skiffv1.ObjectMeta{Name: "app"},
		Data:     map[string]string{"greeting": "hello", "color": "blue"},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.Secrets().Create(ctx, &skiffv1.Secret{
		Metadata: &skiffv1.ObjectMeta{Name: "db"}, StringData: map[string]string{"password": "s3cret"},
	}); err != nil {
		t.Fatal(err)
	}
	p := h.pod("configured", `echo "env GREETING=$GREETING PASS=$PASS CFG_color=$CFG_color OPT=[$OPT]"
echo "sub=$(cat /etc/greeting) proj=$(cat /proj/colors/c)/$(cat /proj/pw) sec=$(cat /sec/password)"
last=""
while true; do cur=$(cat /cfg/greeting); if [ "$cur" != "$last" ]; then echo "greeting=$cur env=$GREETING"; last=$cur; fi; sleep 0.2; done`)
	c := p.Spec.Containers[0]
	c.Env = []*skiffv1.EnvVar{
		{Name: "GREETING", ValueFrom: &skiffv1.EnvVarSource{ConfigMapKeyRef: &skiffv1.KeySelector{Name: "app", Key: "greeting"}}},
		{Name: "PASS", ValueFrom: &skiffv1.EnvVarSource{SecretKeyRef: &skiffv1.KeySelector{Name: "db", Key: "password"}}},
		{Name: "OPT", ValueFrom: &skiffv1.EnvVarSource{ConfigMapKeyRef: &skiffv1.KeySelector{Name: "app", Key: "nope", Optional: yes()}}},
	}
	c.EnvFrom = []*skiffv1.EnvFromSource{
		{Prefix: "CFG_", ConfigMapRef: &skiffv1.ObjectRef{Name: "app"}},
		{SecretRef: &skiffv1.ObjectRef{Name: "absent", Optional: yes()}},
	}
	p.Spec.Volumes = []*skiffv1.PodVolume{
		{Name: "cfg", ConfigMap: &skiffv1.ConfigMapVolumeSource{Name: "app"}},
		{Name: "sec", Secret: &skiffv1.SecretVolumeSource{SecretName: "db", DefaultMode: i32(0o400)}},
		{Name: "proj", Projected: &skiffv1.ProjectedVolumeSource{Sources: []*skiffv1.VolumeProjection{
			{ConfigMap: &skiffv1.ConfigMapProjection{Name: "app", Items: []*skiffv1.KeyToPath{{Key: "color", Path: "colors/c"}}}},
			{Secret: &skiffv1.SecretProjection{Name: "db", Items: []*skiffv1.KeyToPath{{Key: "password", Path: "pw", Mode: i32(0o440)}}}},
		}}},
	}
	c.VolumeMounts = []*skiffv1.VolumeMount{
		{Name: "cfg", MountPath: "/cfg"},
		{Name: "sec", MountPath: "/sec"},
		{Name: "proj", MountPath: "/proj"},
		{Name: "cfg", MountPath: "/etc/greeting", SubPath: "greeting"},
	}
	created := h.create(p)
	waitLogs(t, h, "configured", "env GREETING=hello PASS=s3cret CFG_color=blue OPT=[]")
	waitLogs(t, h, "configured", "sub=hello proj=blue/s3cret sec=s3cret")
	waitLogs(t, h, "configured", "greeting=hello env=hello")

	vols := filepath.Join(h.cfg.DataDir, "pods", created.Metadata.Uid, "volumes")
	for _, v := range []string{"sec", "proj"} {
		var fs unix.Statfs_t
		if err := unix.Statfs(filepath.Join(vols, v), &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
			t.Errorf("volume %s is not on tmpfs (type %#x, %v): Secrets must never reach the node's disk", v, fs.Type, err)
		}
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(filepath.Join(vols, "cfg"), &fs); err != nil || fs.Type == unix.TMPFS_MAGIC {
		t.Errorf("configMap volume: type %#x, %v; want the node's disk", fs.Type, err)
	}
	if st, err := os.Stat(filepath.Join(vols, "sec", "password")); err != nil || st.Mode().Perm() != 0o400 {
		t.Errorf("secret file: %v (mode %v), want mode 0400 (defaultMode)", err, st.Mode())
	}
	if st, err := os.Stat(filepath.Join(vols, "proj", "pw")); err != nil || st.Mode().Perm() != 0o440 {
		t.Errorf("projected item: %v (mode %v), want mode 0440 (item mode)", err, st.Mode())
	}
	if target, err := os.Readlink(filepath.Join(vols, "cfg", "greeting")); err != nil || target != "..data/greeting" {
		t.Errorf("user-visible file is %q (%v), want a symlink to ..data/greeting", target, err)
	}

	if _, err := h.c.ConfigMaps().Modify(ctx, "default", "app", func(cm *skiffv1.ConfigMap) error {
		cm.Data["greeting"] = "bye"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The volume follows; the env keeps what the container started with.
	waitLogs(t, h, "configured", "greeting=bye env=hello")
	if got, _ := os.ReadFile(filepath.Join(vols, "cfg", "greeting")); strings.TrimSpace(string(got)) != "bye" {
		t.Errorf("host copy of the updated key: %q", got)
	}
}

// A pod that names a ConfigMap that does not exist waits with
// CreateContainerConfigError naming it, and starts once it is created.
func TestMissingConfigMapWaitsThenStarts(t *testing.T) {
	h := newHarness(t)
	p := h.pod("waiter", `echo "got $LATE_k"; sleep 1000`)
	p.Spec.Containers[0].EnvFrom = []*skiffv1.EnvFromSource{{Prefix: "LATE_", ConfigMapRef: &skiffv1.ObjectRef{Name: "later"}}}
	h.create(p)
	got := h.waitPod("waiter", "waiting on its ConfigMap", func(p *skiffv1.Pod) bool {
		return container(p).GetState().GetWaiting().GetReason() == "CreateContainerConfigError"
	})
	if msg := container(got).GetState().GetWaiting().GetMessage(); !contains(msg, `configmap "later" not found`) {
		t.Fatalf("waiting message %q does not name the ConfigMap", msg)
	}
	if _, err := h.c.ConfigMaps().Create(h.ctx(), &skiffv1.ConfigMap{
		Metadata: &skiffv1.ObjectMeta{Name: "later"}, Data: map[string]string{"k": "v"},
	}); err != nil {
		t.Fatal(err)
	}
	h.waitPod("waiter", "Running", phase("Running"))
	waitLogs(t, h, "waiter", "got v")
}
