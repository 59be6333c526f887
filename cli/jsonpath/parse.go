// Package jsonpath runs kubectl's JSONPath templates over decoded JSON
// (values as encoding/json gives them, numbers as json.Number): text with
// {expressions}, {range ...}{end} loops and {"literal"} strings.
package jsonpath

import (
	"fmt"
	"strconv"
	"strings"
)

// Template is a parsed template, ready to run over any number of values.
type Template struct {
	src   string
	nodes []node
}

type node interface{}

// textNode is printed as it is.
type textNode string

// exprNode prints what its path finds, space separated.
type exprNode struct {
	path *Path
}

// rangeNode runs its body once per value its path finds, with @ (and
// relative paths) standing for that value.
type rangeNode struct {
	path *Path
	body []node
}

// Path is one expression: a start ($ the root, @ the current value) and
// the steps that go from it.
type Path struct {
	src   string
	root  bool // starts at $, not at the current value
	steps []step
}

type step interface{}

// fieldStep picks keys of a map (several with ['a','b']). A name of a
// bracket may be a dotted path ('metadata.name'), as kubectl's; a key
// spelled exactly so wins.
type fieldStep struct{ names []fieldName }

type fieldName struct {
	key      string   // the key as written, escapes removed
	segments []string // the path its unescaped dots make
}

