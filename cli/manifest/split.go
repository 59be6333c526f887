package manifest

import (
	"bytes"
	"strings"
)

// document is one YAML document of a stream and the file line it starts on.
type document struct {
	data []byte
	line int // 1-based line of the document's first byte in its file
}

// splitDocuments cuts a YAML stream at `---` separator lines. YAML's own
// multi-document parser stops at the first syntax error; cutting the text
// ourselves keeps the other documents readable and gives each error its
// document number and file line.
func splitDocuments(data []byte) []document {
	var docs []document
	start, startLine := 0, 1
	line := 1
	for pos := 0; pos < len(data); {
		end := bytes.IndexByte(data[pos:], '\n')
		next := len(data)
		if end >= 0 {
			next = pos + end + 1
		}
		if isSeparator(data[pos:next]) {
			docs = append(docs, document{data: data[start:pos], line: startLine})
			start, startLine = next, line+1
		}
		pos = next
		line++
	}
	return append(docs, document{data: data[start:], line: startLine})
}

// isSeparator is true for "---" alone on its line, optionally followed by
// spaces or a comment.
func isSeparator(l []byte) bool {
	s := strings.TrimRight(string(l), "\r\n")
	if !strings.HasPrefix(s, "---") {
		return false
	}
	rest := strings.TrimSpace(s[3:])
	return rest == "" || strings.HasPrefix(rest, "#")
}

// isBlank is true for a document of only whitespace and comments.
func isBlank(data []byte) bool {
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}
