// Package controller benchmarks skiff's replica set controller: a replica
// set on fake nodes (registered through the API, no agents) is scaled from
// 0 to N pods, with the real scheduler binding them. The figures are pods
// created per second until all N exist, and until all N are bound.
//
//	go test ./bench/controller -run '^$' -bench . -benchtime 1x
//	go test ./bench/controller -run '^$' -bench . -benchtime 1x -pods 2000 -nodes 100
//
// `go test` alone does a small smoke run.
package controller
