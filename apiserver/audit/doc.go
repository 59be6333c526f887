// Package audit records every mutating API request — who, what, on which
// object, with what result, when and how long it took — as JSON lines in a
// file that rotates by size. Reads (Get, List, Watch, usage queries) are
// not recorded: they are most of the traffic and change nothing.
//
// The interceptors sit between authentication and authorization (see
// auth.Guard.ServerOptions), so refused requests are recorded too, with
// the identity that was refused.
package audit
