package dataset

import (
	"fmt"
	"math/rand/v2"
)

// Windows draws random windows of n consecutive tokens from a token array, with a generator whose state
// can be saved and restored, so a resumed run draws the same windows as a run never stopped.
type Windows struct {
	tokens []uint32
	n      int
	rng    *rand.PCG
}

// NewWindows draws windows of n tokens from tokens, seeded by seed.
func NewWindows(tokens []uint32, n int, seed uint64) (*Windows, error) {
	if len(tokens) < n {
		return nil, fmt.Errorf("%d tokens cannot fill a window of %d", len(tokens), n)
	}
	return &Windows{tokens: tokens, n: n, rng: rand.NewPCG(seed, 0x9e3779b97f4a7c15)}, nil
}

// Next returns the next window (a view of the token array: do not modify it).
func (w *Windows) Next() []uint32 {
	start := rand.New(w.rng).IntN(len(w.tokens) - w.n + 1)
	return w.tokens[start : start+w.n]
}

// MarshalBinary saves the generator's state.
func (w *Windows) MarshalBinary() ([]byte, error) { return w.rng.MarshalBinary() }

// UnmarshalBinary restores a state saved by MarshalBinary.
func (w *Windows) UnmarshalBinary(b []byte) error { return w.rng.UnmarshalBinary(b) }
