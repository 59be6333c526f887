package cli

import (
	"fmt"
	"maps"
	"slices"
	"time"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func configMapRow(o skiffv1.Resource, now time.Time) ([]string, []string) {
	c := o.(*skiffv1.ConfigMap)
	return []string{
		c.GetMetadata().GetName(),
		fmt.Sprint(len(c.GetData()) + len(c.GetBinaryData())),
		age(c.GetMetadata().GetCreationTimestamp(), now),
	}, nil
}

func secretRow(o skiffv1.Resource, now time.Time) ([]string, []string) {
	s := o.(*skiffv1.Secret)
	return []string{
		s.GetMetadata().GetName(),
		s.GetType(),
		fmt.Sprint(len(s.GetData())),
		age(s.GetMetadata().GetCreationTimestamp(), now),
	}, nil
}

// configMap shows the data as kubectl does: each key, a rule, its value;
// binary values by size.
func (d *describer) configMap(c *skiffv1.ConfigMap) {
	d.kv(0, "Immutable", titleBool(c.GetImmutable()))
	d.head(0, "Data")
	d.row(0, "====")
	for _, k := range slices.Sorted(maps.Keys(c.GetData())) {
		d.row(0, k+":")
		d.row(0, "----")
		d.row(0, c.GetData()[k])
	}
	d.head(0, "BinaryData")
	d.row(0, "====")
	for _, k := range slices.Sorted(maps.Keys(c.GetBinaryData())) {
		d.row(0, fmt.Sprintf("%s: %d bytes", k, len(c.GetBinaryData()[k])))
	}
}

// secret never prints a value, only each key's size.
func (d *describer) secret(s *skiffv1.Secret) {
	d.kv(0, "Type", s.GetType())
	d.kv(0, "Immutable", titleBool(s.GetImmutable()))
	d.head(0, "Data")
	d.row(0, "====")
	for _, k := range slices.Sorted(maps.Keys(s.GetData())) {
		d.row(0, fmt.Sprintf("%s:\t%d bytes", k, len(s.GetData()[k])))
	}
}

// envValue is an env entry as kubectl describes it: the value, or where it
// comes from (never a Secret's value).
func envValue(e *skiffv1.EnvVar) string {
	vf := e.GetValueFrom()
	switch {
	case vf.GetConfigMapKeyRef() != nil:
		r := vf.GetConfigMapKeyRef()
		return fmt.Sprintf("<set to the key '%s' of config map '%s'>\tOptional: %t", r.GetKey(), r.GetName(), r.GetOptional())
	case vf.GetSecretKeyRef() != nil:
		r := vf.GetSecretKeyRef()
		return fmt.Sprintf("<set to the key '%s' in secret '%s'>\tOptional: %t", r.GetKey(), r.GetName(), r.GetOptional())
	}
	return e.GetValue()
}

// envFrom lists a container's envFrom sources.
func (d *describer) envFrom(level int, list []*skiffv1.EnvFromSource) {
	if len(list) == 0 {
		return
	}
	d.head(level, "Environment Variables from")
	for _, f := range list {
		name, kind, optional := f.GetConfigMapRef().GetName(), "ConfigMap", f.GetConfigMapRef().GetOptional()
		if f.GetSecretRef() != nil {
			name, kind, optional = f.GetSecretRef().GetName(), "Secret", f.GetSecretRef().GetOptional()
		}
		prefix := ""
		if f.GetPrefix() != "" {
			prefix = fmt.Sprintf(" with prefix '%s'", f.GetPrefix())
		}
		d.row(level+1, fmt.Sprintf("%s\t%s%s\tOptional: %t", name, kind, prefix, optional))
	}
}

// configVolume describes a configMap, secret or projected volume; false
// when v is none of them.
func (d *describer) configVolume(v *skiffv1.PodVolume) bool {
	switch {
	case v.GetConfigMap() != nil:
		d.kv(2, "Type", "ConfigMap (a volume populated by a ConfigMap)")
		d.kv(2, "Name", v.GetConfigMap().GetName())
		d.kv(2, "Optional", v.GetConfigMap().GetOptional())
	case v.GetSecret() != nil:
		d.kv(2, "Type", "Secret (a volume populated by a Secret)")
		d.kv(2, "SecretName", v.GetSecret().GetSecretName())
		d.kv(2, "Optional", v.GetSecret().GetOptional())
	case v.GetProjected() != nil:
		d.kv(2, "Type", "Projected (a volume that contains injected data from multiple sources)")
		for _, s := range v.GetProjected().GetSources() {
			if s.GetConfigMap() != nil {
				d.kv(2, "ConfigMapName", s.GetConfigMap().GetName())
				d.kv(2, "Optional", s.GetConfigMap().GetOptional())
			} else {
				d.kv(2, "SecretName", s.GetSecret().GetName())
				d.kv(2, "Optional", s.GetSecret().GetOptional())
			}
		}
	default:
		return false
	}
	return true
}
