package hybrid_test

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/echorelay/echorelay/mceliece/hybrid"
)

// The envelope writes the identifier, then the ciphertext; the receiver picks
// the scheme by identifier.
func Example() {
	s := hybrid.New("mceliece348864f") // the default is hybrid.Default()
	pk, sk, err := s.GenerateKeyPair()
	if err != nil {
		panic(err)
	}

	// Sender.
	ct, ss, err := s.Encapsulate(pk)
	if err != nil {
		panic(err)
	}
	id, _ := hybrid.IDOf(s)
	wire := binary.BigEndian.AppendUint16(nil, id)
	wire = append(wire, ct...)

	// Receiver.
	r := hybrid.ByID(binary.BigEndian.Uint16(wire))
	if r == nil {
		panic("unknown algorithm")
	}
	got, err := r.Decapsulate(sk, wire[2:])
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Name(), len(got), bytes.Equal(got, ss))
	// Output: mceliece348864f-mlkem768-x25519 32 true
}
