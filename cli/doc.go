// Package cli holds the skiff command line: apply, get, describe, delete,
// create and version, and the root command the daemons' commands hang from.
//
// Commands are built by constructors (no package-level state) and print only
// to their cobra command's Out and Err writers, so tests run them in-process
// against a real API server (apiserver/apitest) and compare what they print.
// Errors are printed once, as `error: …`, by the root command's wrapper; a
// server that cannot be reached is reported in one line that says how to
// start one. Manifests are decoded by the sub-package manifest.
package cli
