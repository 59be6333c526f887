package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

type result struct {
	p50, p99, max time.Duration
	throughput    float64
	cpuPerOp      time.Duration // this process's CPU time per operation, where measured
}

// Lists read a namespace of listSize pods: a small application's worth.
const (
	listNamespace = "bench-list"
	listSize      = 50
)

// measure runs ops operations of one kind spread over the clients and
// reports latency percentiles and operations per second. Creates make pods
// named <tag>-<i> in "default"; gets read them back.
func measure(ctx context.Context, clients []*client.Client, op string, ops int, tag string) (result, error) {
	lat := make([]time.Duration, ops)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func(c *client.Client) {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= ops {
					return
				}
				t := time.Now()
				var err error
				switch op {
				case "create":
					_, err = c.Pods().Create(ctx, benchPod(fmt.Sprintf("%s-%d", tag, i)))
				case "get":
					_, err = c.Pods().Get(ctx, "default", fmt.Sprintf("%s-%d", tag, i%ops))
				case "list":
					_, _, err = c.Pods().List(ctx, client.ListOptions{Namespace: listNamespace})
				}
				lat[i] = time.Since(t)
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return result{}, firstErr
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return result{
		p50: lat[len(lat)/2], p99: lat[len(lat)*99/100], max: lat[len(lat)-1],
		throughput: float64(ops) / elapsed.Seconds(),
	}, nil
}

func benchPod(name string) *skiffv1.Pod {
	return &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: name, Labels: map[string]string{"app": "bench"}},
		Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{
			Name: "main", Image: "registry.local/app:1",
			Resources: &skiffv1.ResourceRequirements{Requests: map[string]string{"cpu": "100m", "memory": "64Mi"}},
		}}},
	}
}

// fillListNamespace makes the namespace that lists read.
func fillListNamespace(ctx context.Context, c *client.Client) error {
	if _, err := c.Namespaces().Create(ctx, &skiffv1.Namespace{Metadata: &skiffv1.ObjectMeta{Name: listNamespace}}); err != nil {
		return err
	}
	for i := 0; i < listSize; i++ {
		p := benchPod(fmt.Sprintf("p-%d", i))
		p.Metadata.Namespace = listNamespace
		if _, err := c.Pods().Create(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }
