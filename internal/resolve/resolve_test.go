package resolve

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestParseResolvConf(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"empty", "", nil},
		{"termux default", "nameserver 8.8.8.8\nnameserver 8.8.4.4\n", []string{"8.8.8.8", "8.8.4.4"}},
		{"comments and options", "# generated\n; old style\nsearch lan\noptions ndots:2\nnameserver 9.9.9.9 # quad9\n", []string{"9.9.9.9"}},
		{"whitespace", "  nameserver\t1.1.1.1  \r\nnameserver   2606:4700:4700::1111\n", []string{"1.1.1.1", "2606:4700:4700::1111"}},
		{"zone", "nameserver fe80::1%wlan0\n", []string{"fe80::1%wlan0"}},
		{"mapped v4 is unmapped", "nameserver ::ffff:10.0.0.1\n", []string{"10.0.0.1"}},
		{"bad lines skipped", "nameserver\nnameserver dns.google\nnameservers 1.2.3.4\n#nameserver 5.6.7.8\nnameserver 192.0.2.53\n", []string{"192.0.2.53"}},
		{"no final newline", "nameserver 192.0.2.1", []string{"192.0.2.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, a := range parseResolvConf(tt.text) {
				got = append(got, a.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("parseResolvConf(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestParseResolverAddr(t *testing.T) {
	good := map[string]string{
		"192.0.2.1":         "192.0.2.1:53",
		"192.0.2.1:5353":    "192.0.2.1:5353",
		"::1":               "[::1]:53",
		"[::1]":             "[::1]:53",
		"[2001:db8::1]:853": "[2001:db8::1]:853",
	}
	for in, want := range good {
		got, err := parseResolverAddr(in)
		if err != nil || got.String() != want {
			t.Errorf("parseResolverAddr(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "dns.google", "dns.google:53", "192.0.2.1:0", "192.0.2.1:x", "300.1.1.1"} {
		if got, err := parseResolverAddr(in); !errors.Is(err, errNoResolver) {
			t.Errorf("parseResolverAddr(%q) = %v, %v; want errNoResolver", in, got, err)
		}
	}
}

func TestChooseResolver(t *testing.T) {
	prefix := t.TempDir()
	if err := os.MkdirAll(filepath.Join(prefix, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(prefix, "etc", "resolv.conf")
	if err := os.WriteFile(conf, []byte("# termux\nnameserver 192.0.2.7\nnameserver 192.0.2.8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noSystemConf := func(string) bool { return false }
	systemConf := func(p string) bool { return p == "/etc/resolv.conf" }

	tests := []struct {
		name, addr, prefix string
		exists             func(string) bool
		want               string // "" means keep the default resolver
		wantErr            bool
	}{
		{"flag wins", "192.0.2.1", prefix, noSystemConf, "192.0.2.1:53", false},
		{"flag with port", "[::1]:5300", "", systemConf, "[::1]:5300", false},
		{"bad flag", "dns.google", prefix, noSystemConf, "", true},
		{"termux", "", prefix, noSystemConf, "192.0.2.7:53", false},
		{"system conf present", "", prefix, systemConf, "", false},
		{"no prefix", "", "", noSystemConf, "", false},
		{"prefix without conf", "", t.TempDir(), noSystemConf, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chooseResolver(tt.addr, tt.prefix, tt.exists)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			gotS := ""
			if got.IsValid() {
				gotS = got.String()
			}
			if gotS != tt.want {
				t.Errorf("chooseResolver = %q, want %q", gotS, tt.want)
			}
		})
	}

	// An empty Termux file keeps the default.
	if err := os.WriteFile(conf, []byte("# nothing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := chooseResolver("", prefix, noSystemConf); err != nil || got.IsValid() {
		t.Errorf("empty resolv.conf: got %v, %v; want zero, nil", got, err)
	}
}

// fakeDNS answers A queries for one name on 127.0.0.1 UDP with a fixed
// address and every other query with an empty NOERROR answer. It counts the
// queries it got, so a test can tell that its resolver really asked it.
type fakeDNS struct {
	conn    *net.UDPConn
	name    string // lower-case, with the final dot
	answer  netip.Addr
	queries chan string // "NAME TYPE", one per query
}

func startFakeDNS(t *testing.T, name string, answer netip.Addr) *fakeDNS {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDNS{conn: conn, name: name, answer: answer, queries: make(chan string, 16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return // closed by cleanup
			}
			if resp := f.respond(buf[:n]); resp != nil {
				_, _ = conn.WriteToUDP(resp, from)
			}
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	return f
}

func (f *fakeDNS) addr() string { return f.conn.LocalAddr().String() }

const (
	fakeDNSTypeA     = 1
	fakeDNSClassIN   = 1
	fakeDNSHeaderLen = 12
	fakeDNSTTL       = 60 // seconds
)

// respond builds the reply to one query, or nil for garbage. Layout (RFC 1035
// 4.1): header ID(2) FLAGS(2) QD(2) AN(2) NS(2) AR(2), then the question
// NAME(labels) TYPE(2) CLASS(2); an answer is NAME(ptr 0xC00C) TYPE(2)
// CLASS(2) TTL(4) RDLEN(2) RDATA.
func (f *fakeDNS) respond(q []byte) []byte {
	if len(q) < fakeDNSHeaderLen || binary.BigEndian.Uint16(q[4:]) != 1 {
		return nil
	}
	// Walk the question name.
	var name []byte
	i := fakeDNSHeaderLen
	for {
		if i >= len(q) {
			return nil
		}
		l := int(q[i])
		i++
		if l == 0 {
			break
		}
		if l > 63 || i+l > len(q) {
			return nil
		}
		for _, c := range q[i : i+l] {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			name = append(name, c)
		}
		name = append(name, '.')
		i += l
	}
	if i+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i:])
	qclass := binary.BigEndian.Uint16(q[i+2:])
	qEnd := i + 4
	select {
	case f.queries <- string(name) + " " + map[uint16]string{1: "A", 28: "AAAA"}[qtype]:
	default:
	}

	resp := make([]byte, 0, qEnd+16)
	resp = append(resp, q[0], q[1])                // ID
	flags := uint16(0x8000) | uint16(q[2]&0x01)<<8 // QR, copy RD
	flags |= 0x0080                                // RA
	var an uint16
	if string(name) == f.name && qtype == fakeDNSTypeA && qclass == fakeDNSClassIN {
		an = 1
	}
	resp = binary.BigEndian.AppendUint16(resp, flags)
	resp = binary.BigEndian.AppendUint16(resp, 1)    // QDCOUNT
	resp = binary.BigEndian.AppendUint16(resp, an)   // ANCOUNT
	resp = binary.BigEndian.AppendUint16(resp, 0)    // NSCOUNT
	resp = binary.BigEndian.AppendUint16(resp, 0)    // ARCOUNT
	resp = append(resp, q[fakeDNSHeaderLen:qEnd]...) // question, verbatim
	if an == 1 {
		a4 := f.answer.As4()
		resp = append(resp, 0xC0, fakeDNSHeaderLen) // pointer to the question name
		resp = binary.BigEndian.AppendUint16(resp, fakeDNSTypeA)
		resp = binary.BigEndian.AppendUint16(resp, fakeDNSClassIN)
		resp = binary.BigEndian.AppendUint32(resp, fakeDNSTTL)
		resp = binary.BigEndian.AppendUint16(resp, 4)
		resp = append(resp, a4[:]...)
	}
	return resp
}

// TestResolverUsesServer checks that a resolver made by newResolver sends its
// queries to the given server and uses the answer: the name exists nowhere
// else, so only the fake server can resolve it.
func TestResolverUsesServer(t *testing.T) {
	want := netip.MustParseAddr("192.0.2.77")
	f := startFakeDNS(t, "relay.echorelay.test.", want)
	server := netip.MustParseAddrPort(f.addr())

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := newResolver(server).LookupNetIP(ctx, "ip4", "relay.echorelay.test.")
	if err != nil {
		t.Fatalf("lookup via fake server: %v", err)
	}
	if len(got) != 1 || got[0].Unmap() != want {
		t.Fatalf("lookup = %v, want [%v]", got, want)
	}
	select {
	case q := <-f.queries:
		if q != "relay.echorelay.test. A" {
			t.Errorf("fake server got query %q", q)
		}
	default:
		t.Error("fake server saw no query")
	}
}

// TestSetupResolverInstallsDefault checks the whole path: Setup with
// a flag value replaces net.DefaultResolver, which then asks the fake server.
func TestSetupResolverInstallsDefault(t *testing.T) {
	saved := net.DefaultResolver
	t.Cleanup(func() { net.DefaultResolver = saved })

	want := netip.MustParseAddr("192.0.2.78")
	f := startFakeDNS(t, "peer.echorelay.test.", want)
	if err := Setup(f.addr()); err != nil {
		t.Fatal(err)
	}
	if net.DefaultResolver == saved {
		t.Fatal("Setup did not replace net.DefaultResolver")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", "peer.echorelay.test.")
	if err != nil {
		t.Fatalf("lookup via default resolver: %v", err)
	}
	if len(got) != 1 || got[0].Unmap() != want {
		t.Fatalf("lookup = %v, want [%v]", got, want)
	}

	if err := Setup("not-an-ip"); err == nil {
		t.Error("Setup(not-an-ip) = nil, want error")
	}
}
