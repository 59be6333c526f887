package skiffv1

// ConfigMapNames lists the ConfigMaps a pod spec uses (env, envFrom,
// configMap and projected volumes), each once, in the order first met.
func (s *PodSpec) ConfigMapNames() []string {
	return s.configRefs(Kind_KIND_CONFIG_MAP)
}

// SecretNames lists the Secrets a pod spec uses (imagePullSecrets too),
// each once.
func (s *PodSpec) SecretNames() []string {
	return s.configRefs(Kind_KIND_SECRET)
}

// Uses reports whether the pod spec uses the ConfigMap or Secret name.
func (s *PodSpec) Uses(kind Kind, name string) bool {
	for _, n := range s.configRefs(kind) {
		if n == name {
			return true
		}
	}
	return false
}

func (s *PodSpec) configRefs(kind Kind) []string {
	var out []string
	seen := map[string]bool{}
	add := func(cm, secret string) {
		n := cm
		if kind == Kind_KIND_SECRET {
			n = secret
		}
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, c := range append(append([]*Container(nil), s.GetInitContainers()...), s.GetContainers()...) {
		for _, e := range c.GetEnv() {
			add(e.GetValueFrom().GetConfigMapKeyRef().GetName(), e.GetValueFrom().GetSecretKeyRef().GetName())
		}
		for _, f := range c.GetEnvFrom() {
			add(f.GetConfigMapRef().GetName(), f.GetSecretRef().GetName())
		}
	}
	for _, r := range s.GetImagePullSecrets() {
		add("", r.GetName())
	}
	for _, v := range s.GetVolumes() {
		add(v.GetConfigMap().GetName(), v.GetSecret().GetSecretName())
		for _, p := range v.GetProjected().GetSources() {
			add(p.GetConfigMap().GetName(), p.GetSecret().GetName())
		}
	}
	return out
}
