package validation

import (
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem with one field.
type FieldError struct {
	Path string
	Msg  string
}

func (e FieldError) Error() string { return e.Path + ": " + e.Msg }

// Errors is every problem found in one object.
type Errors []FieldError

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// errs collects field errors while walking an object.
type errs struct{ list Errors }

func (e *errs) add(path, format string, args ...any) {
	e.list = append(e.list, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// err returns the problems found, ordered by field path so the same object
// always gets the same message (maps iterate in random order).
func (e *errs) err() error {
	if len(e.list) == 0 {
		return nil
	}
	sort.SliceStable(e.list, func(i, j int) bool { return e.list[i].Path < e.list[j].Path })
	return e.list
}

func idx(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
