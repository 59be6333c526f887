package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// APIVersion is skiff's own apiVersion. Manifests may also carry the
// Kubernetes ones of skiffv1.KubernetesAPIVersions, for the kinds of
// skiffv1.KubernetesTypes; those are converted to skiff's objects here.
const APIVersion = "skiff/v1"

// Object is one decoded manifest document.
type Object struct {
	File string // as the user named it; "stdin" for -
	Doc  int    // 1-based document number within File
	Line int    // line of File the document starts on
	Info skiffv1.KindInfo
	Obj  skiffv1.Resource
}

// Name is the object's metadata.name.
func (o Object) Name() string { return o.Obj.GetMetadata().GetName() }

// String names the document for messages: `web.yaml: document 2 (Pod "web")`.
func (o Object) String() string {
	return fmt.Sprintf("%s: document %d (%s %q)", o.File, o.Doc, o.Info.Name, o.Name())
}

// Error is what went wrong with one document. Its text names the file, the
// document and either the object or the line, so a person can find it.
type Error struct {
	File string
	Doc  int
	Line int    // set when the object has no usable name yet
	Ref  string // `Pod "web"`, when known
	Err  error
}

func (e *Error) Error() string {
	where := fmt.Sprintf("line %d", e.Line)
	if e.Ref != "" {
		where = e.Ref
	}
	return fmt.Sprintf("%s: document %d (%s): %v", e.File, e.Doc, where, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Decode reads every document of one YAML (or JSON) stream. Empty documents
// are skipped. Errors of all documents are returned together (errors.Join of
// *Error), so one run shows every problem; on any error no objects are
// returned, as a partly read file must not be applied.
func Decode(file string, data []byte) ([]Object, error) {
	var out []Object
	var errs []error
	n := 0
	for _, d := range splitDocuments(data) {
		if isBlank(d.data) {
			continue
		}
		n++
		objs, err := decodeDocument(file, n, d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, objs...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// yamlLine finds the line in a YAML parser message ("yaml: line 3: …").
var yamlLine = regexp.MustCompile(`^(?:error converting YAML to JSON: )?yaml: line (\d+): (.*)$`)

// yamlParserError matches the messages of yaml.v2's parser (as opposed to
// its scanner), whose line numbers are one short.
var yamlParserError = regexp.MustCompile(`^did not find expected (key|node content|',' or|'-' indicator|<)`)

func decodeDocument(file string, n int, d document) ([]Object, error) {
	fail := func(line int, ref string, err error) error {
		return &Error{File: file, Doc: n, Line: line, Ref: ref, Err: err}
	}
	j, err := yaml.YAMLToJSONStrict(d.data)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
		line := d.line
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			l, _ := strconv.Atoi(m[1])
			msg = m[2]
			if yamlParserError.MatchString(msg) {
				// yaml.v2 reports a parser error at the 0-based line of the
				// construct it was parsing; scanner errors are 1-based.
				l++
			}
			line = d.line + l - 1
		}
		return nil, fail(line, "", errors.New(msg))
	}
	var tree any
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return nil, fail(d.line, "", err)
	}
	top, ok := tree.(map[string]any)
	if !ok {
		if tree == nil {
			return nil, nil
		}
		return nil, fail(d.line, "", fmt.Errorf("a manifest is a mapping with apiVersion, kind, metadata and spec, not %s", typeName(tree)))
	}
	if kind, _ := top["kind"].(string); kind == "List" {
		return decodeList(file, n, d.line, top)
	}
	info, obj, err := decodeObject(top)
	if err != nil {
		return nil, fail(d.line, refOf(top), err)
	}
	return []Object{{File: file, Doc: n, Line: d.line, Info: info, Obj: obj}}, nil
}

// decodeList accepts what `skiff get -o yaml` prints for several objects:
// `kind: List` with items. Each item counts as part of the one document.
func decodeList(file string, n, line int, top map[string]any) ([]Object, error) {
	fail := func(ref string, err error) error { return &Error{File: file, Doc: n, Line: line, Ref: ref, Err: err} }
	if v, err := checkAPIVersion(top); err != nil {
		return nil, fail("", err)
	} else if v != APIVersion && v != "v1" {
		return nil, fail("", fmt.Errorf("a List is skiff/v1 or v1, not %q", v))
	}
	for k := range top {
		if k != "apiVersion" && k != "kind" && k != "items" && k != "metadata" {
			return nil, fail("", unknownField(k, "", []string{"apiVersion", "kind", "items"}))
		}
	}
	items, ok := top["items"].([]any)
	if !ok && top["items"] != nil {
		return nil, fail("", fmt.Errorf("items: expected a list, got %s", typeName(top["items"])))
	}
	var out []Object
	for i, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, fail("", fmt.Errorf("items[%d]: expected a mapping, got %s", i, typeName(it)))
		}
		info, obj, err := decodeObject(m)
		if err != nil {
			return nil, fail(refOf(m), fmt.Errorf("items[%d]: %w", i, err))
		}
		out = append(out, Object{File: file, Doc: n, Line: line, Info: info, Obj: obj})
	}
	return out, nil
}

// checkAPIVersion returns the manifest's apiVersion if it is served.
func checkAPIVersion(top map[string]any) (string, error) {
	v, ok := top["apiVersion"]
	if !ok {
		return "", fmt.Errorf("apiVersion is missing; add `apiVersion: %s` (or a Kubernetes one: %s)",
			APIVersion, strings.Join(skiffv1.KubernetesAPIVersions(), ", "))
	}
	served := append([]string{APIVersion}, skiffv1.KubernetesAPIVersions()...)
	for _, s := range served {
		if v == s {
			return s, nil
		}
	}
	return "", fmt.Errorf("apiVersion %v is not served; skiff serves %s", quoteAny(v), strings.Join(served, ", "))
}

