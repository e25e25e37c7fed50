package textdata

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
)

// Epochs deals the indices 0..n-1 over and over, each epoch in a new order. The order of epoch k is a
// Fisher-Yates shuffle driven by PCG(seed, k), so it depends on nothing but n, seed and k, and the
// position in the stream is two numbers (epoch, index within it): a run resumed from MarshalBinary's
// bytes deals exactly what the unstopped run would have dealt. NewEpochs(5, 1) deals 4 0 3 2 1 in
// epoch 0, then 2 4 1 3 0 in epoch 1.
//
// The shuffle draws j = u mod (i+1) from each 64-bit PCG output u; the bias this leaves, under n/2^64,
// is far below anything measurable, and PCG's outputs are fixed by its definition, so the order does
// not change with the Go release (as math/rand's Shuffle may).
type Epochs struct {
	n          int
	seed       uint64
	epoch, pos int
	perm       []int // the order of the current epoch
}

// NewEpochs deals 0..n-1 (n >= 1) in epochs shuffled from seed.
func NewEpochs(n int, seed uint64) (*Epochs, error) {
	if n < 1 {
		return nil, fmt.Errorf("epochs over %d examples", n)
	}
	e := &Epochs{n: n, seed: seed}
	e.shuffle()
	return e, nil
}

// shuffle makes the order of the current epoch.
func (e *Epochs) shuffle() {
	if e.perm == nil {
		e.perm = make([]int, e.n)
	}
	for i := range e.perm {
		e.perm[i] = i
	}
	pcg := rand.NewPCG(e.seed, uint64(e.epoch))
	for i := e.n - 1; i > 0; i-- {
		j := int(pcg.Uint64() % uint64(i+1))
		e.perm[i], e.perm[j] = e.perm[j], e.perm[i]
	}
}

// Peek returns the index Next will return, without dealing it.
func (e *Epochs) Peek() int { return e.perm[e.pos] }

// Next deals the next index.
func (e *Epochs) Next() int {
	i := e.perm[e.pos]
	e.pos++
	if e.pos == e.n {
		e.epoch, e.pos = e.epoch+1, 0
		e.shuffle()
	}
	return i
}

// Epoch is the epoch of the next index, counting from 0.
func (e *Epochs) Epoch() int { return e.epoch }

// epochsMagic starts the saved state; the 8th byte is the format's version.
const epochsMagic = "TXEPOCH\x01"

// MarshalBinary saves the position: magic, then n, seed, epoch and pos as big-endian uint64s.
func (e *Epochs) MarshalBinary() ([]byte, error) {
	b := []byte(epochsMagic)
	for _, v := range []uint64{uint64(e.n), e.seed, uint64(e.epoch), uint64(e.pos)} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return b, nil
}

// UnmarshalBinary restores a position saved by MarshalBinary from Epochs of the same n and seed; other
// n or seed means the data or config changed since, and is an error.
func (e *Epochs) UnmarshalBinary(data []byte) error {
	if len(data) != len(epochsMagic)+32 || string(data[:len(epochsMagic)]) != epochsMagic {
		return fmt.Errorf("not a saved epoch position (%d bytes)", len(data))
	}
	v := func(k int) uint64 { return binary.BigEndian.Uint64(data[len(epochsMagic)+8*k:]) }
	if n, seed := v(0), v(1); n != uint64(e.n) || seed != e.seed {
		return fmt.Errorf("saved epoch position is for %d examples with seed %d, not %d with seed %d", n, seed, e.n, e.seed)
	}
	epoch, pos := v(2), v(3)
	if pos >= uint64(e.n) || epoch > math.MaxInt {
		return fmt.Errorf("saved epoch position %d:%d is out of range for %d examples", epoch, pos, e.n)
	}
	e.epoch, e.pos = int(epoch), int(pos)
	e.shuffle()
	return nil
}
