package validation

import (
	"net/netip"
	"slices"

	"github.com/skiff-sh/skiff/downward"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// The pod environment: the downward API, DNS, /etc/hosts, process
// namespace sharing and the security settings beyond users and groups.

func defaultPodEnv(s *skiffv1.PodSpec) {
	if s.DnsPolicy == "" {
		s.DnsPolicy = "ClusterFirst"
	}
	def := func(f *skiffv1.ObjectFieldSelector) {
		if f != nil && f.ApiVersion == "" {
			f.ApiVersion = "v1"
		}
	}
	for _, c := range s.Containers {
		for _, e := range c.Env {
			def(e.GetValueFrom().GetFieldRef())
		}
	}
	for _, v := range s.Volumes {
		for _, it := range v.GetDownwardApi().GetItems() {
			def(it.FieldRef)
		}
		for _, src := range v.GetProjected().GetSources() {
			for _, it := range src.GetDownwardApi().GetItems() {
				def(it.FieldRef)
			}
		}
	}
}

// Divisors Kubernetes accepts.
var (
	cpuDivisors    = []string{"1m", "1"}
	memoryDivisors = []string{"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"}
)

func checkFieldRef(e *errs, path string, f *skiffv1.ObjectFieldSelector, allowed []string) {
	if f.ApiVersion != "" && f.ApiVersion != "v1" {
		e.add(path+".apiVersion", "%q is not supported; use v1", f.ApiVersion)
	}
	if f.FieldPath == "" {
		e.add(path+".fieldPath", "required")
		return
	}
	if err := downward.CheckFieldPath(f.FieldPath, allowed); err != nil {
		e.add(path+".fieldPath", "%v", err)
	}
}

// checkResourceFieldRef checks a resourceFieldRef; self is the container
// an env variable belongs to ("" in a volume, where containerName is
// required).
func checkResourceFieldRef(e *errs, path string, r *skiffv1.ResourceFieldSelector, self string, containers []*skiffv1.Container) {
	name := r.ContainerName
	if name == "" {
		name = self
	}
	found := false
	for _, c := range containers {
		found = found || c.Name == name
	}
	switch {
	case name == "":
		e.add(path+".containerName", "required in a volume")
	case !found:
		e.add(path+".containerName", "%q is not a container of the pod", name)
	}
	if !slices.Contains(downward.Resources, r.Resource) {
		e.add(path+".resource", "%q is not supported; supported: limits.cpu, limits.memory, requests.cpu, requests.memory", r.Resource)
		return
	}
	if r.Divisor == "" {
		return
	}
	allowed := memoryDivisors
	if r.Resource == "limits.cpu" || r.Resource == "requests.cpu" {
		allowed = cpuDivisors
	}
	if !slices.Contains(allowed, r.Divisor) {
		e.add(path+".divisor", "%q is not a divisor of %s; use one of %v", r.Divisor, r.Resource, allowed)
	}
}

// validateDownwardItems checks the files of a downwardAPI volume or
// projection.
func validateDownwardItems(e *errs, path string, items []*skiffv1.DownwardAPIVolumeFile, containers []*skiffv1.Container) {
	seen := map[string]bool{}
	for i, it := range items {
		p := idx(path, i)
		checkRelativePath(e, p+".path", it.Path)
		if seen[it.Path] {
			e.add(p+".path", "%q is used by another item", it.Path)
		}
		seen[it.Path] = true
		checkMode(e, p+".mode", it.Mode)
		switch {
		case (it.FieldRef == nil) == (it.ResourceFieldRef == nil):
			e.add(p, "exactly one of fieldRef or resourceFieldRef must be set")
		case it.FieldRef != nil:
			checkFieldRef(e, p+".fieldRef", it.FieldRef, downward.VolumeFieldPaths)
		default:
			checkResourceFieldRef(e, p+".resourceFieldRef", it.ResourceFieldRef, "", containers)
		}
	}
}

var dnsPolicies = []string{"ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"}

func validatePodEnv(e *errs, path string, s *skiffv1.PodSpec) {
	for i, c := range s.Containers {
		for j, env := range c.Env {
			p := idx(idx(path+".containers", i)+".env", j) + ".valueFrom"
			if f := env.GetValueFrom().GetFieldRef(); f != nil {
				checkFieldRef(e, p+".fieldRef", f, downward.EnvFieldPaths)
			}
			if r := env.GetValueFrom().GetResourceFieldRef(); r != nil {
				checkResourceFieldRef(e, p+".resourceFieldRef", r, c.Name, s.Containers)
			}
		}
		validateSecurityContext(e, idx(path+".containers", i)+".securityContext", c.SecurityContext)
	}
	for i, v := range s.Volumes {
		p := idx(path+".volumes", i)
		if d := v.DownwardApi; d != nil {
			checkMode(e, p+".downwardAPI.defaultMode", d.DefaultMode)
			validateDownwardItems(e, p+".downwardAPI.items", d.Items, s.Containers)
		}
		for j, src := range v.GetProjected().GetSources() {
			if d := src.DownwardApi; d != nil {
				validateDownwardItems(e, idx(p+".projected.sources", j)+".downwardAPI.items", d.Items, s.Containers)
			}
		}
	}
	if s.DnsPolicy != "" && !slices.Contains(dnsPolicies, s.DnsPolicy) {
		e.add(path+".dnsPolicy", "%q is not one of %v", s.DnsPolicy, dnsPolicies)
	}
	if c := s.DnsConfig; c != nil {
		for i, n := range c.Nameservers {
			if _, err := netip.ParseAddr(n); err != nil {
				e.add(idx(path+".dnsConfig.nameservers", i), "%q is not an IP address", n)
			}
		}
		if len(c.Nameservers) > 3 {
			e.add(path+".dnsConfig.nameservers", "at most 3 nameservers, got %d", len(c.Nameservers))
		}
		if len(c.Searches) > 32 {
			e.add(path+".dnsConfig.searches", "at most 32 search domains, got %d", len(c.Searches))
		}
		for i, d := range c.Searches {
			checkSubdomain(e, idx(path+".dnsConfig.searches", i), d)
		}
		for i, o := range c.Options {
			if o.Name == "" {
				e.add(idx(path+".dnsConfig.options", i)+".name", "required")
			}
		}
	}
	if s.DnsPolicy == "None" && len(s.GetDnsConfig().GetNameservers()) == 0 {
		e.add(path+".dnsConfig.nameservers", "at least one nameserver is required when dnsPolicy is None")
	}
	for i, h := range s.HostAliases {
		p := idx(path+".hostAliases", i)
		if _, err := netip.ParseAddr(h.Ip); err != nil {
			e.add(p+".ip", "%q is not an IP address", h.Ip)
		}
		if len(h.Hostnames) == 0 {
			e.add(p+".hostnames", "at least one hostname is required")
		}
		for j, n := range h.Hostnames {
			checkSubdomain(e, idx(p+".hostnames", j), n)
		}
	}
	if sc := s.SecurityContext; sc != nil {
		checkSeccomp(e, path+".securityContext.seccompProfile", sc.SeccompProfile)
		if sc.FsGroup != nil && (*sc.FsGroup < 0 || *sc.FsGroup > 1<<31-1) {
			e.add(path+".securityContext.fsGroup", "must be between 0 and 2147483647")
		}
		for i, g := range sc.SupplementalGroups {
			if g < 0 || g > 1<<31-1 {
				e.add(idx(path+".securityContext.supplementalGroups", i), "must be between 0 and 2147483647")
			}
		}
		if sc.GetRunAsNonRoot() && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			e.add(path+".securityContext.runAsNonRoot", "contradicts runAsUser 0")
		}
	}
}