// kindFor resolves a manifest's kind. Manifests use the kind's proper name
// (any case); a plural or short name gets a hint rather than a guess.
func kindFor(v any, present bool) (skiffv1.KindInfo, error) {
	valid := strings.Join(skiffv1.KindNames(), ", ")
	s, _ := v.(string)
	if !present || s == "" {
		return skiffv1.KindInfo{}, fmt.Errorf("kind is missing; valid kinds: %s", valid)
	}
	for _, i := range skiffv1.Kinds() {
		if strings.EqualFold(s, i.Name) {
			return i, nil
		}
	}
	if i, err := skiffv1.ParseKind(s); err == nil {
		return skiffv1.KindInfo{}, fmt.Errorf("kind %q: write `kind: %s`", s, i.Name)
	}
	return skiffv1.KindInfo{}, fmt.Errorf("unknown kind %s; valid kinds: %s", quoteAny(v), valid)
}

// decodeObject turns one manifest mapping into its typed object.
func decodeObject(top map[string]any) (skiffv1.KindInfo, skiffv1.Resource, error) {
	apiVersion, err := checkAPIVersion(top)
	if err != nil {
		return skiffv1.KindInfo{}, nil, err
	}
	kv, present := top["kind"]
	body := make(map[string]any, len(top))
	for k, v := range top {
		if k != "apiVersion" && k != "kind" {
			body[k] = v
		}
	}
	if _, ok := child(body, "metadata")["appliedAs"]; ok {
		// Kept by the server, never written: the top-level apiVersion and
		// kind say it.
		return skiffv1.KindInfo{}, nil, errors.New(`unknown field "appliedAs" in metadata: skiff keeps it; a manifest says it with its apiVersion and kind`)
	}
	if apiVersion != APIVersion {
		return decodeKubernetes(apiVersion, kv, body)
	}
	info, err := kindFor(kv, present)
	if err != nil {
		return info, nil, err
	}
	obj, err := decodeBody(info, body)
	return info, obj, err
}

// decodeKubernetes decodes a manifest of a Kubernetes apiVersion: its
// fields are checked against what skiff implements, converted, and decoded
// as skiff's own; the object remembers what it was applied as.
func decodeKubernetes(apiVersion string, kv any, body map[string]any) (skiffv1.KindInfo, skiffv1.Resource, error) {
	kind, _ := kv.(string)
	if kind == "" {
		return skiffv1.KindInfo{}, nil, fmt.Errorf("kind is missing; %s", servedKinds(apiVersion))
	}
	t, ok := skiffv1.LookupKubernetesType(apiVersion, kind)
	if !ok {
		if v := otherVersion(kind); v != "" {
			return skiffv1.KindInfo{}, nil, fmt.Errorf("a %s is %s, not %s", kind, v, apiVersion)
		}
		return skiffv1.KindInfo{}, nil, fmt.Errorf("kind %s of %s is not supported by skiff yet; %s", quoteAny(kv), apiVersion, servedKinds(apiVersion))
	}
	info, _ := skiffv1.Info(t.HeldBy)
	// As in Kubernetes, a manifest's status is not applied.
	delete(body, "status")
	if err := checkUnsupported(kind, body); err != nil {
		return info, nil, err
	}
	if err := conversionFor(apiVersion, kind).toSkiff(body); err != nil {
		return info, nil, err
	}
	obj, err := decodeBody(info, body)
	if err != nil {
		return info, nil, err
	}
	obj.GetMetadata().AppliedAs = &skiffv1.TypeMeta{ApiVersion: apiVersion, Kind: kind}
	return info, obj, nil
}

// servedKinds says which kinds of apiVersion skiff serves.
func servedKinds(apiVersion string) string {
	var kinds []string
	for _, t := range skiffv1.KubernetesTypes() {
		if t.APIVersion == apiVersion {
			kinds = append(kinds, t.Kind)
		}
	}
	if len(kinds) == 0 {
		return fmt.Sprintf("skiff serves no kind of %s yet", apiVersion)
	}
	return fmt.Sprintf("skiff serves %s of %s", strings.Join(kinds, ", "), apiVersion)
}

// otherVersion names the apiVersion(s) that serve kind, for a manifest that
// gives it under the wrong one.
func otherVersion(kind string) string {
	var vs []string
	for _, t := range skiffv1.KubernetesTypes() {
		if t.Kind == kind {
			vs = append(vs, t.APIVersion)
		}
	}
	return strings.Join(vs, " or ")
}

// decodeBody decodes an object's fields (all but apiVersion and kind)
// in skiff's schema.
func decodeBody(info skiffv1.KindInfo, body map[string]any) (skiffv1.Resource, error) {
	obj := info.New()
	coerced, err := coerceMessage(body, obj.ProtoReflect().Descriptor(), "")
	if err != nil {
		return nil, err
	}
	j, err := json.Marshal(coerced)
	if err != nil {
		return nil, err
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(j, obj); err != nil {
		// The walk has checked names and types; what is left is a value
		// protojson itself refuses (a malformed timestamp, say).
		return nil, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "proto: "))
	}
	if obj.GetMetadata() == nil {
		return nil, errors.New("metadata is missing; every object needs at least metadata.name")
	}
	return obj, nil
}

// refOf names an undecoded document by its kind and name when it has them.
func refOf(top map[string]any) string {
	kind, _ := top["kind"].(string)
	meta, _ := top["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	if kind == "" || name == "" {
		return ""
	}
	return fmt.Sprintf("%s %q", kind, name)
}

func quoteAny(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
