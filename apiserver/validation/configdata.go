package validation

import (
	"regexp"
	"strings"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// MaxConfigDataBytes is how much a ConfigMap or Secret may hold, keys and
// values together, as in Kubernetes.
const MaxConfigDataBytes = 1 << 20

// configKey is Kubernetes' rule for ConfigMap and Secret keys: each becomes
// a file name in a volume, so a key is a plain file name.
var configKey = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

// secretTypes are the Secret types skiff accepts: Kubernetes' built-in ones
// and any type with a domain prefix ("example.com/thing").
var secretTypes = map[string][]string{
	"Opaque":                              nil,
	"kubernetes.io/service-account-token": nil,
	"kubernetes.io/dockercfg":             {".dockercfg"},
	"kubernetes.io/dockerconfigjson":      {".dockerconfigjson"},
	"kubernetes.io/basic-auth":            nil,
	"kubernetes.io/ssh-auth":              {"ssh-privatekey"},
	"kubernetes.io/tls":                   {"tls.crt", "tls.key"},
	"bootstrap.kubernetes.io/token":       nil,
}

func checkConfigKey(e *errs, path, key string) {
	switch {
	case key == "." || key == "..":
		e.add(path, "%q is not a valid key: it must be a file name, not '.' or '..'", key)
	case len(key) > 253 || !configKey.MatchString(key):
		e.add(path, "%q is not a valid key: it must be a file name of letters, digits, '-', '_' and '.', at most 253 characters", key)
	}
}

func validateConfigMap(e *errs, c *skiffv1.ConfigMap) {
	size := 0
	for k, v := range c.GetData() {
		checkConfigKey(e, "data["+k+"]", k)
		size += len(k) + len(v)
	}
	for k, v := range c.GetBinaryData() {
		checkConfigKey(e, "binaryData["+k+"]", k)
		if _, dup := c.GetData()[k]; dup {
			e.add("binaryData["+k+"]", "the key is also in data; a key may be in one of them only")
		}
		size += len(k) + len(v)
	}
	checkConfigSize(e, size)
}

func validateSecret(e *errs, s *skiffv1.Secret) {
	size := 0
	for k, v := range s.GetData() {
		checkConfigKey(e, "data["+k+"]", k)
		size += len(k) + len(v)
	}
	checkConfigSize(e, size)
	t := s.GetType()
	required, known := secretTypes[t]
	if !known && !strings.Contains(t, "/") {
		e.add("type", "%q is not a Secret type: use Opaque, a kubernetes.io/ type or one of your own with a domain prefix (example.com/name)", t)
	}
	for _, k := range required {
		if _, ok := s.GetData()[k]; !ok {
			e.add("data["+k+"]", "required for a Secret of type %s", t)
		}
	}
}

func checkConfigSize(e *errs, size int) {
	if size > MaxConfigDataBytes {
		e.add("data", "the data is %d bytes; the limit is %d (1 MiB)", size, MaxConfigDataBytes)
	}
}

// defaultSecret merges the write-only stringData into data (stringData
// wins, as in Kubernetes) and sets the type.
func defaultSecret(s *skiffv1.Secret) {
	if len(s.StringData) > 0 && s.Data == nil {
		s.Data = map[string][]byte{}
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
	if s.Type == "" {
		s.Type = "Opaque"
	}
}

// validateImmutableData refuses a change of data once an object is
// immutable, and unsetting immutable itself.
func validateImmutableData(e *errs, wasImmutable bool, sameData bool, nowImmutable bool) {
	if !wasImmutable {
		return
	}
	if !nowImmutable {
		e.add("immutable", "cannot be unset once true; delete the object and create it again")
	}
	if !sameData {
		e.add("data", "the object is immutable; delete it and create it again to change its data")
	}
}

// validateEnvSource checks env[].valueFrom.
func validateEnvSource(e *errs, path string, env *skiffv1.EnvVar) {
	vf := env.GetValueFrom()
	if vf == nil {
		return
	}
	if env.Value != "" {
		e.add(path+".valueFrom", "may not be set when value is")
	}
	refs := 0
	if r := vf.ConfigMapKeyRef; r != nil {
		refs++
		checkKeySelector(e, path+".valueFrom.configMapKeyRef", r)
	}
	if r := vf.SecretKeyRef; r != nil {
		refs++
		checkKeySelector(e, path+".valueFrom.secretKeyRef", r)
	}
	// fieldRef and resourceFieldRef are checked in validatePodEnv.
	if vf.FieldRef != nil {
		refs++
	}
	if vf.ResourceFieldRef != nil {
		refs++
	}
	if refs != 1 {
		e.add(path+".valueFrom", "exactly one of configMapKeyRef, secretKeyRef, fieldRef or resourceFieldRef must be set")
	}
}

func checkKeySelector(e *errs, path string, r *skiffv1.KeySelector) {
	checkSubdomain(e, path+".name", r.Name)
	checkConfigKey(e, path+".key", r.Key)
}

// validateEnvFrom checks envFrom[].
func validateEnvFrom(e *errs, path string, list []*skiffv1.EnvFromSource) {
	for i, f := range list {
		p := idx(path, i)
		refs := 0
		if f.ConfigMapRef != nil {
			refs++
			checkSubdomain(e, p+".configMapRef.name", f.ConfigMapRef.Name)
		}
		if f.SecretRef != nil {
			refs++
			checkSubdomain(e, p+".secretRef.name", f.SecretRef.Name)
		}
		if refs != 1 {
			e.add(p, "exactly one of configMapRef or secretRef must be set")
		}
		if f.Prefix != "" && !envName.MatchString(f.Prefix) {
			e.add(p+".prefix", "%q is not a valid start of an environment variable name", f.Prefix)
		}
	}
}

// validateConfigVolume checks a configMap, secret or projected volume
// source; it reports how many of them v has.
func validateConfigVolume(e *errs, p string, v *skiffv1.PodVolume) int {
	sources := 0
	if c := v.ConfigMap; c != nil {
		sources++
		checkSource(e, p+".configMap", "name", c.Name, c.Items)
		checkMode(e, p+".configMap.defaultMode", c.DefaultMode)
	}
	if s := v.Secret; s != nil {
		sources++
		checkSource(e, p+".secret", "secretName", s.SecretName, s.Items)
		checkMode(e, p+".secret.defaultMode", s.DefaultMode)
	}
	if pr := v.Projected; pr != nil {
		sources++
		checkMode(e, p+".projected.defaultMode", pr.DefaultMode)
		for i, src := range pr.Sources {
			sp := idx(p+".projected.sources", i)
			n := 0
			if c := src.ConfigMap; c != nil {
				n++
				checkSource(e, sp+".configMap", "name", c.Name, c.Items)
			}
			if s := src.Secret; s != nil {
				n++
				checkSource(e, sp+".secret", "name", s.Name, s.Items)
			}
			if src.DownwardApi != nil {
				n++ // its items: validatePodEnv
			}
			if n != 1 {
				e.add(sp, "exactly one of configMap, secret or downwardAPI must be set")
			}
		}
	}
	if v.DownwardApi != nil {
		sources++ // its items: validatePodEnv
	}
	return sources
}

// checkSource checks the object a volume or projection names and the
// items it takes from it.
func checkSource(e *errs, path, nameField, name string, items []*skiffv1.KeyToPath) {
	checkSubdomain(e, path+"."+nameField, name)
	checkItems(e, path+".items", items)
}

func checkItems(e *errs, path string, items []*skiffv1.KeyToPath) {
	for i, it := range items {
		p := idx(path, i)
		checkConfigKey(e, p+".key", it.Key)
		checkRelativePath(e, p+".path", it.Path)
		checkMode(e, p+".mode", it.Mode)
	}
}

// checkRelativePath: a file path inside a volume, never leaving it.
func checkRelativePath(e *errs, path, s string) {
	if s == "" {
		e.add(path, "required")
		return
	}
	if strings.HasPrefix(s, "/") {
		e.add(path, "%q must be a relative path", s)
		return
	}
	for _, part := range strings.Split(s, "/") {
		if part == ".." {
			e.add(path, "%q must not contain '..'", s)
			return
		}
		if strings.HasPrefix(part, "..") {
			e.add(path, "%q: a path element may not start with '..' (reserved for the volume's own files)", s)
			return
		}
	}
}

func checkMode(e *errs, path string, mode *int32) {
	if mode != nil && (*mode < 0 || *mode > 0o777) {
		e.add(path, "%d is not a file mode: it must be between 0 and 0777 (511)", *mode)
	}
}
