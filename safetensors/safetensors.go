// Package safetensors reads and writes the safetensors checkpoint format that every stage of the
// pipeline uses for weights, gradients and optimizer state.
//
// A file is an 8-byte little-endian header length N, N bytes of JSON header, then the data buffer:
//
//	{"__metadata__": {"format": "pt"},
//	 "wte.weight": {"dtype": "F32", "shape": [64, 32], "data_offsets": [0, 8192]}, ...}
//
// data_offsets are [begin, end) byte offsets into the data buffer. Parsing is as strict as the
// reference implementation (huggingface/safetensors) and safe on hostile input: the header is
// bounded, must be UTF-8 JSON with no duplicate keys, and the tensors must tile the data buffer
// exactly, each taking dtype size x product(shape) bytes. Writing is deterministic: tensors in name
// order, the header padded with spaces to a multiple of 8 bytes as the reference does.
package safetensors

import (
	"fmt"
	"slices"
	"sort"
)

// File is the content of one safetensors file: free-form string metadata and named tensors.
type File struct {
	Metadata map[string]string
	Tensors  map[string]Tensor
}

// Names returns the tensor names in sorted order, which is also the order of their data on disk.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for name := range f.Tensors {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Float32 returns the named tensor converted to float32 (see Tensor.Float32) after checking that
// its shape is exactly shape. It is the strict load a reader of a known architecture wants.
func (f *File) Float32(name string, shape ...int) ([]float32, error) {
	t, ok := f.Tensors[name]
	if !ok {
		return nil, fmt.Errorf("tensor %q not found", name)
	}
	if !slices.Equal(t.Shape, shape) {
		return nil, fmt.Errorf("tensor %q has shape %v, want %v", name, t.Shape, shape)
	}
	v, err := t.Float32()
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	return v, nil
}
