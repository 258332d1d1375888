package group

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo/seal"
)

var update = flag.Bool("update", false, "regenerate testdata/vectors.json from the fixed inputs in this file")

const vectorPath = "testdata/vectors.json"

// The vectors are pure functions of the fixed inputs below (Ed25519 signs deterministically),
// so the generator and the checker compute the same bytes; -update rewrites the file.
type vectorFile struct {
	Comment  []string        `json:"comment"`
	Chains   []chainVector   `json:"chains"`
	Epochs   []epochVector   `json:"epochs"`
	Controls []controlVector `json:"controls"`
	Messages []messageVector `json:"messages"`
	// Announcements: chain announcements, signed with the sender's long-term keys.
	Announcements []announceVector `json:"announcements"`
	Bad           []badVector      `json:"bad"`
}

type announceVector struct {
	Name        string `json:"name"`
	Group       string `json:"group_id"`
	Secret      string `json:"epoch_secret"`
	AnnounceKey string `json:"announce_key"`
	Sender      string `json:"sender_fp"`
	EdSeed      string `json:"ed25519_seed"` // the sender's long-term keys: seeds, and
	DSASeed     string `json:"mldsa65_seed"` // sig_keys = ed25519_pk || mldsa65_pk
	SigKeys     string `json:"sig_keys"`
	SenderKey   string `json:"sender_key_payload"`
	Nonce       string `json:"nonce"`
	Blob        string `json:"blob"` // ML-DSA-65 signs in its deterministic mode here
}

type chainVector struct {
	ChainKey   string `json:"chain_key"`
	Group      string `json:"group_id"`
	Sender     string `json:"sender_fp"`
	Generation uint32 `json:"generation"`
	Index      uint32 `json:"index"`
	MessageKey string `json:"message_key"`
	Next       string `json:"next_chain_key"`
}

type epochVector struct {
	Secret    string `json:"epoch_secret"`
	Group     string `json:"group_id"`
	Day       uint64 `json:"day"`
	HeaderKey string `json:"header_key"`
	Tag       string `json:"tag"`
}

type controlVector struct {
	Name    string `json:"name"`
	Kind    Kind   `json:"kind"`
	Payload string `json:"payload"`
}

type messageVector struct {
	Name       string `json:"name"`
	Group      string `json:"group_id"`
	Secret     string `json:"epoch_secret"`
	Sender     string `json:"sender_fp"`
	Generation uint32 `json:"generation"`
	Index      uint32 `json:"index"`
	ChainKey   string `json:"chain_key"` // of Index
	SigSeed    string `json:"ed25519_seed"`
	TimeMS     int64  `json:"time_ms"`
	MsgID      string `json:"msg_id"`
	Type       uint8  `json:"content_type"`
	Content    string `json:"content"`
	Nonce      string `json:"nonce"`
	Blob       string `json:"blob"`
}

type badVector struct {
	Name    string `json:"name"`
	Payload string `json:"payload"` // a control payload ParseCommit/ParseSenderKey/ParseProposal refuses
}

func fill(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func h(b []byte) string { return hex.EncodeToString(b) }

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("vector: %v", err)
	}
	return b
}

