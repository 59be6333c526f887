package runtime

import (
	"reflect"
	"testing"
)

// The supervisor's view of config.json names the same fields as the
// config the runtime writes: a renamed field would leave it a zero value.
func TestSupervisorConfigReadsTheWrittenConfig(t *testing.T) {
	dir := t.TempDir()
	c := containerConfig{
		Spec: ContainerSpec{ID: "c", LogMaxBytes: 1234, LogMaxFiles: 5, Resources: Resources{PidsLimit: 77},
			Stdin: true, StdinOnce: true, TTY: true},
		PIDNS:      "/run/x/pid",
		CgroupRoot: "/sys/fs/cgroup", CgroupParent: "skiff", CgroupMode: 2, CgroupPath: "pod-a/c",
		LogPath: "/var/log/c.log",
	}
	if err := writeJSON(dir, configFile, c); err != nil {
		t.Fatal(err)
	}
	var s supervisorConfig
	if err := readJSON(dir, configFile, &s); err != nil {
		t.Fatal(err)
	}
	if s.Spec.LogMaxBytes != 1234 || s.Spec.LogMaxFiles != 5 || s.Spec.Resources.PidsLimit != 77 ||
		s.PIDNS != c.PIDNS || s.CgroupRoot != c.CgroupRoot || s.CgroupParent != c.CgroupParent ||
		s.CgroupMode != 2 || s.CgroupPath != c.CgroupPath || s.LogPath != c.LogPath {
		t.Errorf("supervisor read %+v from %+v", s, c)
	}
	// A supervisor that reads the whole config (for a script init) takes
	// its view from it: the same view, field for field.
	if v := supervisorView(&c); !reflect.DeepEqual(v, s) {
		t.Errorf("supervisorView gives %+v, the config file %+v", v, s)
	}
}
