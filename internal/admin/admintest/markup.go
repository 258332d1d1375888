package admintest

import (
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
)

// Elem is a parsed element of the status page: the page is written as well-formed
// XHTML-compatible markup so that encoding/xml can check and read it. The root that
// ParseMarkup returns has no name.
type Elem struct {
	Name string
	Attr map[string]string
	Kids []*Elem
	Body []any // strings and *Elem in order
}

// Text is the element's text with its children's, white space collapsed.
func (e *Elem) Text() string {
	var b strings.Builder
	for _, x := range e.Body {
		switch v := x.(type) {
		case string:
			b.WriteString(v)
		case *Elem:
			b.WriteString(v.Text())
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// Find returns the first element, in document order, that match accepts; nil for none.
func (e *Elem) Find(match func(*Elem) bool) *Elem {
	if match(e) {
		return e
	}
	for _, k := range e.Kids {
		if f := k.Find(match); f != nil {
			return f
		}
	}
	return nil
}

// Walk calls f for e and every element below it, in document order.
func (e *Elem) Walk(f func(*Elem)) {
	f(e)
	for _, k := range e.Kids {
		k.Walk(f)
	}
}

// All returns the elements with that name (and class word, if not "").
func (e *Elem) All(name, class string) []*Elem {
	var out []*Elem
	e.Walk(func(x *Elem) {
		if x.Name == name && (class == "" || strings.Contains(" "+x.Attr["class"]+" ", " "+class+" ")) {
			out = append(out, x)
		}
	})
	return out
}

// ByID returns the element with that id; nil for none.
func (e *Elem) ByID(id string) *Elem {
	return e.Find(func(x *Elem) bool { return x.Attr["id"] == id })
}

// Has reports whether an element of that name has that id.
func (e *Elem) Has(name, id string) bool {
	return e.Find(func(x *Elem) bool { return x.Name == name && x.Attr["id"] == id }) != nil
}

// TextOf is the Text of the first element of that name; "" for none.
func (e *Elem) TextOf(name string) string {
	if f := e.Find(func(x *Elem) bool { return x.Name == name }); f != nil {
		return f.Text()
	}
	return ""
}

// ParsePage parses a whole page and fails the test unless it is well-formed with one <html>
// root; it returns the (nameless) root above <html>.
func ParsePage(t testing.TB, page string) *Elem {
	t.Helper()
	root, err := ParseMarkup(page)
	if err != nil {
		t.Fatalf("the page is not well-formed: %v\n%s", err, page)
	}
	if len(root.Kids) != 1 || root.Kids[0].Name != "html" {
		t.Fatalf("the page's root is not <html>")
	}
	return root
}

// ParseMarkup reads s strictly (HTML's named entities allowed) into a tree under a nameless
// root; markup that is not well-formed is an error.
func ParseMarkup(s string) (*Elem, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	d.Entity = xml.HTMLEntity
	root := &Elem{Attr: map[string]string{}}
	stack := []*Elem{root}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		top := stack[len(stack)-1]
		switch v := tok.(type) {
		case xml.StartElement:
			e := &Elem{Name: v.Name.Local, Attr: map[string]string{}}
			for _, a := range v.Attr {
				e.Attr[a.Name.Local] = a.Value
			}
			top.Kids = append(top.Kids, e)
			top.Body = append(top.Body, e)
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top.Body = append(top.Body, string(v))
		}
	}
	if len(stack) != 1 {
		return nil, fmt.Errorf("%d elements left open", len(stack)-1)
	}
	return root, nil
}

// ipPattern finds IPv4 addresses and IPv6 addresses with at least two groups ("::1", "fe80::").
var ipPattern = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b|\[?[0-9a-fA-F]{0,4}::[0-9a-fA-F:]*\]?|\b[0-9a-fA-F]{1,4}(:[0-9a-fA-F]{1,4}){7}\b`)

// FindIPs returns the IP addresses in s, by the address check isIP (admin.LooksLikeIP, which
// the status page's scrubber uses; this package cannot import admin, whose tests import it);
// css and times like 10:42:07 are not addresses.
func FindIPs(s string, isIP func(string) bool) []string {
	var out []string
	for _, m := range ipPattern.FindAllString(s, -1) {
		if isIP(m) {
			out = append(out, m)
		}
	}
	return out
}
