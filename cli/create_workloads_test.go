package cli

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// kubectl's first commands: create deployment, expose it, run a pod with
// a service; the objects they store are what kubectl would make.
func TestCreateDeploymentExposeAndRun(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	c := r.srv.Client

	if out := r.ok("create", "deployment", "web", "--image=nginx:1.27", "--replicas=3", "--port=80"); out != "deployment/web created\n" {
		t.Fatalf("create deployment said %q", out)
	}
	dp, err := c.Deployments().Get(ctx, "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	app := map[string]string{"app": "web"}
	if dp.GetSpec().GetReplicas() != 3 || !maps.Equal(dp.GetSpec().GetSelector().GetMatchLabels(), app) ||
		!maps.Equal(dp.GetSpec().GetTemplate().GetMetadata().GetLabels(), app) || !maps.Equal(dp.GetMetadata().GetLabels(), app) {
		t.Errorf("deployment spec %v, labels %v", dp.GetSpec(), dp.GetMetadata().GetLabels())
	}
	ctrs := dp.GetSpec().GetTemplate().GetSpec().GetContainers()
	if len(ctrs) != 1 || ctrs[0].GetName() != "nginx" || ctrs[0].GetImage() != "nginx:1.27" ||
		len(ctrs[0].GetPorts()) != 1 || ctrs[0].GetPorts()[0].GetContainerPort() != 80 {
		t.Errorf("containers %v", ctrs)
	}

	// expose finds the selector and the port.
	if out := r.ok("expose", "deployment", "web"); out != "service/web exposed\n" {
		t.Fatalf("expose said %q", out)
	}
	svc, err := c.Services().Get(ctx, "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	wantPorts := []*skiffv1.ServicePort{{Port: 80, TargetPort: "80", Protocol: "TCP"}}
	if !maps.Equal(svc.GetSpec().GetSelector(), app) || !portsEqual(svc.GetSpec().GetPorts(), wantPorts) ||
		svc.GetSpec().GetType() != skiffv1.ServiceTypeClusterIP || svc.GetSpec().GetClusterIp() == "" || !maps.Equal(svc.GetMetadata().GetLabels(), app) {
		t.Errorf("service %v, labels %v", svc.GetSpec(), svc.GetMetadata().GetLabels())
	}
	// ... or takes them from the flags.
	r.ok("expose", "deploy/web", "--port=8080", "--target-port=http", "--type=NodePort", "--name=web-public", "-l", "tier=edge")
	svc, err = c.Services().Get(ctx, "default", "web-public")
	if err != nil {
		t.Fatal(err)
	}
	if p := svc.GetSpec().GetPorts(); len(p) != 1 || p[0].GetPort() != 8080 || p[0].GetTargetPort() != "http" || p[0].GetNodePort() == 0 ||
		!maps.Equal(svc.GetMetadata().GetLabels(), map[string]string{"tier": "edge"}) {
		t.Errorf("service %v, labels %v", svc.GetSpec(), svc.GetMetadata().GetLabels())
	}

	// run: a pod run=NAME, and with --expose a service in front of it.
	if out := r.ok("run", "db", "--image=postgres:16", "--port=5432", "--env=POSTGRES_PASSWORD=s3cret",
		"--restart=OnFailure", "--expose", "--", "-c", "fsync=off"); out != "service/db created\npod/db created\n" {
		t.Fatalf("run said %q", out)
	}
	pod, err := c.Pods().Get(ctx, "default", "db")
	if err != nil {
		t.Fatal(err)
	}
	want := &skiffv1.Container{Name: "db", Image: "postgres:16", Args: []string{"-c", "fsync=off"},
		Ports: []*skiffv1.ContainerPort{{ContainerPort: 5432}}, Env: []*skiffv1.EnvVar{{Name: "POSTGRES_PASSWORD", Value: "s3cret"}}}
	got := proto.Clone(pod.GetSpec().GetContainers()[0]).(*skiffv1.Container)
	got.ImagePullPolicy, got.TerminationMessagePath, got.TerminationMessagePolicy, got.Resources = "", "", "", nil
	for _, p := range got.Ports {
		p.Protocol = ""
	}
	if !proto.Equal(got, want) || pod.GetSpec().GetRestartPolicy() != "OnFailure" || !maps.Equal(pod.GetMetadata().GetLabels(), map[string]string{"run": "db"}) {
		t.Errorf("pod %v, labels %v", pod.GetSpec(), pod.GetMetadata().GetLabels())
	}
	svc, err = c.Services().Get(ctx, "default", "db")
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(svc.GetSpec().GetSelector(), map[string]string{"run": "db"}) ||
		!portsEqual(svc.GetSpec().GetPorts(), []*skiffv1.ServicePort{{Port: 5432, TargetPort: "5432", Protocol: "TCP"}}) {
		t.Errorf("run --expose service %v", svc.GetSpec())
	}
	// --command makes the words the command.
	r.ok("run", "shell", "--image=busybox", "--command", "--", "sleep", "3600")
	if pod, err := c.Pods().Get(ctx, "default", "shell"); err != nil || !slices.Equal(pod.GetSpec().GetContainers()[0].GetCommand(), []string{"sleep", "3600"}) {
		t.Errorf("run --command: %v, %v", pod.GetSpec().GetContainers(), err)
	}
}

// A pod template with several ports: one service port each, named.
func TestExposeNamesSeveralPorts(t *testing.T) {
	r := newRunner(t)
	rs := &skiffv1.ReplicaSet{
		Metadata: &skiffv1.ObjectMeta{Name: "dns", Namespace: "default"},
		Spec: &skiffv1.ReplicaSetSpec{
			Selector: &skiffv1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "dns"}},
			Template: &skiffv1.PodTemplateSpec{
				Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"k8s-app": "dns"}},
				Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{
					{Name: "dns", Image: "coredns", Ports: []*skiffv1.ContainerPort{{Name: "dns", ContainerPort: 53, Protocol: "UDP"}, {ContainerPort: 53, Protocol: "TCP"}}},
					{Name: "metrics", Image: "exporter", Ports: []*skiffv1.ContainerPort{{ContainerPort: 9153}, {Name: "again", ContainerPort: 53, Protocol: "UDP"}}},
				}},
			},
		},
	}
	if _, err := r.srv.Client.ReplicaSets().Create(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	out := r.ok("expose", "rs", "dns", "--dry-run", "-o", "yaml")
	for _, want := range []string{"apiVersion: v1\nkind: Service\n", "k8s-app: dns\n", "name: dns\n    port: 53\n    protocol: UDP\n",
		"name: port-2\n    port: 53\n    protocol: TCP\n", "name: port-3\n    port: 9153\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("expose -o yaml lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "port: 53\n") != 2 {
		t.Errorf("53/UDP is given twice and must be one port:\n%s", out)
	}
	if _, err := r.srv.Client.Services().Get(context.Background(), "default", "dns"); err == nil {
		t.Error("--dry-run stored the service")
	}
}

