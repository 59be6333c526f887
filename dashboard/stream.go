package dashboard

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/grpc/status"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// keepAlive is how often an idle stream sends a comment, so a dead
// connection is noticed and proxies keep it open.
const keepAlive = 25 * time.Second

// sse is a server-sent events writer.
type sse struct {
	w http.ResponseWriter
	f http.Flusher
}

func startSSE(w http.ResponseWriter) (*sse, bool) {
	f, ok := w.(http.Flusher)
	if !ok {
		httpError(w, http.StatusInternalServerError, "streaming unsupported")
		return nil, false
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// Reconnect after 2 s when the stream breaks.
	fmt.Fprint(w, "retry: 2000\n\n")
	f.Flush()
	return &sse{w: w, f: f}, true
}

func (s *sse) send(event string, data []byte) error {
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", event, data); err != nil {
		return err
	}
	s.f.Flush()
	return nil
}

func (s *sse) comment() error {
	if _, err := io.WriteString(s.w, ": keep-alive\n\n"); err != nil {
		return err
	}
	s.f.Flush()
	return nil
}

// watch streams what changed in the cache (?kinds=pods,nodes narrows it):
// a "ready" event once the cache has synced, then one "change" per
// object changed. The page reloads what it shows on changes; a stream
// that falls behind is closed and the page reconnects.
func (s *Server) watch(w http.ResponseWriter, r *http.Request, _ *session) {
	if !s.synced(w, r) {
		return
	}
	kinds := kindsParam(r)
	sub := s.cache.subscribe()
	defer s.cache.unsubscribe(sub)
	out, ok := startSSE(w)
	if !ok {
		return
	}
	if out.send("ready", []byte("{}")) != nil {
		return
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-sub.lagged:
			return
		case c := <-sub.ch:
			if kinds != nil && !kinds[c.Kind] {
				continue
			}
			b, _ := json.Marshal(c)
			if out.send("change", b) != nil {
				return
			}
		case <-tick.C:
			if out.comment() != nil {
				return
			}
		}
	}
}

// logs follows a container's log through the API server (which asks the
// pod's agent) as the Viewer — both roles may read logs — and streams it
// as "log" events of JSON strings; "end" when the log ends, "error" with
// the API server's message when it failed.
func (s *Server) logs(w http.ResponseWriter, r *http.Request, _ *session) {
	q := r.URL.Query()
	tail := int64(500)
	if v := q.Get("tailLines"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			httpError(w, http.StatusBadRequest, "tailLines: not a number")
			return
		}
		tail = n
	}
	stream, err := skiffv1.NewPodIOClient(s.cfg.Viewer.Conn()).Logs(r.Context(), &skiffv1.LogsRequest{
		Namespace: r.PathValue("namespace"), Pod: r.PathValue("name"), Container: q.Get("container"),
		Follow: q.Get("follow") != "false", TailLines: tail, Previous: q.Get("previous") == "true",
	})
	if err != nil {
		httpError(w, http.StatusBadGateway, "logs: "+status.Convert(err).Message())
		return
	}
	out, ok := startSSE(w)
	if !ok {
		return
	}
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			out.send("end", []byte("{}"))
			return
		}
		if err != nil {
			if r.Context().Err() == nil {
				b, _ := json.Marshal(status.Convert(err).Message())
				out.send("error", b)
			}
			return
		}
		b, _ := json.Marshal(string(chunk.GetData()))
		if out.send("log", b) != nil {
			return
		}
	}
}