func validateSecurityContext(e *errs, path string, sc *skiffv1.SecurityContext) {
	if sc == nil {
		return
	}
	checkSeccomp(e, path+".seccompProfile", sc.SeccompProfile)
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		if sc.Privileged {
			e.add(path+".allowPrivilegeEscalation", "cannot be false when privileged is true")
		}
		for _, c := range sc.GetCapabilities().GetAdd() {
			if c == "SYS_ADMIN" || c == "CAP_SYS_ADMIN" {
				e.add(path+".allowPrivilegeEscalation", "cannot be false when capabilities.add holds SYS_ADMIN")
			}
		}
	}
	if sc.GetRunAsNonRoot() && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
		e.add(path+".runAsNonRoot", "contradicts runAsUser 0")
	}
}

func checkSeccomp(e *errs, path string, p *skiffv1.SeccompProfile) {
	if p == nil {
		return
	}
	switch p.Type {
	case "RuntimeDefault", "Unconfined":
		if p.LocalhostProfile != "" {
			e.add(path+".localhostProfile", "may be set only when type is Localhost")
		}
	case "Localhost":
		e.add(path+".type", "Localhost profiles are not supported by skiff yet; use RuntimeDefault or Unconfined")
	case "":
		e.add(path+".type", "required: RuntimeDefault or Unconfined")
	default:
		e.add(path+".type", "%q is not one of RuntimeDefault, Unconfined", p.Type)
	}
}