// What create deployment --dry-run prints applies as it is.
func TestCreateDeploymentDryRunApplies(t *testing.T) {
	r := newRunner(t)
	out := r.ok("create", "deploy", "clock", "--image=busybox", "--image=registry.local:5000/team/side_car@sha256:0123",
		"--dry-run=client", "-o", "yaml")
	for _, want := range []string{"apiVersion: apps/v1\nkind: Deployment\n", "name: busybox\n", "name: side-car\n", "replicas: 1\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry-run yaml lacks %q:\n%s", want, out)
		}
	}
	if res := r.runIn(strings.NewReader(out), "apply", "-f", "-"); res.e != nil || res.out != "deployment/clock created\n" {
		t.Fatalf("apply of the dry run: %q, %v %s", res.out, res.e, res.err)
	}
}

// Mistakes name the flag, say what to do and store nothing.
func TestCreateDeploymentRunExposeMistakes(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	r.ok("run", "bare", "--image=busybox", "-l", "x=y")
	r.ok("create", "deployment", "web", "--image=nginx", "--port=80")
	exprs := &skiffv1.Deployment{
		Metadata: &skiffv1.ObjectMeta{Name: "exprs", Namespace: "default"},
		Spec: &skiffv1.DeploymentSpec{
			Selector: &skiffv1.LabelSelector{MatchExpressions: []*skiffv1.LabelSelectorRequirement{{Key: "app", Operator: "In", Values: []string{"a"}}}},
			Template: &skiffv1.PodTemplateSpec{Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"app": "a"}},
				Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: "a", Image: "a", Ports: []*skiffv1.ContainerPort{{ContainerPort: 1}}}}}},
		},
	}
	if _, err := r.srv.Client.Deployments().Create(ctx, exprs); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "deployment", "x"}, "--image=IMAGE"},
		{[]string{"create", "deployment", "x", "--image=a", "--replicas=-1"}, "--replicas=-1: give 0 or more"},
		{[]string{"create", "deployment", "x", "--image=a", "--port=70000"}, "--port=70000: give a port from 1 to 65535"},
		{[]string{"create", "deployment", "x", "--image=a", "--image=b", "--", "sh"}, "needs exactly one --image"},
		{[]string{"create", "deployment", "x", "y", "--image=a"}, "give one name, then -- before the command"},
		{[]string{"create", "deployment", "x", "--image=a", "--dry-run=server"}, `--dry-run=server: use "client"`},
		{[]string{"run", "x", "--image=a", "--expose"}, "--expose needs --port"},
		{[]string{"run", "x", "--image=a", "--restart=Sometimes"}, "--restart=Sometimes: use Always, OnFailure or Never"},
		{[]string{"run", "x", "--image=a", "--env=NOVALUE"}, "--env=NOVALUE: give KEY=VALUE"},
		{[]string{"run", "x", "--image=a", "-l", "bad key=v"}, "--labels:"},
		{[]string{"run", "x", "--image=a", "-t"}, "-t/--tty needs -i/--stdin"},
		{[]string{"run", "x", "--image=a", "--rm"}, "--rm needs -i"},
		{[]string{"run", "x", "--image=a", "--attach"}, "--attach needs -i"},
		{[]string{"run", "x", "--image=a", "-i", "--rm", "--dry-run=client"}, "--rm cannot be used with --dry-run"},
		{[]string{"run", "x", "--image=a", "-i", "--pod-running-timeout=0s"}, "--pod-running-timeout=0s: give a positive duration"},
		{[]string{"run", "x", "--image=a", "--image-pull-policy=Sometimes"}, "--image-pull-policy=Sometimes"},
		{[]string{"expose", "configmap", "x"}, "cannot expose a ConfigMap"},
		{[]string{"expose", "deployment"}, "give the deployment's name"},
		{[]string{"expose", "deployment", "missing"}, `"missing" not found`},
		{[]string{"expose", "pod", "bare"}, `pod "bare" declares no container port; give --port=PORT`},
		{[]string{"expose", "deploy", "exprs"}, "matchExpressions"},
		{[]string{"expose", "deploy", "web", "--protocol=SCTP"}, "--protocol=SCTP: use TCP or UDP"},
		{[]string{"expose", "deploy", "web", "--selector=novalue"}, "--selector=novalue: give KEY=VALUE"},
		{[]string{"expose", "deploy", "web", "--name=other", "--type=ExternalName"}, "ExternalName is not supported"},
	} {
		res := r.run(tc.args...)
		if res.e == nil || !strings.Contains(res.e.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, res.e, tc.want)
		}
	}
	if _, err := r.srv.Client.Pods().Get(ctx, "default", "x"); err == nil {
		t.Error("a refused run stored a pod")
	}
	if _, err := r.srv.Client.Deployments().Get(ctx, "default", "x"); err == nil {
		t.Error("a refused create stored a deployment")
	}
	if svcs, _, err := r.srv.Client.Services().List(ctx, client.ListOptions{Namespace: "default"}); err != nil || len(svcs) != 0 {
		t.Errorf("refused exposes stored services: %v, %v", svcs, err)
	}
}

