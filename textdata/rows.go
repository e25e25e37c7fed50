package textdata

import "fmt"

// Batch is B rows of T positions for a causal language model, each slice [B, T] row-major except Last.
// A row holds one sequence (padding) or several one after another (packing, see Batcher):
//
//	IDs[t]      the input token at position t
//	Targets[t]  the token after it
//	Weights[t]  1 where Targets[t] carries loss (it carries loss and follows IDs[t] in the same
//	            sequence), 0 elsewhere
//	Mask[t]     1 where IDs[t] is a real token, 0 where it is padding
//	Last[b]     the position of row b's last real token, where a reward head reads its score
//
// For example one sequence "a b c <eot>" whose last two tokens carry loss, with T = 6, pad = <eot>:
//
//	IDs      a  b  c      <eot>  <eot>  <eot>
//	Targets  b  c  <eot>  <eot>  <eot>  <eot>
//	Weights  0  1  1      0      0      0
//	Mask     1  1  1      1      0      0       Last = 3
//
// The real <eot> target (position 2) has weight 1 though the padding has the same id: weights come from
// the loss flags, never from comparing ids. Padding is on the right, so under causal attention no real
// position sees a pad and the mask matters only to a head that reads a position (Last) or to counting.
type Batch struct {
	B, T         int
	IDs, Targets []int
	Weights      []float32
	Mask         []int
	Last         []int
}

// newBatch is an all-padding batch.
func newBatch(B, T, pad int) Batch {
	b := Batch{B: B, T: T, IDs: make([]int, B*T), Targets: make([]int, B*T), Weights: make([]float32, B*T),
		Mask: make([]int, B*T), Last: make([]int, B)}
	for i := range b.IDs {
		b.IDs[i], b.Targets[i] = pad, pad
	}
	return b
}

// TargetCount is the number of positions with weight 1. A batch where it is 0 has nothing to learn
// from: the trainer skips it instead of dividing by zero.
func (b Batch) TargetCount() int {
	n := 0
	for _, w := range b.Weights {
		if w != 0 {
			n++
		}
	}
	return n
}

// PadBatch lays out one sequence per row, each of 1 to T+1 tokens (see Sequence.Truncate), padded on
// the right with pad.
func PadBatch(seqs []Sequence, T, pad int) (Batch, error) {
	if err := checkLengths(seqs, T); err != nil {
		return Batch{}, err
	}
	b := newBatch(len(seqs), T, pad)
	for r, s := range seqs {
		b.fill(r, []Sequence{s})
	}
	return b, nil
}

// checkLengths refuses a sequence that cannot fill a row of T+1 slots.
func checkLengths(seqs []Sequence, T int) error {
	if T < 1 {
		return fmt.Errorf("rows of %d positions", T)
	}
	for i, s := range seqs {
		if len(s.IDs) == 0 || len(s.IDs) > T+1 || len(s.Loss) != len(s.IDs) {
			return fmt.Errorf("sequence %d has %d tokens and %d loss flags; a row of %d positions takes 1 to %d tokens",
				i, len(s.IDs), len(s.Loss), T, T+1)
		}
	}
	return nil
}

// fill writes sequences one after another into row r, whose T+1 slots they must fit: slot p is the
// input at position p (p < T) and the target at position p-1 (p > 0).
func (b Batch) fill(r int, seqs []Sequence) {
	row := r * b.T
	p := 0
	for _, s := range seqs {
		for i, id := range s.IDs {
			if p < b.T {
				b.IDs[row+p], b.Mask[row+p] = id, 1
			}
			if p > 0 {
				b.Targets[row+p-1] = id
				if i > 0 && s.Loss[i] {
					b.Weights[row+p-1] = 1
				}
			}
			p++
		}
	}
	b.Last[r] = min(p, b.T) - 1
}
