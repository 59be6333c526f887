package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// rolloutStatusArg reads KIND/NAME or KIND NAME for rollout status: a
// deployment, daemon set or stateful set.
func rolloutStatusArg(args []string) (skiffv1.KindInfo, string, error) {
	var kind, name string
	switch {
	case len(args) == 1 && strings.Contains(args[0], "/"):
		kind, name, _ = strings.Cut(args[0], "/")
	case len(args) == 2:
		kind, name = args[0], args[1]
	default:
		return skiffv1.KindInfo{}, "", errors.New("give the workload as deploy/NAME, ds/NAME or sts/NAME")
	}
	info, err := parseKind(kind)
	if err != nil {
		return info, "", err
	}
	switch info.Kind {
	case skiffv1.Kind_KIND_DEPLOYMENT, skiffv1.Kind_KIND_DAEMON_SET, skiffv1.Kind_KIND_STATEFUL_SET:
	default:
		return info, "", fmt.Errorf("a %s has no rollout: only deployments (deploy), daemon sets (ds) and stateful sets (sts) do", info.Name)
	}
	if name == "" {
		return info, "", fmt.Errorf("the %s's name is empty", lower(info))
	}
	return info, name, nil
}

// daemonSetStatusMessage is kubectl's rollout status of a daemon set.
func daemonSetStatusMessage(ds *skiffv1.DaemonSet) (string, bool, error) {
	name, st := ds.GetMetadata().GetName(), ds.GetStatus()
	if ds.GetSpec().GetUpdateStrategy().GetType() != "RollingUpdate" {
		return "", false, errors.New("rollout status is only available for RollingUpdate strategy type")
	}
	switch {
	case ds.GetMetadata().GetGeneration() > st.GetObservedGeneration():
		return "Waiting for daemon set spec update to be observed...", false, nil
	case st.GetUpdatedNumberScheduled() < st.GetDesiredNumberScheduled():
		return fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d out of %d new pods have been updated...", name, st.GetUpdatedNumberScheduled(), st.GetDesiredNumberScheduled()), false, nil
	case st.GetNumberAvailable() < st.GetDesiredNumberScheduled():
		return fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d of %d updated pods are available...", name, st.GetNumberAvailable(), st.GetDesiredNumberScheduled()), false, nil
	}
	return fmt.Sprintf("daemon set %q successfully rolled out", name), true, nil
}

// statefulSetStatusMessage is kubectl's rollout status of a stateful set.
func statefulSetStatusMessage(s *skiffv1.StatefulSet) (string, bool, error) {
	spec, st := s.GetSpec(), s.GetStatus()
	if spec.GetUpdateStrategy().GetType() != "RollingUpdate" {
		return "", false, errors.New("rollout status is only available for RollingUpdate strategy type")
	}
	replicas := desiredReplicas(spec.Replicas)
	switch {
	case st.GetObservedGeneration() == 0 || s.GetMetadata().GetGeneration() > st.GetObservedGeneration():
		return "Waiting for statefulset spec update to be observed...", false, nil
	case st.GetReadyReplicas() < replicas:
		return fmt.Sprintf("Waiting for %d pods to be ready...", replicas-st.GetReadyReplicas()), false, nil
	}
	if p := spec.GetUpdateStrategy().GetRollingUpdate().Partition; p != nil {
		if st.GetUpdatedReplicas() < replicas-*p {
			return fmt.Sprintf("Waiting for partitioned roll out to finish: %d out of %d new pods have been updated...", st.GetUpdatedReplicas(), replicas-*p), false, nil
		}
		return fmt.Sprintf("partitioned roll out complete: %d new pods have been updated...", st.GetUpdatedReplicas()), true, nil
	}
	if st.GetUpdateRevision() != st.GetCurrentRevision() {
		return fmt.Sprintf("waiting for statefulset rolling update to complete %d pods at revision %s...", st.GetUpdatedReplicas(), st.GetUpdateRevision()), false, nil
	}
	return fmt.Sprintf("statefulset rolling update complete %d pods at revision %s...", st.GetCurrentReplicas(), st.GetCurrentRevision()), true, nil
}

// waitWorkloadRollout polls a daemon set or stateful set, printing each
// new progress line.
func waitWorkloadRollout(ctx context.Context, e *env, c *client.Client, info skiffv1.KindInfo, name string, watch bool, out io.Writer) error {
	last := ""
	for {
		cctx, cancel := e.call(ctx)
		var msg string
		var done bool
		var err error
		if info.Kind == skiffv1.Kind_KIND_DAEMON_SET {
			var ds *skiffv1.DaemonSet
			if ds, err = c.DaemonSets().Get(cctx, e.ns(), name); err == nil {
				msg, done, err = daemonSetStatusMessage(ds)
			}
		} else {
			var s *skiffv1.StatefulSet
			if s, err = c.StatefulSets().Get(cctx, e.ns(), name); err == nil {
				msg, done, err = statefulSetStatusMessage(s)
			}
		}
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("timed out waiting for the rollout of %s %q", lower(info), name)
			}
			return err
		}
		if msg != last {
			fmt.Fprintln(out, msg)
			last = msg
		}
		if done || !watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for the rollout of %s %q", lower(info), name)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
