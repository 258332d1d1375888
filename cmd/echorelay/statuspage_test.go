package main

import (
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/echorelay/echorelay/internal/admin"
)

// The status page's own tests are in internal/admin; these are what the process-level tests
// here share to read a relay's /status.

// historyView is the "history" block of /status.
type historyView = admin.History

// statusReport is /status as `echorelay status` decodes it; Extra are the counters it prints
// with --all.
type statusReport struct {
	admin.Status
	Extra []admin.Counter
}

func parseReport(b []byte) (statusReport, error) {
	s, err := parseStatus(b)
	return statusReport{s, s.Counters()}, err
}

// ipPattern finds IPv4 addresses and IPv6 addresses with at least two groups ("::1", "fe80::").
var ipPattern = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b|\[?[0-9a-fA-F]{0,4}::[0-9a-fA-F:]*\]?|\b[0-9a-fA-F]{1,4}(:[0-9a-fA-F]{1,4}){7}\b`)

// findIPs returns the IP addresses in s; css and times like 10:42:07 are not addresses.
func findIPs(s string) []string {
	var out []string
	for _, m := range ipPattern.FindAllString(s, -1) {
		if looksLikeIP(m) {
			out = append(out, m)
		}
	}
	return out
}

// looksLikeIP reports whether tok is an IP address, optionally bracketed and with a port.
func looksLikeIP(tok string) bool {
	t := tok
	if h, _, err := net.SplitHostPort(t); err == nil {
		t = h
	}
	t = strings.Trim(t, "[]")
	if i := strings.IndexByte(t, '%'); i >= 0 {
		t = t[:i]
	}
	return net.ParseIP(t) != nil
}

// The page parser, as in internal/admin/page_test.go, for the process-level tests of the page.

// elem is a parsed HTML element; the page is written as well-formed XHTML-compatible markup so
// that encoding/xml can check and read it.
type elem struct {
	name string
	attr map[string]string
	kids []*elem
	body []any // strings and *elem in order
}

func (e *elem) text() string {
	var b strings.Builder
	for _, x := range e.body {
		switch v := x.(type) {
		case string:
			b.WriteString(v)
		case *elem:
			b.WriteString(v.text())
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func (e *elem) find(match func(*elem) bool) *elem {
	if match(e) {
		return e
	}
	for _, k := range e.kids {
		if f := k.find(match); f != nil {
			return f
		}
	}
	return nil
}

func (e *elem) walk(f func(*elem)) {
	f(e)
	for _, k := range e.kids {
		k.walk(f)
	}
}

// all returns the elements with that name (and class word, if not "").
func (e *elem) all(name, class string) []*elem {
	var out []*elem
	e.walk(func(x *elem) {
		if x.name == name && (class == "" || strings.Contains(" "+x.attr["class"]+" ", " "+class+" ")) {
			out = append(out, x)
		}
	})
	return out
}

func (e *elem) byID(id string) *elem {
	return e.find(func(x *elem) bool { return x.attr["id"] == id })
}

func (e *elem) has(name, id string) bool {
	return e.find(func(x *elem) bool { return x.name == name && x.attr["id"] == id }) != nil
}

type parsedPage struct{ *elem }

func parseHTML(t *testing.T, page string) parsedPage {
	t.Helper()
	root, err := parseMarkup(page)
	if err != nil {
		t.Fatalf("the page is not well-formed: %v\n%s", err, page)
	}
	if len(root.kids) != 1 || root.kids[0].name != "html" {
		t.Fatalf("the page's root is not <html>")
	}
	return parsedPage{root}
}

func parseMarkup(s string) (*elem, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	d.Entity = xml.HTMLEntity
	root := &elem{attr: map[string]string{}}
	stack := []*elem{root}
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
			e := &elem{name: v.Name.Local, attr: map[string]string{}}
			for _, a := range v.Attr {
				e.attr[a.Name.Local] = a.Value
			}
			top.kids = append(top.kids, e)
			top.body = append(top.body, e)
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top.body = append(top.body, string(v))
		}
	}
	if len(stack) != 1 {
		return nil, fmt.Errorf("%d elements left open", len(stack)-1)
	}
	return root, nil
}