// vectorInputs are the fixed inputs of the vectors.
func vectorInputs() (controls []controlVector, msgs []messageVector, bad []badVector) {
	id := ID(fill(0x11, IDSize))
	admin, m1, m2 := Fingerprint(fill(0xa0, 32)), Fingerprint(fill(0xb1, 32)), Fingerprint(fill(0xc2, 32))
	commit := Commit{Group: id, Epoch: 1, Time: time.UnixMilli(1767225600000), Admin: admin, Policy: PolicyAdmin,
		Name: "class 5b", EpochSecret: [32]byte(fill(0x5e, 32)),
		Members: []Member{{FP: admin, KeyHash: testKeyHash(admin), Nick: ""}, {FP: m1, KeyHash: testKeyHash(m1), Nick: "sam"}, {FP: m2, KeyHash: testKeyHash(m2), Nick: "ana"}}}
	removal := commit
	removal.Epoch, removal.Policy, removal.EpochSecret = 2, PolicyOpen, [32]byte(fill(0x5f, 32))
	removal.Members = commit.Members[:2]
	removal.Cutoffs = []Cutoff{{FP: m2, Ends: []ChainEnd{{Generation: 0, End: 7}, {Generation: 1, End: 2}}}}
	add := func(name string, k Kind, b []byte, err error) {
		if err != nil {
			panic(err)
		}
		controls = append(controls, controlVector{Name: name, Kind: k, Payload: h(b)})
	}
	b, err := commit.Marshal()
	add("commit: creation with three members", KindCommit, b, err)
	b2, err := removal.Marshal()
	add("commit: removal with a cutoff, open policy", KindCommit, b2, err)
	sk := SenderKey{Group: id, Epoch: 2, Generation: 1, Index: 5, ChainKey: [32]byte(fill(0xc4, 32)), SigPub: [32]byte(fill(0x99, 32))}
	add("sender key", KindSenderKey, sk.Marshal(), nil)
	lee := Fingerprint(fill(0xd3, 32))
	p := Proposal{Group: id, Op: OpAdd, FP: lee, Nick: "lee", KeyHash: testKeyHash(lee)}
	pb, err := p.Marshal()
	add("proposal: add", KindProposal, pb, err)
	lv := Proposal{Group: id, Op: OpRemove, FP: m1}
	lb, err := lv.Marshal()
	add("proposal: leave", KindProposal, lb, err)

	msgs = []messageVector{
		{Name: "short text", Generation: 0, Index: 0, Type: 1, Content: h([]byte("see you at nine in room 4"))},
		{Name: "text after a rotation, index 41", Generation: 3, Index: 41, Type: 1, Content: h([]byte("hi"))},
		{Name: "empty content of an unknown type", Generation: 0, Index: 7, Type: 200, Content: ""},
	}
	for i := range msgs {
		m := &msgs[i]
		m.Group, m.Secret, m.Sender = h(id[:]), h(fill(0x5e, 32)), h(m1[:])
		m.ChainKey, m.SigSeed = h(fill(byte(0x20+i), 32)), h(fill(byte(0x30+i), 32))
		m.TimeMS, m.MsgID, m.Nonce = 1767225600000+int64(i)*1000, h(fill(byte(0x40+i), 16)), h(fill(byte(0x50+i), 24))
	}

	cut := func(b []byte, n int) []byte { return append([]byte(nil), b[:n]...) }
	set := func(b []byte, i int, v byte) []byte { c := append([]byte(nil), b...); c[i] = v; return c }
	bad = []badVector{
		{"commit cut short", h(cut(b, len(b)-1))},
		{"commit with a trailing byte", h(append(append([]byte(nil), b...), 0))},
		{"wrong magic", h(set(b, 0, 'X'))},
		{"control version 2", h(set(b, 3, 2))},
		{"unknown kind", h(set(b, 4, 9))},
		{"commit of epoch 0", h(set(b, 24, 0))},
		{"policy 2", h(set(b, 21+4+8+32, 2))},
		{"sender key of 96 bytes", h(cut(sk.Marshal(), 96))},
		{"proposal op 3", h(set(pb, 21, 3))},
		{"remove proposal with a nick", h(append(set(lb, len(lb)-1, 1), 'x'))},
	}
	// Members out of order: swap the first two member records of the creation commit.
	sw := append([]byte(nil), b...)
	off := 21 + 4 + 8 + 32 + 1 + 1 + len("class 5b") + 32 + 1
	const rec = 32 + 32 + 1
	r1 := append([]byte(nil), sw[off:off+rec]...)         // admin, empty nick
	r2 := append([]byte(nil), sw[off+rec:off+2*rec+3]...) // sam
	copy(sw[off:], r2)
	copy(sw[off+rec+3:], r1)
	bad = append(bad, badVector{"members not ascending", h(sw)})
	badKeys := append([]byte(nil), b...)
	copy(badKeys[off+32:], make([]byte, 32))
	bad = append(bad, badVector{"a member without its keys' hash (all zero)", h(badKeys)})
	return controls, msgs, bad
}

func announceInputs() []announceVector {
	id, m1 := ID(fill(0x11, IDSize)), Fingerprint(fill(0xb1, 32))
	var out []announceVector
	for i, k := range []SenderKey{
		{Group: id, Epoch: 1, Generation: 0, Index: 0, ChainKey: [32]byte(fill(0x61, 32)), SigPub: [32]byte(fill(0x71, 32))},
		{Group: id, Epoch: 2, Generation: 1, Index: 12, ChainKey: [32]byte(fill(0x62, 32)), SigPub: [32]byte(fill(0x72, 32))},
	} {
		sec := fill(byte(0x5e+i), 32)
		ak := announceKey([32]byte(sec), id)
		keys := testKeys(m1)
		edSeed := testKeyOf(m1).ed.Seed()
		dsaSeed := testDSASeed(m1)
		out = append(out, announceVector{Name: []string{"join, epoch 1", "after a removal, epoch 2"}[i],
			Group: h(id[:]), Secret: h(sec), AnnounceKey: h(ak[:]), Sender: h(m1[:]), EdSeed: h(edSeed), DSASeed: h(dsaSeed[:]),
			SigKeys: h(keys[:]), SenderKey: h(k.Marshal()), Nonce: h(fill(byte(0x80+i), 24))})
	}
	return out
}

