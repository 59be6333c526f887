package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver/validation"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// corpusDir holds manifests taken from the Kubernetes documentation (see its
// README). They are what a Kubernetes user will try first.
const corpusDir = "../../e2e/testdata/kubernetes"

// corpusFloor is the share of the corpus's documents that must decode, pass
// the local checks and the server's defaulting and validation. It is the
// figure measured when support last grew: raise it with the support, never
// lower it.
const corpusFloor = 0.94

// TestKubernetesCorpus decodes every document of the corpus as `skiff apply`
// would, then defaults and validates it as the API server would, and reports
// the share that gets through and why the rest do not (go test -v shows the
// table). No cluster is needed: whether the objects then run is the e2e
// suite's business.
func TestKubernetesCorpus(t *testing.T) {
	files := corpusFiles(t)
	var docs, okDocs, okFiles int
	reasons := map[string][]string{}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(corpusDir, f))
		if err != nil {
			t.Fatal(err)
		}
		fileOK := true
		n := 0
		for _, d := range splitDocuments(data) {
			if isBlank(d.data) {
				continue
			}
			n++
			docs++
			ref := fmt.Sprintf("%s#%d", f, n)
			if err := applyOffline(f, d.data); err != nil {
				fileOK = false
				r := corpusReason(err)
				reasons[r] = append(reasons[r], ref)
				continue
			}
			okDocs++
		}
		if fileOK {
			okFiles++
		}
	}
	share := float64(okDocs) / float64(docs)
	t.Logf("corpus: %d of %d documents (%.0f %%) and %d of %d files get through decoding and validation",
		okDocs, docs, 100*share, okFiles, len(files))
	for _, r := range sortedReasons(reasons) {
		t.Logf("%3d  %s  (%s)", len(reasons[r]), r, strings.Join(first(reasons[r], 3), ", "))
	}
	if share < corpusFloor {
		t.Errorf("%.3f of the corpus gets through; it was %.3f: something that worked is refused now", share, corpusFloor)
	}
}

// applyOffline is what apply and the server do to one document, short of
// storing it: decode, check locally, default, validate.
func applyOffline(file string, doc []byte) error {
	objs, err := Decode(file, doc)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := Check(o); err != nil {
			return err
		}
		if o.Info.Namespaced && o.Obj.GetMetadata().GetNamespace() == "" {
			o.Obj.GetMetadata().Namespace = "default"
		}
		// The server gives a UID before defaulting (a Job's selector is of it).
		o.Obj.GetMetadata().Uid = "00000000-0000-0000-0000-000000000001"
		validation.Default(o.Obj)
		if err := validation.Validate(o.Obj); err != nil {
			return fmt.Errorf("server: %w", err)
		}
		if err := roundTrip(o.Obj); err != nil {
			return fmt.Errorf("printed and read back: %w", err)
		}
	}
	return nil
}

// roundTrip prints an object as `get -o yaml` does and reads it back: it
// must be the same object (so re-applying it says unchanged), in the
// apiVersion and kind it was applied as.
func roundTrip(obj skiffv1.Resource) error {
	j, err := Encode(obj)
	if err != nil {
		return err
	}
	back, err := Decode("printed", j)
	if err != nil {
		return err
	}
	got := back[0].Obj
	validation.Default(got)
	if !proto.Equal(obj, got) {
		return fmt.Errorf("it changed:\n%v\n%v", obj, got)
	}
	return nil
}

func corpusFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(corpusDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			rel, _ := filepath.Rel(corpusDir, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 80 {
		t.Fatalf("the corpus has %d files; expected its ~100", len(files))
	}
	sort.Strings(files)
	return files
}

var (
	reasonPrefix = regexp.MustCompile(`^.*?: document \d+ \([^)]*\): `)
	reasonQuoted = regexp.MustCompile(`"[^"]*"`)
	reasonIndex  = regexp.MustCompile(`\[\d+\]`)
)

// corpusReason shortens an error to what it has in common with others of
// its cause: the first problem, without the document's name and with list
// indexes dropped.
func corpusReason(err error) string {
	var e *Error
	msg := err.Error()
	if errors.As(err, &e) {
		msg = e.Err.Error()
	}
	msg = reasonPrefix.ReplaceAllString(msg, "")
	msg, _, _ = strings.Cut(msg, "; ")
	msg, _, _ = strings.Cut(msg, "\n")
	msg = reasonIndex.ReplaceAllString(msg, "[]")
	msg = dedupeFields(msg)
	if strings.HasPrefix(msg, "server: ") {
		// Validation names values; keep the field only.
		msg = reasonQuoted.ReplaceAllString(msg, "…")
	}
	return msg
}

// dedupeFields folds "a, a, b are not supported" (the same field of several
// list items) into "a, b are not supported".
func dedupeFields(msg string) string {
	list, rest, ok := strings.Cut(msg, " are not supported")
	if !ok {
		return msg
	}
	var out []string
	seen := map[string]bool{}
	for _, f := range strings.Split(list, ", ") {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	verb := " are"
	if len(out) == 1 {
		verb = " is"
	}
	return strings.Join(out, ", ") + verb + " not supported" + rest
}

func sortedReasons(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(m[keys[i]]) != len(m[keys[j]]) {
			return len(m[keys[i]]) > len(m[keys[j]])
		}
		return keys[i] < keys[j]
	})
	return keys
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], "…")
	}
	return s
}
