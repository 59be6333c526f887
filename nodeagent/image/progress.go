package image

import "io"

// Progress is one report of a layer download.
type Progress struct {
	Ref   string // canonical reference being pulled
	Layer string // layer digest
	Done  int64  // bytes fetched so far (equal to Total when cached)
	Total int64
}

// ProgressFunc receives progress reports. It is called from the pulling
// goroutines and must not block for long.
type ProgressFunc func(Progress)

// reportStep is how many bytes pass between reports, so a fast local pull
// does not call back once per read.
const reportStep = 256 << 10

type progressReader struct {
	r        io.Reader
	p        Progress
	report   ProgressFunc
	lastSent int64
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.p.Done += int64(n)
	if pr.p.Done-pr.lastSent >= reportStep || (err == io.EOF && pr.p.Done != pr.lastSent) {
		pr.lastSent = pr.p.Done
		pr.report(pr.p)
	}
	return n, err
}
