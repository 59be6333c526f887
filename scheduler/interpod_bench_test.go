package scheduler

import (
	"fmt"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// BenchmarkInterPodDecision times one decision over 5,000 nodes holding
// 30 pods each (150,000 pods of 5,000 apps, one in ten with anti-affinity
// to its app on the hostname), through the cache's label index or by
// scanning every pod, for a pod without inter-pod terms and one with
// required anti-affinity and a zone spread constraint.
func BenchmarkInterPodDecision(b *testing.B) {
	const nodes, perNode, apps = 5000, 30, 5000
	c := newCache()
	for i := range nodes {
		c.setNode(testNode(fmt.Sprintf("n%d", i), "64", "256Gi", maxPods("200"), zoned(fmt.Sprintf("z%d", i%10))))
	}
	for i := range nodes * perNode {
		app := fmt.Sprintf("app-%d", i%apps)
		opts := []func(*skiffv1.Pod){labelled("app", app, "tier", "web"), onNode(fmt.Sprintf("n%d", i%nodes))}
		if i%10 == 0 {
			opts = append(opts, requiredAnti(term(host, map[string]string{"app": app})))
		}
		c.setPod(podN("p", i, "10m", "10Mi", opts...))
	}
	scan := fakeCluster{ScanPods: ScanPods{Nodes: c.list}}
	index := cacheCluster{c: c, namespaces: func(string) (*skiffv1.Namespace, bool) { return nil, false }}
	plain := func(i int) *skiffv1.Pod { return podN("new", i, "100m", "100Mi", labelled("app", "new")) }
	spread := func(i int) *skiffv1.Pod {
		return podN("new", i, "100m", "100Mi", labelled("app", "app-7"),
			requiredAnti(term(host, map[string]string{"app": "app-7"})),
			spreading(&skiffv1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: "DoNotSchedule",
				LabelSelector: &skiffv1.LabelSelector{MatchLabels: map[string]string{"app": "app-7"}}}))
	}
	alg := NewAlgorithm(AlgorithmOptions{})
	// before is the algorithm without the inter-pod plugins, for the cost
	// they add to a plain pod.
	before := NewAlgorithm(AlgorithmOptions{})
	before.filters = before.filters[:len(before.filters)-2]
	before.scorers = before.scorers[:3]
	before.preFilters = []PreFilter{volumeFilter{}}
	b.Run("before/plain", func(b *testing.B) {
		for i := range b.N {
			if _, err := before.Schedule(NewPodInfo(plain(i)), c.list, index); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, cl := range []struct {
		name string
		cl   Cluster
	}{{"index", index}, {"scan", scan}} {
		for _, pod := range []struct {
			name string
			make func(int) *skiffv1.Pod
		}{{"plain", plain}, {"antiAffinityAndSpread", spread}} {
			b.Run(cl.name+"/"+pod.name, func(b *testing.B) {
				b.ReportAllocs()
				for i := range b.N {
					if _, err := alg.Schedule(NewPodInfo(pod.make(i)), c.list, cl.cl); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
