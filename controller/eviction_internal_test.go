package controller

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestEvictionDelayShortestMatchingToleration(t *testing.T) {
	forever := &skiffv1.Toleration{Key: TaintUnreachable, Operator: "Exists"}
	short := &skiffv1.Toleration{Key: TaintUnreachable, Operator: "Exists", TolerationSeconds: proto.Int64(30)}
	longer := &skiffv1.Toleration{Operator: "Exists", TolerationSeconds: proto.Int64(600)}
	pod := func(tols ...*skiffv1.Toleration) *skiffv1.Pod {
		return &skiffv1.Pod{Spec: &skiffv1.PodSpec{Tolerations: tols}}
	}
	cases := []struct {
		name    string
		pod     *skiffv1.Pod
		want    time.Duration
		forever bool
	}{
		{"none", pod(), time.Minute, false},
		{"forever only", pod(forever), 0, true},
		{"forever then timed", pod(forever, short), 30 * time.Second, false},
		{"longer then shorter", pod(longer, short), 30 * time.Second, false},
	}
	for _, c := range cases {
		d, f := evictionDelay(c.pod, time.Minute)
		if d != c.want || f != c.forever {
			t.Errorf("%s: evictionDelay = %v, %v; want %v, %v", c.name, d, f, c.want, c.forever)
		}
	}
}
