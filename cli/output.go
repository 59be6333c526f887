package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"google.golang.org/protobuf/types/known/timestamppb"
	"sigs.k8s.io/yaml"

	"github.com/skiff-sh/skiff/cli/manifest"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// printObjects writes objects as yaml or json; one object alone (asked for
// by name) is printed bare, anything else as a List.
func printObjects(w io.Writer, format string, objs []skiffv1.Resource, single bool) error {
	var j []byte
	var err error
	if single && len(objs) == 1 {
		j, err = manifest.Encode(objs[0])
	} else {
		j, err = manifest.EncodeList(objs)
	}
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
