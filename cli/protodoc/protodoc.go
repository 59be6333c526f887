// Package protodoc reads the comments of .proto files: the text above a
// message, and above (or after) a field, by full name.
package protodoc

import (
	"bufio"
	"io/fs"
	"regexp"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Docs holds the comments of messages and fields by their full names
// ("skiff.v1.PodSpec", "skiff.v1.PodSpec.containers").
type Docs map[protoreflect.FullName]string

// Of is the comment of a message or field descriptor, "" when it has none.
func (d Docs) Of(desc protoreflect.Descriptor) string { return d[desc.FullName()] }

var (
	packageLine = regexp.MustCompile(`^package\s+([\w.]+)\s*;`)
	scopeLine   = regexp.MustCompile(`^(message|enum|oneof)\s+(\w+)\s*\{\s*(\})?`)
	fieldLine   = regexp.MustCompile(`^(?:optional\s+|repeated\s+)?(?:map\s*<[^>]+>|[\w.]+)\s+(\w+)\s*=\s*\d+[^;]*;\s*(?://\s?(.*))?$`)
)

// scope is a block the parser is inside of.
type scope struct {
	kind string // message, enum or oneof
	name protoreflect.FullName
}

// Read parses every .proto file of fsys.
func Read(fsys fs.FS) (Docs, error) {
	paths, err := fs.Glob(fsys, "*.proto")
	if err != nil {
		return nil, err
	}
	docs := Docs{}
	for _, p := range paths {
		f, err := fsys.Open(p)
		if err != nil {
			return nil, err
		}
		err = docs.parse(f)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return docs, nil
}

func (d Docs) parse(r fs.File) error {
	var pkg protoreflect.FullName
	var stack []scope
	var pending []string
	// owner is the message the next field belongs to: the innermost one,
	// through oneofs.
	owner := func() (protoreflect.FullName, bool) {
		for i := len(stack) - 1; i >= 0; i-- {
			switch stack[i].kind {
			case "message":
				return stack[i].name, true
			case "enum":
				return "", false
			}
		}
		return "", false
	}
	parent := func() protoreflect.FullName {
		if len(stack) > 0 {
			return stack[len(stack)-1].name
		}
		return pkg
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "//"):
			pending = append(pending, strings.TrimSpace(strings.TrimPrefix(line, "//")))
			continue
		case line == "":
		case packageLine.MatchString(line):
			pkg = protoreflect.FullName(packageLine.FindStringSubmatch(line)[1])
		case scopeLine.MatchString(line):
			m := scopeLine.FindStringSubmatch(line)
			name := parent().Append(protoreflect.Name(m[2]))
			if m[1] == "oneof" {
				name = parent() // its fields are the message's
			} else if len(pending) > 0 {
				d[name] = strings.Join(pending, "\n")
			}
			if m[3] == "" {
				stack = append(stack, scope{kind: m[1], name: name})
			}
		case strings.HasPrefix(line, "}"):
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case fieldLine.MatchString(line):
			m := fieldLine.FindStringSubmatch(line)
			if msg, ok := owner(); ok {
				text := pending
				if m[2] != "" {
					text = append(text, strings.TrimSpace(m[2]))
				}
				if len(text) > 0 {
					d[msg.Append(protoreflect.Name(m[1]))] = strings.Join(text, "\n")
				}
			}
		}
		pending = nil
	}
	return sc.Err()
}
