// Package dataset turns corpus files into token shards and draws training windows from them.
package dataset

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"pipeline/atomicfile"
)

// A shard file is a token-id array with a 16-byte header:
//
//	magic "PLTOKENS" | uint32 bytes per id (2 or 4) | uint32 reserved (0) | ids, little-endian
//
// uint16 ids when the vocabulary fits (half the disk and memory), uint32 otherwise.
const shardMagic = "PLTOKENS"

// WriteShard writes ids atomically, as uint16 when vocabSize <= 65536.
func WriteShard(path string, ids []uint32, vocabSize int) error {
	width := 4
	if vocabSize <= 1<<16 {
		width = 2
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		hdr := make([]byte, 16)
		copy(hdr, shardMagic)
		binary.LittleEndian.PutUint32(hdr[8:], uint32(width))
		bw.Write(hdr)
		buf := make([]byte, width)
		for _, id := range ids {
			if width == 2 {
				if id >= 1<<16 {
					return fmt.Errorf("token id %d does not fit uint16 (vocab %d)", id, vocabSize)
				}
				binary.LittleEndian.PutUint16(buf, uint16(id))
			} else {
				binary.LittleEndian.PutUint32(buf, id)
			}
			bw.Write(buf)
		}
		return bw.Flush()
	})
}

// ReadShard reads a shard written by WriteShard.
func ReadShard(path string) ([]uint32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 16 || string(b[:8]) != shardMagic {
		return nil, fmt.Errorf("%s: not a token shard", path)
	}
	width := int(binary.LittleEndian.Uint32(b[8:]))
	body := b[16:]
	if (width != 2 && width != 4) || len(body)%width != 0 {
		return nil, fmt.Errorf("%s: bad id width %d for %d bytes", path, width, len(body))
	}
	ids := make([]uint32, len(body)/width)
	for i := range ids {
		if width == 2 {
			ids[i] = uint32(binary.LittleEndian.Uint16(body[2*i:]))
		} else {
			ids[i] = binary.LittleEndian.Uint32(body[4*i:])
		}
	}
	return ids, nil
}
