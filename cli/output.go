package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"
	"sigs.k8s.io/yaml"

	"github.com/skiff-sh/skiff/cli/jsonpath"
	"github.com/skiff-sh/skiff/cli/manifest"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// encodeObjects is objects as -o json writes them: one object alone
// (asked for by name) bare, anything else as a List.
func encodeObjects(objs []skiffv1.Resource, single bool) ([]byte, error) {
	if single && len(objs) == 1 {
		return manifest.Encode(objs[0])
	}
	return manifest.EncodeList(objs)
}

// printObjects writes objects as yaml or json; one object alone (asked for
// by name) is printed bare, anything else as a List.
func printObjects(w io.Writer, format string, objs []skiffv1.Resource, single bool) error {
	j, err := encodeObjects(objs, single)
	if err != nil {
		return err
	}
	return writeFormatted(w, format, j)
}

// writeFormatted writes one JSON document as indented JSON or as YAML.
func writeFormatted(w io.Writer, format string, j []byte) error {
	switch format {
	case "json":
		var b bytes.Buffer
		if err := json.Indent(&b, j, "", "    "); err != nil {
			return err
		}
		b.WriteByte('\n')
		_, err := w.Write(b.Bytes())
		return err
	case "yaml":
		y, err := yaml.JSONToYAML(j)
		if err != nil {
			return err
		}
		_, err = w.Write(y)
		return err
	}
	return fmt.Errorf("unknown output format %q", format)
}

// eventTime is when an event last happened, as well as it is known.
func eventTime(e *skiffv1.Event) *timestamppb.Timestamp {
	switch {
	case e.GetLastTimestamp() != nil:
		return e.GetLastTimestamp()
	case e.GetFirstTimestamp() != nil:
		return e.GetFirstTimestamp()
	}
	return e.GetMetadata().GetCreationTimestamp()
}

// sortEvents orders events oldest first, as they happened.
func sortEvents(objs []skiffv1.Resource) {
	sort.SliceStable(objs, func(i, j int) bool {
		a, b := eventTime(objs[i].(*skiffv1.Event)), eventTime(objs[j].(*skiffv1.Event))
		return a.AsTime().Before(b.AsTime())
	})
}

// outputFormats is what --output takes, for help and errors.
const outputFormats = "wide, yaml, json, name, jsonpath=TEMPLATE, jsonpath-file=FILE, custom-columns=HEADER:PATH,... or custom-columns-file=FILE"

// templateOutput is a -o jsonpath or -o custom-columns format, parsed.
type templateOutput struct {
	jsonpath     *jsonpath.Template
	columns      []customColumn
	allowMissing bool // --allow-missing-template-keys
}

type customColumn struct {
	header string
	path   *jsonpath.Path
}

// parseTemplateOutput reads the template formats of --output; for any
// other format it returns nil and no error.
func parseTemplateOutput(output string, allowMissing bool) (*templateOutput, error) {
	name, arg, hasArg := strings.Cut(output, "=")
	switch name {
	case "jsonpath", "jsonpath-file", "custom-columns", "custom-columns-file":
	default:
		return nil, nil
	}
	if !hasArg || arg == "" {
		example := map[string]string{
			"jsonpath": "jsonpath='{.metadata.name}'", "jsonpath-file": "jsonpath-file=FILE",
			"custom-columns": "custom-columns=NAME:.metadata.name", "custom-columns-file": "custom-columns-file=FILE",
		}[name]
		return nil, fmt.Errorf("-o %s needs a template: -o %s", name, example)
	}
	if strings.HasSuffix(name, "-file") {
		b, err := os.ReadFile(arg)
		if err != nil {
			return nil, fmt.Errorf("-o %s: %w", name, err)
		}
		arg = string(b)
	}
	t := &templateOutput{allowMissing: allowMissing}
	var err error
	switch name {
	case "jsonpath", "jsonpath-file":
		t.jsonpath, err = jsonpath.Parse(arg)
	case "custom-columns":
		t.columns, err = parseCustomColumns(arg)
	case "custom-columns-file":
		t.columns, err = parseCustomColumnsFile(arg)
	}
	if err != nil {
		return nil, fmt.Errorf("-o %s: %w", name, err)
	}
	return t, nil
}

