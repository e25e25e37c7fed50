package safetensors

import (
	"fmt"
	"io"
	"os"

	"pipeline/atomicfile"
)

// ReadFile reads and parses the safetensors file at path. It checks the header length against the
// file's size before allocating anything, so a hostile length field costs nothing; the one
// allocation is the file's own size. Errors name the path.
func ReadFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := readAll(fh)
	if err != nil {
		return nil, fmt.Errorf("safetensors %s: %w", path, err)
	}
	f, err := parse(b)
	if err != nil {
		return nil, fmt.Errorf("safetensors %s: %w", path, err)
	}
	return f, nil
}

// readAll reads a regular file whole after checking its header length against its size.
func readAll(fh *os.File) ([]byte, error) {
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", st.Mode())
	}
	size := st.Size()
	var first [8]byte
	if size >= int64(len(first)) {
		if _, err := io.ReadFull(fh, first[:]); err != nil {
			return nil, err
		}
	}
	if _, err := headerLen(first[:], size); err != nil {
		return nil, err
	}
	b := make([]byte, size)
	copy(b, first[:])
	if _, err := io.ReadFull(fh, b[len(first):]); err != nil {
		return nil, err
	}
	return b, nil
}

// WriteFile writes f to path atomically (see package atomicfile): a reader or a crash sees the old
// file or the complete new one, never a partial checkpoint.
func WriteFile(path string, f *File) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error { return Write(w, f) })
}
