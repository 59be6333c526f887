// Package e2e holds end-to-end tests: they build the skiff binary, start
// real clusters with it (as root, each inside a network namespace the test
// makes, so the host's network is untouched) and drive them only through
// the command line. Test bodies talk to a small Cluster type, so the same
// test can run against other kinds of cluster.
package e2e
