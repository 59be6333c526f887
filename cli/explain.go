package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/skiff-sh/skiff/cli/manifest"
	"github.com/skiff-sh/skiff/cli/protodoc"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func newExplainCommand() *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{
		Use:   "explain KIND[.FIELD...]",
		Short: "Describe the fields of a kind, as kubectl explain does",
		Long: `Print what a kind or one of its fields is, with the fields under it and
their types, as manifests spell them. The descriptions come from the
comments of skiff's API definitions, which this binary carries; a field
without one shows only its type.`,
		Example: `  skiff explain pods
  skiff explain deploy.spec.strategy
  skiff explain pod.spec.containers.resources --recursive`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			docs, err := protodoc.Read(skiffv1.ProtoSources())
			if err != nil {
				return err
			}
			return explain(cmd.OutOrStdout(), docs, args[0], recursive)
		},
	}
	cmd.Flags().BoolVar(&recursive, "recursive", false, "list every field below, nested, without descriptions")
	return cmd
}

func explain(w io.Writer, docs protodoc.Docs, path string, recursive bool) error {
	parts := strings.Split(path, ".")
	info, err := parseKind(parts[0])
	if err != nil {
		return err
	}
	md := info.New().ProtoReflect().Descriptor()
	var field protoreflect.FieldDescriptor
	walked := parts[:1]
	for _, name := range parts[1:] {
		if md == nil {
			return fmt.Errorf("%s: a %s has no fields", strings.Join(walked, "."), typeName(field))
		}
		field = fieldByJSONName(md, name)
		if field == nil {
			return fmt.Errorf("field %q does not exist in %s; its fields: %s", name, strings.Join(walked, "."), strings.Join(fieldNames(md), ", "))
		}
		walked = append(walked, name)
		md = messageOf(field)
	}

	fmt.Fprintf(w, "KIND:     %s\nVERSION:  %s\n\n", info.Name, manifest.APIVersion)
	description := docs.Of(md)
	if field != nil {
		fmt.Fprintf(w, "FIELD:    %s <%s>\n\n", field.JSONName(), typeName(field))
		if d := docs.Of(field); d != "" {
			description = d
		}
	}
	fmt.Fprintln(w, "DESCRIPTION:")
	if description == "" {
		description = "<no description>"
	}
	for _, line := range strings.Split(description, "\n") {
		fmt.Fprintln(w, strings.TrimRight("    "+line, " "))
	}
	if md == nil {
		return nil
	}
	fmt.Fprintln(w, "\nFIELDS:")
	if recursive {
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		if field == nil {
			fmt.Fprintf(tw, "  apiVersion\t<string>\n  kind\t<string>\n")
		}
		writeFieldTree(tw, md, "  ", nil)
		return tw.Flush()
	}
	if field == nil {
		writeFieldDoc(w, "apiVersion", "string", manifest.APIVersion+", or the Kubernetes apiVersion of the kind (skiff api-resources lists them).")
		writeFieldDoc(w, "kind", "string", info.Name+".")
	}
	fields := md.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		doc := docs.Of(f)
		if doc == "" && field == nil {
			doc = topLevelDocs[f.Name()]
		}
		writeFieldDoc(w, f.JSONName(), typeName(f), doc)
	}
	return nil
}

// topLevelDocs describe the fields every kind shares, which the API
// definitions leave undocumented on each.
var topLevelDocs = map[protoreflect.Name]string{
	"metadata": "Its name, namespace, labels and annotations, and what the server sets:\nuid, resourceVersion, generation, timestamps.",
	"spec":     "What the object should be: the state asked for.",
	"status":   "What was last observed of the object, written by the server, the\ncontrollers and the node agents.",
}

func writeFieldDoc(w io.Writer, name, typ, doc string) {
	fmt.Fprintf(w, "  %s\t<%s>\n", name, typ)
	if doc == "" {
		doc = "<no description>"
	}
	for _, line := range strings.Split(doc, "\n") {
		fmt.Fprintln(w, strings.TrimRight("    "+line, " "))
	}
	fmt.Fprintln(w)
}

// writeFieldTree lists md's fields and, indented, those of the messages
// they hold; a message already being listed above is not entered again.
func writeFieldTree(w io.Writer, md protoreflect.MessageDescriptor, indent string, open []protoreflect.FullName) {
	open = append(open, md.FullName())
	fields := md.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		fmt.Fprintf(w, "%s%s\t<%s>\n", indent, f.JSONName(), typeName(f))
		if sub := messageOf(f); sub != nil && !containsName(open, sub.FullName()) {
			writeFieldTree(w, sub, indent+"  ", open)
		}
	}
}

func containsName(names []protoreflect.FullName, n protoreflect.FullName) bool {
	for _, m := range names {
		if m == n {
			return true
		}
	}
	return false
}

func fieldByJSONName(md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	if f := md.Fields().ByJSONName(name); f != nil {
		return f
	}
	return md.Fields().ByName(protoreflect.Name(name))
}

func fieldNames(md protoreflect.MessageDescriptor) []string {
	var names []string
	for i := range md.Fields().Len() {
		names = append(names, md.Fields().Get(i).JSONName())
	}
	return names
}

// messageOf is the message a field holds (a map's values, a list's
// items), or nil for a scalar or a well-known type written as a string.
func messageOf(f protoreflect.FieldDescriptor) protoreflect.MessageDescriptor {
	if f.IsMap() {
		f = f.MapValue()
	}
	if f.Kind() != protoreflect.MessageKind || wellKnownString(f.Message()) {
		return nil
	}
	return f.Message()
}

// wellKnownString says whether a message is written as a string in
// manifests: times, durations.
func wellKnownString(md protoreflect.MessageDescriptor) bool {
	switch md.FullName() {
	case "google.protobuf.Timestamp", "google.protobuf.Duration":
		return true
	}
	return false
}

// typeName is a field's type as kubectl explain spells it: string,
// integer, boolean, number, Object names, []T and map[string]T.
func typeName(f protoreflect.FieldDescriptor) string {
	if f == nil {
		return "field"
	}
	if f.IsMap() {
		return "map[string]" + singleTypeName(f.MapValue())
	}
	if f.IsList() {
		return "[]" + singleTypeName(f)
	}
	return singleTypeName(f)
}

func singleTypeName(f protoreflect.FieldDescriptor) string {
	switch f.Kind() {
	case protoreflect.BoolKind:
		return "boolean"
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.EnumKind:
		return "string"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "number"
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if wellKnownString(f.Message()) {
			return "string"
		}
		return string(f.Message().Name())
	}
	return "integer"
}
