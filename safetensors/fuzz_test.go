package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"testing"
)

// FuzzParse feeds Parse arbitrary bytes. Parse must never panic; a file it accepts must have a valid
// JSON header, re-encode, parse back to the same tensors and metadata, and re-encode to the same bytes.
// Seeds: testdata/fuzz/FuzzParse (valid files) plus every case of the malformed table.
func FuzzParse(f *testing.F) {
	for _, c := range malformed {
		f.Add(c.file)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b)
		if err != nil {
			return
		}
		n := binary.LittleEndian.Uint64(b)
		if !json.Valid(b[8 : 8+n]) {
			t.Fatalf("accepted a header that is not JSON: %q", b[8:8+n])
		}
		enc, err := Encode(file)
		if err != nil {
			t.Fatalf("accepted file does not re-encode: %v", err)
		}
		again, err := Parse(enc)
		if err != nil {
			t.Fatalf("re-encoded file does not parse: %v\n%q", err, enc)
		}
		sameFile(t, again, file)
		enc2, err := Encode(again)
		if err != nil || !bytes.Equal(enc2, enc) {
			t.Fatalf("encoding is not a fixed point (%v):\n%q\n%q", err, enc, enc2)
		}
	})
}
