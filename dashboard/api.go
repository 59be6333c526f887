package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/skiff-sh/skiff/labels"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// syncWait is how long a request waits for the cache's first lists.
const syncWait = 20 * time.Second

// synced starts the cache if needed and waits for it; false (with a 503
// written) when it did not sync in time.
func (s *Server) synced(w http.ResponseWriter, r *http.Request) bool {
	ctx, cancel := context.WithTimeout(r.Context(), syncWait)
	defer cancel()
	if !s.cache.ensure(ctx) {
		httpError(w, http.StatusServiceUnavailable, "the dashboard is still reading the cluster; retry in a moment")
		return false
	}
	return true
}

type kindJSON struct {
	Kind       string `json:"kind"`
	Plural     string `json:"plural"`
	Namespaced bool   `json:"namespaced"`
}

// kinds lists the kinds the dashboard shows, so the page offers kinds
// added to skiff after it was written.
func (s *Server) kinds(w http.ResponseWriter, _ *http.Request, _ *session) {
	var out []kindJSON
	for _, k := range shownKinds() {
		out = append(out, kindJSON{Kind: k.Name, Plural: k.Plural, Namespaced: k.Namespaced})
	}
	writeJSON(w, out)
}

func kindByPlural(plural string) (skiffv1.KindInfo, bool) {
	for _, k := range shownKinds() {
		if k.Plural == plural {
			return k, true
		}
	}
	return skiffv1.KindInfo{}, false
}

// filter is the namespace and label selector every list takes
// (?namespace=…&labelSelector=…).
func filter(r *http.Request) (func(skiffv1.Resource) bool, error) {
	ns := r.URL.Query().Get("namespace")
	sel, err := labels.Parse(r.URL.Query().Get("labelSelector"))
	if err != nil {
		return nil, err
	}
	return func(o skiffv1.Resource) bool {
		m := o.GetMetadata()
		return (ns == "" || m.GetNamespace() == ns) && sel.Matches(m.GetLabels())
	}, nil
}

type listJSON struct {
	Kind  string            `json:"kind"`
	Items []json.RawMessage `json:"items"`
}

func rawItems(cs []cached) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.json)
	}
	return out
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, _ *session) {
	info, ok := kindByPlural(r.PathValue("plural"))
	if !ok {
		httpError(w, http.StatusNotFound, "unknown kind "+r.PathValue("plural"))
		return
	}
	keep, err := filter(r)
	if err != nil {
		httpError(w, http.StatusBadRequest, "labelSelector: "+err.Error())
		return
	}
	if !s.synced(w, r) {
		return
	}
	items := s.cache.list(info.Kind, keep)
	if info.Kind == skiffv1.Kind_KIND_EVENT {
		sortEventsNewestFirst(items)
	}
	writeJSON(w, listJSON{Kind: info.Name, Items: rawItems(items)})
}

func eventTime(e *skiffv1.Event) time.Time {
	if t := e.GetLastTimestamp(); t != nil {
		return t.AsTime()
	}
	return e.GetMetadata().GetCreationTimestamp().AsTime()
}

func sortEventsNewestFirst(items []cached) {
	sort.SliceStable(items, func(i, j int) bool {
		return eventTime(items[i].obj.(*skiffv1.Event)).After(eventTime(items[j].obj.(*skiffv1.Event)))
	})
}

type podDetailJSON struct {
	Pod    json.RawMessage   `json:"pod"`
	Events []json.RawMessage `json:"events"`
}

// podDetail is a pod with the events about it, newest first.
func (s *Server) podDetail(w http.ResponseWriter, r *http.Request, _ *session) {
	if !s.synced(w, r) {
		return
	}
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	pod, ok := s.cache.get(skiffv1.Kind_KIND_POD, ns, name)
	if !ok {
		httpError(w, http.StatusNotFound, "pod "+ns+"/"+name+" not found")
		return
	}
	events := s.cache.list(skiffv1.Kind_KIND_EVENT, func(o skiffv1.Resource) bool {
		ref := o.(*skiffv1.Event).GetInvolvedObject()
		return ref.GetKind() == "Pod" && ref.GetNamespace() == ns && ref.GetName() == name &&
			(ref.GetUid() == "" || ref.GetUid() == pod.obj.GetMetadata().GetUid())
	})
	sortEventsNewestFirst(events)
	writeJSON(w, podDetailJSON{Pod: pod.json, Events: rawItems(events)})
}

func (s *Server) autoscalerHistory(w http.ResponseWriter, r *http.Request, _ *session) {
	if !s.synced(w, r) {
		return
	}
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	if _, ok := s.cache.get(skiffv1.Kind_KIND_AUTOSCALER, ns, name); !ok {
		httpError(w, http.StatusNotFound, "autoscaler "+ns+"/"+name+" not found")
		return
	}
	writeJSON(w, map[string]any{"window": "1h", "samples": s.cache.history.get(ns, name, s.cfg.Now())})
}

// kindsParam reads ?kinds=pods,nodes; empty means every kind.
func kindsParam(r *http.Request) map[string]bool {
	v := r.URL.Query().Get("kinds")
	if v == "" {
		return nil
	}
	out := map[string]bool{}
	for _, k := range strings.Split(v, ",") {
		out[strings.TrimSpace(k)] = true
	}
	return out
}
