package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// tensorInfo is one tensor's record in the header, its fields in the reference's order.
type tensorInfo struct {
	DType       DType  `json:"dtype"`
	Shape       []int  `json:"shape"`
	DataOffsets [2]int `json:"data_offsets"`
}

// Encode returns f in the safetensors format; see Write.
func Encode(f *File) ([]byte, error) {
	var buf bytes.Buffer
	if err := Write(&buf, f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write writes f to w in the safetensors format: the header length, the header (metadata first, then
// tensors in name order, padded with spaces to a multiple of 8 bytes so that the data buffer starts
// aligned), then each tensor's data in name order. The same File always gives the same bytes.
// Every tensor is checked before anything is written.
func Write(w io.Writer, f *File) error {
	hdr, err := encodeHeader(f)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hdr)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for _, name := range f.Names() {
		if _, err := w.Write(f.Tensors[name].Data); err != nil {
			return err
		}
	}
	return nil
}

// encodeHeader checks every tensor and the metadata and builds the padded JSON header, assigning
// offsets in name order.
func encodeHeader(f *File) ([]byte, error) {
	if f == nil {
		return nil, errors.New("nil File")
	}
	var b bytes.Buffer
	b.WriteByte('{')
	if len(f.Metadata) > 0 {
		for k, v := range f.Metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, fmt.Errorf("%s entry %q is not valid UTF-8", metadataKey, k)
			}
		}
		if err := appendJSON(&b, metadataKey, f.Metadata); err != nil {
			return nil, err
		}
	}
	offset := 0
	for _, name := range f.Names() {
		t := f.Tensors[name]
		if name == metadataKey || !utf8.ValidString(name) {
			return nil, fmt.Errorf("tensor name %q is reserved or not valid UTF-8", name)
		}
		if err := t.check(); err != nil {
			return nil, fmt.Errorf("tensor %s: %w", name, err)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{} // a scalar: "shape": [], never null
		}
		info := tensorInfo{DType: t.DType, Shape: shape, DataOffsets: [2]int{offset, offset + len(t.Data)}}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		if err := appendJSON(&b, name, info); err != nil {
			return nil, err
		}
		offset += len(t.Data)
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	if b.Len() > maxHeaderSize {
		return nil, fmt.Errorf("header would be %d bytes, over the limit of %d", b.Len(), maxHeaderSize)
	}
	return b.Bytes(), nil
}

// appendJSON appends "key":value to b.
func appendJSON(b *bytes.Buffer, key string, value any) error {
	k, err := json.Marshal(key)
	if err != nil {
		return err
	}
	v, err := json.Marshal(value)
	if err != nil {
		return err
	}
	b.Write(k)
	b.WriteByte(':')
	b.Write(v)
	return nil
}
