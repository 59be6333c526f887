package jsonpath

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// docInput is the input of the Kubernetes JSONPath documentation page.
const docInput = `{
  "kind": "List",
  "items":[
    {
      "kind":"None",
      "metadata":{
        "name":"127.0.0.1",
        "labels":{"kubernetes.io/hostname":"127.0.0.1"}
      },
      "status":{
        "capacity":{"cpu":"4"},
        "addresses":[{"type": "LegacyHostIP", "address":"127.0.0.1"}]
      }
    },
    {
      "kind":"None",
      "metadata":{"name":"127.0.0.2"},
      "status":{
        "capacity":{"cpu":"8"},
        "addresses":[
          {"type": "LegacyHostIP", "address":"127.0.0.2"},
          {"type": "another", "address":"127.0.0.3"}
        ]
      }
    }
  ],
  "users":[
    {"name": "myself", "user": {}},
    {"name": "e2e", "user": {"username": "admin", "password": "secret"}}
  ],
  "store": {
    "book": [
      {"title": "Sayings", "price": 8.95, "isbn": "0-553-21311-3"},
      {"title": "Sword", "price": 12.99},
      {"title": "Moby Dick", "price": 8.99, "isbn": "0-553-21311-4"},
      {"title": "Rings", "price": 22.99, "isbn": "0-395-19395-8"}
    ],
    "bicycle": {"color": "red", "price": 19.95, "ready": true, "gears": null}
  }
}`

func decode(t *testing.T, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func run(t *testing.T, tmpl string, data any, allowMissing bool) (string, error) {
	t.Helper()
	tp, err := Parse(tmpl)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	err = tp.Execute(&b, data, allowMissing)
	return b.String(), err
}

func TestDocExamples(t *testing.T) {
	data := decode(t, docInput)
	for _, tc := range []struct{ tmpl, want string }{
		// The rows of the documentation's table (maps print as JSON).
		{`kind is {.kind}`, `kind is List`},
		{`{.kind}`, `List`},
		{`{['kind']}`, `List`},
		{`{$.kind}`, `List`},
		{`{.items[0].metadata.labels['kubernetes\.io/hostname']}`, `127.0.0.1`},
		{`{.items[0].metadata.labels.kubernetes\.io/hostname}`, `127.0.0.1`},
		{`{.items[0].metadata.labels['kubernetes.io/hostname']}`, `127.0.0.1`},
		{`{..name}`, `127.0.0.1 127.0.0.2 myself e2e`},
		{`{.items[*].metadata.name}`, `127.0.0.1 127.0.0.2`},
		{`{.users[0].name}`, `myself`},
		{`{.items[*]['metadata.name', 'status.capacity']}`, `127.0.0.1 127.0.0.2 {"cpu":"4"} {"cpu":"8"}`},
		{`{.users[?(@.name=="e2e")].user.password}`, `secret`},
		{`{range .items[*]}[{.metadata.name}, {.status.capacity}] {end}`, `[127.0.0.1, {"cpu":"4"}] [127.0.0.2, {"cpu":"8"}] `},
		{`{.items[-1:].metadata.name}`, `127.0.0.2`},
		{`{range .items[*]}{.metadata.name}{"\t"}{.status.addresses[0].address}{"\n"}{end}`, "127.0.0.1\t127.0.0.1\n127.0.0.2\t127.0.0.2\n"},
		// Indices, slices and unions.
		{`{.store.book[-1].title}`, `Rings`},
		{`{.store.book[1:3].title}`, `Sword Moby Dick`},
		{`{.store.book[:2].title}`, `Sayings Sword`},
		{`{.store.book[::2].title}`, `Sayings Moby Dick`},
		{`{.store.book[0,3].title}`, `Sayings Rings`},
		{`{.store.book[5:9].title}`, ``},
		{`{.store.book[*].price}`, `8.95 12.99 8.99 22.99`},
		{`{.store.*.color}`, `red`},
		{`{..book[2].title}`, `Moby Dick`},
		{`{.store..price}`, `19.95 8.95 12.99 8.99 22.99`},
		// Filters.
		{`{.store.book[?(@.isbn)].title}`, `Sayings Moby Dick Rings`},
		{`{.store.book[?(@.price < 10)].title}`, `Sayings Moby Dick`},
		{`{.store.book[?(@.price<=8.99)].title}`, `Sayings Moby Dick`},
		{`{.store.book[?(@.price > 20)].title}`, `Rings`},
		{`{.store.book[?(@.price >= 12.99)].title}`, `Sword Rings`},
		{`{.store.book[?(@.title != 'Sword')].price}`, `8.95 8.99 22.99`},
		{`{.store.book[?(@.title > "R")].title}`, `Sayings Sword Rings`},
		{`{.store.book[?(@.price == $.store.bicycle.price)].title}`, ``},
		{`{.items[?(@.status.capacity.cpu == "8")].metadata.name}`, `127.0.0.2`},
		// Values other than strings.
		{`{.store.bicycle.ready} {.store.bicycle.gears} {.store.bicycle.price}`, `true null 19.95`},
		{`{.users[1].user}`, `{"password":"secret","username":"admin"}`},
		{`{.items[0].status.addresses}`, `[{"address":"127.0.0.1","type":"LegacyHostIP"}]`},
		{`{.users[?(@.user.username)].name}`, `e2e`},
		// Nested ranges, @, literals and escapes.
		{`{range .items[*]}{.metadata.name}:{range .status.addresses[*]} {.type}{end};{end}`, `127.0.0.1: LegacyHostIP;127.0.0.2: LegacyHostIP another;`},
		{`{range .users[*]}{@.name}{","}{end}`, `myself,e2e,`},
		{`{"a\"b\\c\u00e9"}{'x'}`, `a"b\cé` + `x`},
		{`no braces at all`, `no braces at all`},
		{`{ .kind }`, `List`},
		// Missing keys print nothing by default.
		{`[{.nope}] [{.items[*].nope}] [{.users[7].name}]`, `[] [] []`},
	} {
		got, err := run(t, tc.tmpl, data, true)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.tmpl, got, err, tc.want)
		}
	}
}

