// Package scheduler benchmarks skiff's scheduler, after kube-scheduler's
// scheduler_perf SchedulingBasic: N nodes are registered through the API
// with capacity but no agents, M pods are created, and the figure is pods
// per second from the first create until every pod is bound. A second
// benchmark times one scheduling decision in memory at 5,000 nodes.
//
//	go test ./bench/scheduler -run '^$' -bench . -benchtime 1x
//	go test ./bench/scheduler -run '^$' -bench SchedulingBasic -benchtime 1x -sizes=500x1000,5000x10000
//	go test ./bench/scheduler -run '^$' -bench Decision
//
// `go test` alone (as `make test` runs it) does a small end-to-end smoke run.
package scheduler