// newFieldName reads a name whose dots, unless escaped (\.), separate keys.
func newFieldName(raw string, dotted bool) fieldName {
	var segs []string
	var cur strings.Builder
	for i := 0; i < len(raw); i++ {
		switch {
		case raw[i] == '\\' && i+1 < len(raw) && raw[i+1] == '.':
			cur.WriteByte('.')
			i++
		case raw[i] == '.' && dotted:
			segs = append(segs, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(raw[i])
		}
	}
	segs = append(segs, cur.String())
	return fieldName{key: strings.ReplaceAll(raw, `\.`, "."), segments: segs}
}

// wildcardStep picks every element of an array or value of a map.
type wildcardStep struct{}

// descendStep (..) stands for a value and everything below it; the step
// after it applies to each of those.
type descendStep struct{}

// indexStep picks array elements by index or slice.
type indexStep struct{ items []indexItem }

type indexItem struct {
	slice            bool
	start, end, step int
	hasStart, hasEnd bool
	index            int
}

// filterStep keeps the array elements for which cond holds.
type filterStep struct{ cond *condition }

type condition struct {
	left  operand
	op    string // "" tests that left exists
	right operand
}

type operand struct {
	path  *Path // nil for a literal
	value any   // a string, float64, bool or nil literal
}

// Error is a template that does not parse, with where it went wrong.
type Error struct {
	Template string
	Offset   int
	Msg      string
}

func (e *Error) Error() string {
	return fmt.Sprintf("template %q: at offset %d: %s", e.Template, e.Offset, e.Msg)
}

type parser struct {
	src string
	pos int
}

func (p *parser) fail(at int, format string, args ...any) error {
	return &Error{Template: p.src, Offset: at, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) eof() bool { return p.pos >= len(p.src) }

func (p *parser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.src[p.pos]
}

func (p *parser) skipSpace() {
	for !p.eof() && strings.IndexByte(" \t\r\n", p.src[p.pos]) >= 0 {
		p.pos++
	}
}

// Parse reads a template such as `{range .items[*]}{.metadata.name}{"\n"}{end}`.
func Parse(text string) (*Template, error) {
	p := &parser{src: text}
	type frame struct {
		r   *rangeNode
		at  int
		out *[]node
	}
	var top []node
	out := &top
	var stack []frame
	for !p.eof() {
		open := strings.IndexByte(p.src[p.pos:], '{')
		if open < 0 {
			*out = append(*out, textNode(p.src[p.pos:]))
			break
		}
		if open > 0 {
			*out = append(*out, textNode(p.src[p.pos:p.pos+open]))
		}
		start := p.pos + open
		p.pos = start + 1
		p.skipSpace()
		switch {
		case p.keyword("range"):
			p.skipSpace()
			path, err := p.parsePath()
			if err != nil {
				return nil, err
			}
			if err := p.closeAction(); err != nil {
				return nil, err
			}
			r := &rangeNode{path: path}
			*out = append(*out, r)
			stack = append(stack, frame{r: r, at: start, out: out})
			out = &r.body
		case p.keyword("end"):
			if err := p.closeAction(); err != nil {
				return nil, err
			}
			if len(stack) == 0 {
				return nil, p.fail(start, "{end} without a {range} before it")
			}
			out = stack[len(stack)-1].out
			stack = stack[:len(stack)-1]
		case p.peek() == '"' || p.peek() == '\'':
			s, err := p.parseString()
			if err != nil {
				return nil, err
			}
			if err := p.closeAction(); err != nil {
				return nil, err
			}
			*out = append(*out, textNode(s))
		default:
			path, err := p.parsePath()
			if err != nil {
				return nil, err
			}
			if err := p.closeAction(); err != nil {
				return nil, err
			}
			*out = append(*out, &exprNode{path: path})
		}
	}
	if len(stack) > 0 {
		return nil, p.fail(stack[len(stack)-1].at, "{range} has no {end}")
	}
	return &Template{src: text, nodes: top}, nil
}

// ParsePath reads one expression, with or without braces and a leading
// dot: `{.metadata.name}`, `.metadata.name` and `metadata.name` are the
// same (as custom-columns takes them).
func ParsePath(expr string) (*Path, error) {
	s := strings.TrimSpace(expr)
	if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	p := &parser{src: s}
	path, err := p.parsePath()
	if err != nil {
		return nil, err
	}
	if !p.eof() {
		return nil, p.fail(p.pos, "unexpected %q after the expression", p.src[p.pos:])
	}
	return path, nil
}

// keyword consumes word if it is followed by a space or the action's end.
func (p *parser) keyword(word string) bool {
	rest := p.src[p.pos:]
	if !strings.HasPrefix(rest, word) {
		return false
	}
	if len(rest) > len(word) && strings.IndexByte(" \t\r\n}", rest[len(word)]) < 0 {
		return false
	}
	p.pos += len(word)
	return true
}

func (p *parser) closeAction() error {
	p.skipSpace()
	if p.eof() {
		return p.fail(p.pos, "unclosed action: missing }")
	}
	if p.peek() != '}' {
		return p.fail(p.pos, "unexpected %q in an action, want }", p.peek())
	}
	p.pos++
	return nil
}

// parseString reads a quoted string with Go's escapes (\t, \n, \", \\, \u00e9).
func (p *parser) parseString() (string, error) {
	start := p.pos
	q := p.peek()
	p.pos++
	for !p.eof() && p.src[p.pos] != q {
		if p.src[p.pos] == '\\' {
			p.pos++
		}
		p.pos++
	}
	if p.eof() {
		return "", p.fail(start, "unterminated string")
	}
	p.pos++
	// \. stays as it is: it escapes a dot of a field name.
	lit := strings.ReplaceAll(p.src[start:p.pos], `\.`, `\\.`)
	if q == '\'' {
		// Single quotes take the same escapes; Unquote wants double ones.
		inner := strings.ReplaceAll(lit[1:len(lit)-1], `\'`, `'`)
		lit = `"` + strings.ReplaceAll(inner, `"`, `\"`) + `"`
	}
	s, err := strconv.Unquote(lit)
	if err != nil {
		return "", p.fail(start, "bad string %s", p.src[start:p.pos])
	}
	return s, nil
}

// nameEnd are the bytes that end a field name.
const nameEnd = ".[](){}=!<>,'\" \t\r\n|&"

// parseName reads a field name; \. is a dot inside it.
func (p *parser) parseName() string {
	start := p.pos
	for !p.eof() {
		if p.src[p.pos] == '\\' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '.' {
			p.pos += 2
			continue
		}
		if strings.IndexByte(nameEnd, p.src[p.pos]) >= 0 {
			break
		}
		p.pos++
	}
	return p.src[start:p.pos]
}

func (p *parser) parsePath() (*Path, error) {
	start := p.pos
	path := &Path{}
	switch p.peek() {
	case '$':
		path.root = true
		p.pos++
	case '@':
		p.pos++
	case '.', '[':
	default:
		if name := p.parseName(); name != "" {
			path.steps = append(path.steps, fieldStep{names: []fieldName{newFieldName(name, false)}})
		} else {
			return nil, p.fail(p.pos, "expected an expression such as .metadata.name")
		}
	}
	for !p.eof() {
		switch p.peek() {
		case '.':
			at := p.pos
			p.pos++
			if p.peek() == '.' {
				p.pos++
				path.steps = append(path.steps, descendStep{})
				if p.peek() == '[' {
					continue
				}
			}
			if p.peek() == '*' {
				p.pos++
				path.steps = append(path.steps, wildcardStep{})
				continue
			}
			name := p.parseName()
			if name == "" {
				return nil, p.fail(at, "expected a field name after %q", p.src[at:p.pos])
			}
			path.steps = append(path.steps, fieldStep{names: []fieldName{newFieldName(name, false)}})
		case '[':
			s, err := p.parseBracket()
			if err != nil {
				return nil, err
			}
			path.steps = append(path.steps, s)
		default:
			path.src = p.src[start:p.pos]
			return path, nil
		}
	}
	path.src = p.src[start:p.pos]
	return path, nil
}

func (p *parser) parseBracket() (step, error) {
	open := p.pos
	p.pos++
	p.skipSpace()
	var s step
	switch p.peek() {
	case '*':
		p.pos++
		s = wildcardStep{}
	case '?':
		p.pos++
		if p.peek() != '(' {
			return nil, p.fail(p.pos, "expected ( after ? in a filter")
		}
		p.pos++
		c, err := p.parseCondition()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.peek() != ')' {
			return nil, p.fail(p.pos, "expected ) to close the filter")
		}
		p.pos++
		s = filterStep{cond: c}
	default:
		var names []fieldName
		var items []indexItem
		for {
			p.skipSpace()
			if c := p.peek(); c == '\'' || c == '"' {
				n, err := p.parseString()
				if err != nil {
					return nil, err
				}
				names = append(names, newFieldName(n, true))
			} else {
				it, err := p.parseIndexItem()
				if err != nil {
					return nil, err
				}
				items = append(items, it)
			}
			p.skipSpace()
			if p.peek() != ',' {
				break
			}
			p.pos++
		}
		switch {
		case len(names) > 0 && len(items) > 0:
			return nil, p.fail(open, "a union mixes field names and indices")
		case len(names) > 0:
			s = fieldStep{names: names}
		default:
			s = indexStep{items: items}
		}
	}
	p.skipSpace()
	if p.peek() != ']' {
		if p.eof() {
			return nil, p.fail(open, "unclosed [")
		}
		return nil, p.fail(p.pos, "unexpected %q in [ ], want ]", p.peek())
	}
	p.pos++
	return s, nil
}

// parseInt reads an optional signed integer; ok says whether there was one.
func (p *parser) parseInt() (n int, ok bool, err error) {
	start := p.pos
	if p.peek() == '-' || p.peek() == '+' {
		p.pos++
	}
	for !p.eof() && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		p.pos++
	}
	if p.pos == start {
		return 0, false, nil
	}
	n, err = strconv.Atoi(p.src[start:p.pos])
	if err != nil {
		return 0, false, p.fail(start, "bad index %q", p.src[start:p.pos])
	}
	return n, true, nil
}

func (p *parser) parseIndexItem() (indexItem, error) {
	var it indexItem
	n, ok, err := p.parseInt()
	if err != nil {
		return it, err
	}
	p.skipSpace()
	if p.peek() != ':' {
		if !ok {
			return it, p.fail(p.pos, "expected an index, a slice a:b, *, ?(filter) or a quoted name in [ ]")
		}
		it.index = n
		return it, nil
	}
	it.slice, it.start, it.hasStart, it.step = true, n, ok, 1
	p.pos++
	p.skipSpace()
	if it.end, it.hasEnd, err = p.parseInt(); err != nil {
		return it, err
	}
	p.skipSpace()
	if p.peek() == ':' {
		p.pos++
		p.skipSpace()
		at := p.pos
		st, ok, err := p.parseInt()
		if err != nil {
			return it, err
		}
		if ok {
			if st <= 0 {
				return it, p.fail(at, "slice step %d: give a positive step", st)
			}
			it.step = st
		}
	}
	return it, nil
}

func (p *parser) parseCondition() (*condition, error) {
	p.skipSpace()
	left, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	c := &condition{left: left}
	p.skipSpace()
	if p.peek() == ')' {
		if left.path == nil {
			return nil, p.fail(p.pos, "a filter without an operator tests a path such as @.name")
		}
		return c, nil
	}
	at := p.pos
	for _, op := range []string{"==", "!=", "<=", ">=", "<", ">"} {
		if strings.HasPrefix(p.src[p.pos:], op) {
			c.op = op
			p.pos += len(op)
			break
		}
	}
	if c.op == "" {
		return nil, p.fail(at, "expected ==, !=, <, <=, > or >= in the filter")
	}
	p.skipSpace()
	if c.right, err = p.parseOperand(); err != nil {
		return nil, err
	}
	return c, nil
}

func (p *parser) parseOperand() (operand, error) {
	at := p.pos
	switch c := p.peek(); {
	case c == '@' || c == '$':
		path, err := p.parsePath()
		return operand{path: path}, err
	case c == '\'' || c == '"':
		s, err := p.parseString()
		return operand{value: s}, err
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		for !p.eof() && strings.IndexByte("+-.eE0123456789", p.src[p.pos]) >= 0 {
			p.pos++
		}
		f, err := strconv.ParseFloat(p.src[at:p.pos], 64)
		if err != nil {
			return operand{}, p.fail(at, "bad number %q", p.src[at:p.pos])
		}
		return operand{value: f}, nil
	}
	switch word := p.parseName(); word {
	case "true", "false":
		return operand{value: word == "true"}, nil
	case "null":
		return operand{value: nil}, nil
	}
	return operand{}, p.fail(at, "expected @.path, a quoted string, a number, true, false or null in the filter")
}