func TestMissingKeys(t *testing.T) {
	data := decode(t, docInput)
	for _, tc := range []struct{ tmpl, key string }{
		{`{.nope}`, "nope"},
		{`{.items[0].metadata.namespace}`, "namespace"},
		{`{range .items[*]}{.metadata.labels.zone}{end}`, "zone"},
		{`{.users[7].name}`, "[7] (array of 2)"},
		{`{.kind.sub}`, "sub"},
	} {
		_, err := run(t, tc.tmpl, data, false)
		var me *MissingError
		if !errors.As(err, &me) || me.Key != tc.key || !strings.Contains(err.Error(), tc.key+" is not found") {
			t.Errorf("%s: got %v, want a missing %q", tc.tmpl, err, tc.key)
		}
	}
	// Present keys, wildcards over nothing and .. are no error.
	for _, tmpl := range []string{`{.kind}`, `{.users[0].user.*}`, `{..password}`, `{.store.book[?(@.nope == "x")].title}`} {
		if _, err := run(t, tmpl, data, false); err != nil {
			t.Errorf("%s: %v", tmpl, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		tmpl   string
		offset int
		msg    string
	}{
		{`{.kind`, 6, "missing }"},
		{`a {range .items[*]}{.x}`, 2, "{range} has no {end}"},
		{`{.a}{end}`, 4, "{end} without a {range}"},
		{`{.items[}`, 8, "expected an index"},
		{`{.items[0}`, 9, "want ]"},
		{`{.a.}`, 3, "expected a field name"},
		{`{"abc}`, 1, "unterminated string"},
		{`{.a[?(@.x ~ 1)]}`, 10, "expected =="},
		{`{.a[?@.x]}`, 5, "expected ("},
		{`{.a[1:2:0]}`, 8, "positive step"},
		{`{.a['x', 1]}`, 3, "mixes field names and indices"},
		{`{}`, 1, "expected an expression"},
		{`{.a b}`, 4, "unexpected 'b'"},
		{`{.a[?(@.x == )]}`, 13, "expected @.path"},
	} {
		_, err := Parse(tc.tmpl)
		var pe *Error
		if !errors.As(err, &pe) || pe.Offset != tc.offset || !strings.Contains(pe.Msg, tc.msg) {
			t.Errorf("%s: got %v, want offset %d %q", tc.tmpl, err, tc.offset, tc.msg)
		}
	}
}

func TestParsePath(t *testing.T) {
	data := decode(t, docInput)
	for _, expr := range []string{".kind", "kind", "{.kind}", "{ $.kind }"} {
		p, err := ParsePath(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		got, err := p.Find(data)
		if err != nil || len(got) != 1 || got[0] != "List" {
			t.Errorf("%s: %v %v", expr, got, err)
		}
	}
	p, _ := ParsePath(".users[*].nope")
	if got, err := p.Find(data); err != nil || len(got) != 0 {
		t.Errorf("missing: %v %v", got, err)
	}
	if _, err := ParsePath(".a}{.b"); err == nil {
		t.Error("two expressions accepted as a path")
	}
}

// FuzzTemplate: any template either fails to parse with an Error or runs
// over the document without panicking.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{`{.kind}`, `{range .items[*]}{.metadata.name}{"\t"}{end}`, `{..name}`,
		`{.store.book[?(@.price < 10)].title}`, `{.items[-1:].metadata.name}`, `{.a['b.c', 'd']}`, `{"\u00e9\n"}`,
		`{.a[1:2:3]}`, `{$}`, `{@.x\.y}`, `{.users[?(@.name=="e2e")]}`} {
		f.Add(s)
	}
	var data any
	d := json.NewDecoder(strings.NewReader(docInput))
	d.UseNumber()
	if err := d.Decode(&data); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := Parse(s)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > len(s) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		var b strings.Builder
		for _, allow := range []bool{true, false} {
			if err := tp.Execute(&b, data, allow); err != nil {
				var me *MissingError
				if !errors.As(err, &me) && !strings.Contains(err.Error(), "values") {
					t.Fatalf("%q: %v", s, err)
				}
			}
		}
	})
}

func TestTooManyValues(t *testing.T) {
	// Each union multiplies the values by 16: 16^6 of them.
	u := "[" + strings.Repeat("0,", 15) + "0]"
	nested := decode(t, `[[[[[[1]]]]]]`)
	_, err := run(t, "{$"+strings.Repeat(u, 6)+"}", nested, true)
	if err == nil || !strings.Contains(err.Error(), "finds more than 1048576 values") {
		t.Errorf("got %v", err)
	}
	out, err := run(t, "{$"+strings.Repeat(u, 2)+"}", nested, true)
	if err != nil || len(out) != len(`[[[[1]]]]`)*256+255 {
		t.Errorf("got %d bytes, %v", len(out), err)
	}
}
