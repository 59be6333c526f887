package cli

import (
	"fmt"
	"strings"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// hooks shows a container's postStart and preStop hooks.
func (d *describer) hooks(level int, l *skiffv1.Lifecycle) {
	for _, h := range []struct {
		name string
		h    *skiffv1.LifecycleHandler
	}{{"PostStart", l.GetPostStart()}, {"PreStop", l.GetPreStop()}} {
		if h.h != nil {
			d.kv(level, h.name, hookAction(h.h))
		}
	}
}

func hookAction(h *skiffv1.LifecycleHandler) string {
	switch {
	case h.GetExec() != nil:
		return "exec [" + strings.Join(h.GetExec().GetCommand(), " ") + "]"
	case h.GetHttpGet() != nil:
		return httpGetAction(h.GetHttpGet())
	case h.GetSleep() != nil:
		return fmt.Sprintf("sleep %ds", h.GetSleep().GetSeconds())
	}
	return "<no action>"
}

// httpGetAction is an HTTP GET as kubectl describes it:
// http-get https://:8443/healthz.
func httpGetAction(h *skiffv1.HTTPGetAction) string {
	scheme := strings.ToLower(h.GetScheme())
	if scheme == "" {
		scheme = "http"
	}
	return fmt.Sprintf("http-get %s://:%d%s", scheme, h.GetPort(), h.GetPath())
}
