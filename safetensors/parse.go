package safetensors

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
)

// maxHeaderSize bounds the JSON header as the reference implementation does (100 MB): a larger
// length field is rejected before anything is allocated for it.
const maxHeaderSize = 100_000_000

// Parse decodes a whole safetensors file held in b, validating the header completely (see the
// package comment). The returned tensors' Data slices alias b, capacity-limited so that appending
// to one never overwrites its neighbour. Metadata and Tensors are never nil.
func Parse(b []byte) (*File, error) {
	f, err := parse(b)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return f, nil
}

// parse is Parse without the package prefix on errors, for callers that add their own context.
func parse(b []byte) (*File, error) {
	n, err := headerLen(b, int64(len(b)))
	if err != nil {
		return nil, err
	}
	entries, meta, err := decodeHeader(b[8 : 8+n])
	if err != nil {
		return nil, err
	}
	tensors, err := layout(entries, b[8+n:])
	if err != nil {
		return nil, err
	}
	return &File{Metadata: meta, Tensors: tensors}, nil
}

// headerLen reads the header length N from first (the file's first bytes) and checks it against
// the bound and against size, the length of the whole file: N+8 must not run past its end.
func headerLen(first []byte, size int64) (int, error) {
	if size < 8 || len(first) < 8 {
		return 0, fmt.Errorf("file is %d bytes, too short for the 8-byte header length", size)
	}
	n := binary.LittleEndian.Uint64(first)
	if n > maxHeaderSize {
		return 0, fmt.Errorf("header length %d exceeds the limit of %d bytes", n, maxHeaderSize)
	}
	if n > uint64(size-8) {
		return 0, fmt.Errorf("header length %d runs past the end of the %d-byte file", n, size)
	}
	return int(n), nil
}

// layout checks that the tensors tile data exactly, as the reference implementation requires:
// taken in offset order, each begins where the previous one ended (the first at 0), takes exactly
// dtype size x product(shape) bytes, and the last ends at the end of the buffer.
func layout(entries []entry, data []byte) (map[string]Tensor, error) {
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end), cmp.Compare(a.name, b.name))
	})
	tensors := make(map[string]Tensor, len(entries))
	var pos uint64
	prev := "the start of the data buffer"
	for _, e := range entries {
		where := fmt.Sprintf("data_offsets of %s [%d, %d]", e.name, e.begin, e.end)
		switch {
		case e.end < e.begin:
			return nil, fmt.Errorf("%s end before they begin", where)
		case e.end > uint64(len(data)):
			return nil, fmt.Errorf("%s lie outside the %d-byte data buffer", where, len(data))
		case e.begin < pos:
			return nil, fmt.Errorf("%s overlap %s, which ends at %d", where, prev, pos)
		case e.begin > pos:
			return nil, fmt.Errorf("%s leave a gap after %s, which ends at %d", where, prev, pos)
		}
		n, err := byteSize(e.dtype, e.shape)
		if err != nil {
			return nil, fmt.Errorf("tensor %s: %w", e.name, err)
		}
		if uint64(n) != e.end-e.begin {
			return nil, fmt.Errorf("%s do not match %s x %v = %d bytes", where, e.dtype, e.shape, n)
		}
		tensors[e.name] = Tensor{DType: e.dtype, Shape: e.shape, Data: data[e.begin:e.end:e.end]}
		pos, prev = e.end, e.name
	}
	if pos != uint64(len(data)) {
		return nil, fmt.Errorf("tensors cover %d bytes but the data buffer holds %d", pos, len(data))
	}
	return tensors, nil
}