func portsEqual(a, b []*skiffv1.ServicePort) bool {
	return slices.EqualFunc(a, b, func(x, y *skiffv1.ServicePort) bool { return proto.Equal(x, y) })
}

// create job --image, create cronjob and create service make what
// kubectl's do, and the server accepts them.
func TestCreateJobCronJobAndService(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	c := r.srv.Client
	if out := r.ok("create", "job", "hello", "--image=busybox", "--", "echo", "hello world"); out != "job/hello created\n" {
		t.Fatalf("create job said %q", out)
	}
	job, err := c.Jobs().Get(ctx, "default", "hello")
	if err != nil {
		t.Fatal(err)
	}
	ps := job.GetSpec().GetTemplate().GetSpec()
	if ps.GetRestartPolicy() != "Never" || len(ps.GetContainers()) != 1 || ps.GetContainers()[0].GetName() != "hello" ||
		ps.GetContainers()[0].GetImage() != "busybox" || !slices.Equal(ps.GetContainers()[0].GetCommand(), []string{"echo", "hello world"}) {
		t.Errorf("job template %v", ps)
	}

	r.ok("create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *", "--restart=Never", "--", "date")
	cj, err := c.CronJobs().Get(ctx, "default", "tick")
	if err != nil {
		t.Fatal(err)
	}
	ps = cj.GetSpec().GetJobTemplate().GetSpec().GetTemplate().GetSpec()
	if cj.GetSpec().GetSchedule() != "*/5 * * * *" || ps.GetRestartPolicy() != "Never" || ps.GetContainers()[0].GetName() != "tick" ||
		!slices.Equal(ps.GetContainers()[0].GetCommand(), []string{"date"}) {
		t.Errorf("cronjob %v", cj.GetSpec())
	}

	r.ok("create", "service", "clusterip", "web", "--tcp=80:8080", "--tcp=443:https")
	svc, err := c.Services().Get(ctx, "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	want := []*skiffv1.ServicePort{{Name: "80-8080", Port: 80, TargetPort: "8080", Protocol: "TCP"}, {Name: "443-https", Port: 443, TargetPort: "https", Protocol: "TCP"}}
	if !portsEqual(svc.GetSpec().GetPorts(), want) || !maps.Equal(svc.GetSpec().GetSelector(), map[string]string{"app": "web"}) || svc.GetSpec().GetClusterIp() == "" {
		t.Errorf("clusterip service %v", svc.GetSpec())
	}
	r.ok("create", "service", "clusterip", "db", "--clusterip=None", "--tcp=5432")
	if svc, err := c.Services().Get(ctx, "default", "db"); err != nil || svc.GetSpec().GetClusterIp() != skiffv1.ClusterIPNone {
		t.Errorf("headless service %v, %v", svc.GetSpec(), err)
	}
	r.ok("create", "svc", "nodeport", "edge", "--tcp=80:8080", "--node-port=30080")
	if svc, err := c.Services().Get(ctx, "default", "edge"); err != nil || svc.GetSpec().GetType() != skiffv1.ServiceTypeNodePort || svc.GetSpec().GetPorts()[0].GetNodePort() != 30080 {
		t.Errorf("nodeport service %v, %v", svc.GetSpec(), err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "job", "x", "--image=a", "--from=cronjob/tick"}, "give --image or --from, not both"},
		{[]string{"create", "job", "x", "--from=cronjob/tick", "--", "date"}, "drop the words after --"},
		{[]string{"create", "cronjob", "x", "--image=a"}, "give when to run: --schedule"},
		{[]string{"create", "cronjob", "x", "--schedule=@hourly"}, "--image=IMAGE"},
		{[]string{"create", "cronjob", "x", "--image=a", "--schedule=@hourly", "--restart=Always"}, "--restart=Always: a job's pods restart OnFailure or Never"},
		{[]string{"create", "cronjob", "x", "--image=a", "--schedule=not cron"}, "schedule"},
		{[]string{"create", "service", "clusterip", "x"}, "give the ports: --tcp"},
		{[]string{"create", "service", "clusterip", "x", "--tcp=http:80"}, `--tcp=http:80: the port "http" must be a number`},
		{[]string{"create", "service", "clusterip", "x", "--tcp=80:0"}, `the target port "0" must be from 1 to 65535`},
		{[]string{"create", "service", "nodeport", "x", "--tcp=80", "--tcp=81", "--node-port=30001"}, "--node-port goes with exactly one --tcp port"},
	} {
		res := r.run(tc.args...)
		if res.e == nil || !strings.Contains(res.e.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, res.e, tc.want)
		}
	}
	for _, get := range []error{
		func() error { _, err := c.Jobs().Get(ctx, "default", "x"); return err }(),
		func() error { _, err := c.CronJobs().Get(ctx, "default", "x"); return err }(),
		func() error { _, err := c.Services().Get(ctx, "default", "x"); return err }(),
	} {
		if get == nil {
			t.Error("a refused create stored an object")
		}
	}
}
