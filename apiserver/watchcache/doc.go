// Package watchcache serves the API server's watches from one etcd watch
// per kind, as kube-apiserver's cacher does: each change is decoded once,
// kept in a bounded ring of recent events and handed to every watcher whose
// namespace and selector it concerns. Without it every client watch is an
// etcd watch of its own that decodes every event again.
//
// A watcher from a revision inside the ring is served from the ring, then
// live; one from an older revision (or one compacted away) gets a direct
// etcd watch, so what it sees, errors included, is what etcd says. A
// watcher that falls more than its queue behind is ended with ErrTooSlow
// (after the events it was already given) and resumes from its last
// revision like after any broken stream; it never holds up the others.
// When the kind's etcd watch ends (etcd lost its leader, the server stops)
// every watcher of that kind ends with its error and the next watch starts
// a new one.
//
// Lists are read from the kind's objects as well, each object kept with
// its encoding as a list item so that a list is sent without marshalling
// its objects again (see apiserver/listwire). The objects kept share
// their equal parts (share.go): they are read-only, and the pods of one
// template would otherwise each hold a copy of its containers, labels
// and owner references.
package watchcache
