package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// cpuSeconds is a process's user+system CPU time so far.
func cpuSeconds(pid int) float64 {
	f := statFields(pid)
	if len(f) < 13 {
		return 0
	}
	// Fields after the command name: utime and stime are the 12th and 13th.
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return float64(u+s) / 100 // USER_HZ
}

// statFields are the fields of /proc/PID/stat after the command name.
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
}

// pss is a process's proportional set size in bytes.
func pss(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Pss:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// descendantsCPU sums the CPU seconds of every live descendant of pid
// (the supervisors and the containers' processes, whose CPU before their
// exec was their init's), and counts them. Descendants that have exited
// and been reaped are not counted.
func descendantsCPU(pid int) (total float64, n int) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0
	}
	parent := map[int]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := statFields(p); len(f) > 1 {
			pp, _ := strconv.Atoi(f[1])
			parent[p] = pp
		}
	}
	for p := range parent {
		for a := parent[p]; a > 1; a = parent[a] {
			if a == pid {
				total += cpuSeconds(p)
				n++
				break
			}
		}
	}
	return total, n
}

// supervisorPSS sums the PSS of the container supervisors the agent
// started (its children run as "<program> __skiff-supervise"), and counts
// them.
func supervisorPSS(agent int) (total int64, n int) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f := statFields(pid)
		if len(f) < 2 || f[1] != strconv.Itoa(agent) {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if args := strings.Split(string(cmdline), "\x00"); err == nil && len(args) > 1 && args[1] == "__skiff-supervise" {
			total += pss(pid)
			n++
		}
	}
	return total, n
}
