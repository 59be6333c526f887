package controlplane

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/dashboard"
	"github.com/skiff-sh/skiff/pki"
)

// startDashboard serves the web dashboard at cfg.DashboardListen with the
// server certificate, its login tokens from the server's token store, and
// API clients of the admin and the Viewer (grouped as the dashboard's, for
// the audit log). It returns once the dashboard listens.
func (cp *ControlPlane) startDashboard(ctx context.Context, g *errgroup.Group) error {
	if cp.pki == nil {
		cp.cfg.Logger.Warn("the dashboard is off: it needs TLS and logins, which --insecure turns off")
		return nil
	}
	admin, err := cp.dashboardClient(pki.Admin)
	if err != nil {
		return err
	}
	viewer, err := cp.dashboardClient(pki.Viewer)
	if err != nil {
		admin.Close()
		return err
	}
	d, err := dashboard.New(dashboard.Config{
		Listen: cp.cfg.DashboardListen, TLS: cp.pki.servingTLS(), Tokens: cp.pki.tokens,
		Admin: admin, Viewer: viewer, ClusterDomain: cp.cfg.ClusterDomain,
		Logger: cp.cfg.Logger.With("component", "dashboard"),
	})
	if err != nil {
		admin.Close()
		viewer.Close()
		return err
	}
	cp.dashboard = d
	g.Go(func() error {
		defer admin.Close()
		defer viewer.Close()
		return d.Run(ctx)
	})
	select {
	case <-d.Ready():
	case <-ctx.Done():
	}
	return nil
}

func (cp *ControlPlane) dashboardClient(name string) (*client.Client, error) {
	t, err := cp.pki.componentTLS(pki.Identity{Name: name, Groups: []string{pki.DashboardGroup}})
	if err != nil {
		return nil, err
	}
	return client.New(cp.addr, client.Options{TLS: t})
}

// DashboardAddr is where the dashboard listens; empty when it is off.
func (cp *ControlPlane) DashboardAddr() string {
	if cp.dashboard == nil {
		return ""
	}
	return cp.dashboard.Addr()
}