func buildAnnouncement(t *testing.T, v announceVector) []byte {
	keys := SigKeys(unhex(t, v.SigKeys))
	b, err := sealAnnouncement([32]byte(unhex(t, v.AnnounceKey)), [24]byte(unhex(t, v.Nonce)), Fingerprint(unhex(t, v.Sender)),
		&keys, unhex(t, v.SenderKey), testSigner(Fingerprint(unhex(t, v.Sender))))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func buildMessage(t *testing.T, m messageVector) []byte {
	id, sec := ID(unhex(t, m.Group)), [32]byte(unhex(t, m.Secret))
	sk := ed25519.NewKeyFromSeed(unhex(t, m.SigSeed))
	mk, _ := chainStep([32]byte(unhex(t, m.ChainKey)), id, Fingerprint(unhex(t, m.Sender)), m.Generation, m.Index)
	in := inner{time: time.UnixMilli(m.TimeMS), id: seal.MessageID(unhex(t, m.MsgID)), typ: seal.ContentType(m.Type), content: unhex(t, m.Content)}
	return sealBlob(id, headerKey(sec, id), mk, sk, header{sender: Fingerprint(unhex(t, m.Sender)), gen: m.Generation, index: m.Index}, in, [24]byte(unhex(t, m.Nonce)))
}

func generateVectors(t *testing.T) vectorFile {
	f := vectorFile{Comment: []string{
		"Test vectors of PROTOCOL.md section Groups, generated by go test ./client/group -run TestVectors -update.",
		"All byte strings are hex. chains: mk || next = HKDF-SHA3-256(chain_key, info = label || group_id || sender_fp || generation || index).",
		"epochs: header key and the mailbox tag of one day. controls: payloads that parse and marshal to the same bytes.",
		"messages: blob = what sealing the inputs gives (Ed25519 signs deterministically); it opens back to them.",
		"announcements: announce_key = HKDF-SHA3-256(epoch_secret, info = label || group_id); the blob opens with it and both signatures verify with sig_keys.",
		"bad: control payloads every parser refuses as malformed.",
	}}
	for i := range 3 {
		ck, id, s := [32]byte(fill(byte(1+i), 32)), ID(fill(0x11, IDSize)), Fingerprint(fill(0xb1, 32))
		mk, next := chainStep(ck, id, s, uint32(i), uint32(i*1000))
		f.Chains = append(f.Chains, chainVector{h(ck[:]), h(id[:]), h(s[:]), uint32(i), uint32(i * 1000), h(mk[:]), h(next[:])})
	}
	for i, day := range []uint64{20454, 20455} {
		sec, id := [32]byte(fill(byte(0x5e+i), 32)), ID(fill(0x11, IDSize))
		hk, tag := headerKey(sec, id), tagFor(sec, id, day)
		f.Epochs = append(f.Epochs, epochVector{h(sec[:]), h(id[:]), day, h(hk[:]), h(tag[:])})
	}
	var msgs []messageVector
	f.Controls, msgs, f.Bad = vectorInputs()
	for _, m := range msgs {
		m.Blob = h(buildMessage(t, m))
		f.Messages = append(f.Messages, m)
	}
	for _, a := range announceInputs() {
		a.Blob = h(buildAnnouncement(t, a))
		f.Announcements = append(f.Announcements, a)
	}
	return f
}

func TestVectors(t *testing.T) {
	want := generateVectors(t)
	if *update {
		b, err := json.MarshalIndent(want, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(vectorPath)
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Chains) == 0 || len(f.Epochs) == 0 || len(f.Controls) == 0 || len(f.Messages) == 0 || len(f.Bad) == 0 {
		t.Fatal("a section of the vectors is empty")
	}
	for _, v := range f.Chains {
		mk, next := chainStep([32]byte(unhex(t, v.ChainKey)), ID(unhex(t, v.Group)), Fingerprint(unhex(t, v.Sender)), v.Generation, v.Index)
		if h(mk[:]) != v.MessageKey || h(next[:]) != v.Next {
			t.Errorf("chain step of index %d differs", v.Index)
		}
	}
	for _, v := range f.Epochs {
		sec, id := [32]byte(unhex(t, v.Secret)), ID(unhex(t, v.Group))
		hk, tag := headerKey(sec, id), tagFor(sec, id, v.Day)
		if h(hk[:]) != v.HeaderKey || h(tag[:]) != v.Tag {
			t.Errorf("epoch keys of day %d differ", v.Day)
		}
	}
	for _, v := range f.Controls {
		p := unhex(t, v.Payload)
		var again []byte
		switch v.Kind {
		case KindCommit:
			c, err := ParseCommit(p)
			if err != nil {
				t.Fatalf("%s: %v", v.Name, err)
			}
			again, _ = c.Marshal()
		case KindSenderKey:
			k, err := ParseSenderKey(p)
			if err != nil {
				t.Fatalf("%s: %v", v.Name, err)
			}
			again = k.Marshal()
		case KindProposal:
			pp, err := ParseProposal(p)
			if err != nil {
				t.Fatalf("%s: %v", v.Name, err)
			}
			again, _ = pp.Marshal()
		}
		if !bytes.Equal(again, p) {
			t.Errorf("%s: parse then marshal differs", v.Name)
		}
	}
	for _, v := range f.Messages {
		blob := unhex(t, v.Blob)
		if got := buildMessage(t, v); !bytes.Equal(got, blob) {
			t.Errorf("%s: sealing gives other bytes", v.Name)
		}
		id := ID(unhex(t, v.Group))
		hd, ok := openHeader(blob, headerKey([32]byte(unhex(t, v.Secret)), id))
		if !ok || h(hd.sender[:]) != v.Sender || hd.gen != v.Generation || hd.index != v.Index {
			t.Fatalf("%s: header does not open to its inputs", v.Name)
		}
		mk, _ := chainStep([32]byte(unhex(t, v.ChainKey)), id, hd.sender, hd.gen, hd.index)
		pub := ed25519.NewKeyFromSeed(unhex(t, v.SigSeed)).Public().(ed25519.PublicKey)
		in, err := openBody(blob, id, hd, mk, pub)
		if err != nil || h(in.content) != v.Content || in.time.UnixMilli() != v.TimeMS || h(in.id[:]) != v.MsgID || uint8(in.typ) != v.Type {
			t.Fatalf("%s: body does not open to its inputs: %v", v.Name, err)
		}
		if len(blob) != BlobSize(len(in.content)) {
			t.Errorf("%s: %d bytes, BlobSize says %d", v.Name, len(blob), BlobSize(len(in.content)))
		}
	}
	for _, v := range f.Announcements {
		blob, sec, id := unhex(t, v.Blob), [32]byte(unhex(t, v.Secret)), ID(unhex(t, v.Group))
		if ak := announceKey(sec, id); h(ak[:]) != v.AnnounceKey {
			t.Errorf("%s: announce key differs", v.Name)
		}
		if !bytes.Equal(buildAnnouncement(t, v), blob) || len(blob) != AnnouncementSize {
			t.Errorf("%s: sealing gives other bytes", v.Name)
		}
		sender, keys, payload, sigs, ok := openAnnouncement(blob, [32]byte(unhex(t, v.AnnounceKey)))
		if !ok || h(sender[:]) != v.Sender || h(payload) != v.SenderKey || h(keys[:]) != v.SigKeys {
			t.Fatalf("%s: does not open to its inputs", v.Name)
		}
		if !verifySigs(keys, announceSigned(sender, keys, payload), sigs) {
			t.Errorf("%s: signatures do not verify", v.Name)
		}
		sigs[0] ^= 1
		if verifySigs(keys, announceSigned(sender, keys, payload), sigs) {
			t.Errorf("%s: a changed signature verifies", v.Name)
		}
	}
	for _, v := range f.Bad {
		p := unhex(t, v.Payload)
		_, e1 := ParseCommit(p)
		_, e2 := ParseSenderKey(p)
		_, e3 := ParseProposal(p)
		for _, err := range []error{e1, e2, e3} {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: parsed (%v)", v.Name, err)
			}
		}
	}
	if !*update && !bytes.Equal(mustJSON(t, want), mustJSON(t, f)) {
		t.Error("the vectors file differs from what the inputs give: run with -update and review the diff")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
