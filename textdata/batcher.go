package textdata

import "fmt"

// BatchOptions shape the batches a Batcher or PairBatcher deals.
type BatchOptions struct {
	B, T int // rows (pairs for a PairBatcher) per batch, positions per row
	Pad  int // the padding id; the tokenizer's <|endoftext|> unless the model has a pad token
	// Pack puts several sequences one after another in a row, as many as fit in its T+1 slots, each
	// whole; otherwise a row holds one sequence. Packed sequences see the ones before them in the row
	// (as in pretraining, where <|endoftext|> separates documents), but a target never crosses into the
	// next sequence: the first token of a sequence is never trained. A PairBatcher never packs.
	Pack bool
	Seed uint64 // the shuffle's seed (see Epochs)
}

// Batcher deals SFT batches from sequences in a seeded order, epoch after epoch. Its position is saved
// with MarshalBinary and restored with UnmarshalBinary (on a Batcher made from the same sequences and
// options), after which it deals the same batches as one never stopped.
type Batcher struct {
	seqs  []Sequence
	opts  BatchOptions
	order *Epochs
}

// NewBatcher deals batches of opts.B rows from seqs, each of 1 to opts.T+1 tokens.
func NewBatcher(seqs []Sequence, opts BatchOptions) (*Batcher, error) {
	if opts.B < 1 {
		return nil, fmt.Errorf("batches of %d rows", opts.B)
	}
	if err := checkLengths(seqs, opts.T); err != nil {
		return nil, err
	}
	order, err := NewEpochs(len(seqs), opts.Seed)
	if err != nil {
		return nil, err
	}
	return &Batcher{seqs: seqs, opts: opts, order: order}, nil
}

// Next deals the next batch: each row takes the next sequence and, when packing, the ones after it
// while they fit. Check TargetCount before training on it.
func (b *Batcher) Next() Batch {
	out := newBatch(b.opts.B, b.opts.T, b.opts.Pad)
	for r := range b.opts.B {
		row := []Sequence{b.seqs[b.order.Next()]}
		used := len(row[0].IDs)
		for b.opts.Pack && used+len(b.seqs[b.order.Peek()].IDs) <= b.opts.T+1 {
			s := b.seqs[b.order.Next()]
			row = append(row, s)
			used += len(s.IDs)
		}
		out.fill(r, row)
	}
	return out
}

// Epoch is the epoch of the next sequence to be dealt, counting from 0.
func (b *Batcher) Epoch() int { return b.order.Epoch() }

// MarshalBinary saves the position in the data.
func (b *Batcher) MarshalBinary() ([]byte, error) { return b.order.MarshalBinary() }

// UnmarshalBinary restores a position saved by MarshalBinary.
func (b *Batcher) UnmarshalBinary(data []byte) error { return b.order.UnmarshalBinary(data) }

// PairBatcher deals preference batches, B pairs as 2B rows laid out by PairBatch, in a seeded order
// that is saved and restored as a Batcher's is.
type PairBatcher struct {
	pairs []Pair
	opts  BatchOptions
	order *Epochs
}

// NewPairBatcher deals batches of opts.B pairs, each side of 1 to opts.T tokens; opts.Pack must be false.
func NewPairBatcher(pairs []Pair, opts BatchOptions) (*PairBatcher, error) {
	if opts.B < 1 {
		return nil, fmt.Errorf("batches of %d pairs", opts.B)
	}
	if opts.Pack {
		return nil, fmt.Errorf("preference pairs are padded, not packed")
	}
	if err := checkPairs(pairs, opts.T); err != nil {
		return nil, err
	}
	order, err := NewEpochs(len(pairs), opts.Seed)
	if err != nil {
		return nil, err
	}
	return &PairBatcher{pairs: pairs, opts: opts, order: order}, nil
}

// Next deals the next batch of pairs.
func (p *PairBatcher) Next() Batch {
	batch := make([]Pair, p.opts.B)
	for i := range batch {
		batch[i] = p.pairs[p.order.Next()]
	}
	return pairRows(batch, p.opts.T, p.opts.Pad)
}

// Epoch is the epoch of the next pair to be dealt, counting from 0.
func (p *PairBatcher) Epoch() int { return p.order.Epoch() }

// MarshalBinary saves the position in the data.
func (p *PairBatcher) MarshalBinary() ([]byte, error) { return p.order.MarshalBinary() }

// UnmarshalBinary restores a position saved by MarshalBinary.
func (p *PairBatcher) UnmarshalBinary(data []byte) error { return p.order.UnmarshalBinary(data) }