// parseCustomColumns reads HEADER:PATH,HEADER:PATH.
func parseCustomColumns(spec string) ([]customColumn, error) {
	var cols []customColumn
	for _, part := range splitColumns(spec) {
		header, path, ok := strings.Cut(part, ":")
		if !ok || header == "" || strings.TrimSpace(path) == "" {
			return nil, fmt.Errorf("column %q: want HEADER:PATH, e.g. NAME:.metadata.name", part)
		}
		p, err := jsonpath.ParsePath(path)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", header, err)
		}
		cols = append(cols, customColumn{header: header, path: p})
	}
	return cols, nil
}

// splitColumns splits a custom-columns spec at the commas that are not
// inside [ ], ( ) or quotes, so unions and filters stay whole.
func splitColumns(spec string) []string {
	var parts []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(spec); i++ {
		c := spec[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '[' || c == '(' || c == '{':
			depth++
		case c == ']' || c == ')' || c == '}':
			depth--
		case c == ',' && depth <= 0:
			parts = append(parts, spec[start:i])
			start = i + 1
		}
	}
	return append(parts, spec[start:])
}

// parseCustomColumnsFile reads kubectl's columns file: a line of headers
// and under it a line of paths, both separated by spaces.
func parseCustomColumnsFile(text string) ([]customColumn, error) {
	var lines [][]string
	for _, l := range strings.Split(text, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			lines = append(lines, f)
		}
	}
	if len(lines) != 2 {
		return nil, fmt.Errorf("want two lines, headers then paths; got %d", len(lines))
	}
	if len(lines[0]) != len(lines[1]) {
		return nil, fmt.Errorf("%d headers but %d paths", len(lines[0]), len(lines[1]))
	}
	var cols []customColumn
	for i, header := range lines[0] {
		p, err := jsonpath.ParsePath(lines[1][i])
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", header, err)
		}
		cols = append(cols, customColumn{header: header, path: p})
	}
	return cols, nil
}

// isColumns says whether the output is a table (custom-columns), which an
// empty list leaves out as the built-in tables do.
func (t *templateOutput) isColumns() bool { return t != nil && t.columns != nil }

// print writes objects through the template: a jsonpath runs over the
// object alone (asked for by name) or else the List, as -o json prints
// them; custom columns make a row per object.
func (t *templateOutput) print(w io.Writer, objs []skiffv1.Resource, single, noHeaders bool) error {
	if t.columns != nil {
		return t.printColumns(w, objs, noHeaders)
	}
	j, err := encodeObjects(objs, single)
	if err != nil {
		return err
	}
	data, err := decodeJSON(j)
	if err != nil {
		return err
	}
	if err := t.jsonpath.Execute(w, data, t.allowMissing); err != nil {
		return fmt.Errorf("-o jsonpath: %w", err)
	}
	return nil
}

func (t *templateOutput) printColumns(w io.Writer, objs []skiffv1.Resource, noHeaders bool) error {
	tw := newTabWriter(w)
	if !noHeaders {
		h := make([]string, len(t.columns))
		for i, c := range t.columns {
			h[i] = c.header
		}
		fmt.Fprintln(tw, strings.Join(h, "\t"))
	}
	for _, o := range objs {
		data, err := objectJSON(o)
		if err != nil {
			return err
		}
		row := make([]string, len(t.columns))
		for i, c := range t.columns {
			vals, err := c.path.Find(data)
			if err != nil {
				return fmt.Errorf("column %s: %w", c.header, err)
			}
			var parts []string
			for _, v := range vals {
				s, err := jsonpath.Format(v)
				if err != nil {
					return fmt.Errorf("column %s: %w", c.header, err)
				}
				parts = append(parts, s)
			}
			row[i] = strings.Join(parts, ",")
			if len(vals) == 0 {
				row[i] = "<none>"
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// decodeJSON decodes a document as jsonpath wants it, numbers unrounded.
// objectJSON is obj as -o json prints it, decoded for a JSONPath.
func objectJSON(obj skiffv1.Resource) (any, error) {
	j, err := manifest.Encode(obj)
	if err != nil {
		return nil, err
	}
	return decodeJSON(j)
}

func decodeJSON(j []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(j))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}
