package textdata

import (
	"fmt"
	"slices"

	"pipeline/tokenizer"
)

// Pair is a preference record as two sequences, prompt + chosen + <|endoftext|> and prompt + rejected +
// <|endoftext|>, each with the completion and its end-of-text flagged for loss.
//
// Laid out by PairBatch, a pair gives what both preference objectives read:
//
//	DPO     log π(y|x) = sum_t Weights[t] * log p(Targets[t] | IDs[..t]), summed over the completion's
//	        tokens only (TRL's DPO sums the completion's log-probabilities the same way)
//	reward  r(x, y) = the reward head at position Last[b], the last real token: the <|endoftext|> unless
//	        the sequence was truncated. It is found from the mask, never by looking for the first pad id,
//	        which may equal <|endoftext|> and may also occur inside the prompt.
type Pair struct {
	Chosen, Rejected Sequence
}

// TokenizePair renders and tokenizes a preference record.
func TokenizePair(tok *tokenizer.Tokenizer, r Record) (Pair, error) {
	c, j, err := RenderPair(r)
	if err != nil {
		return Pair{}, err
	}
	var p Pair
	if p.Chosen, err = Tokenize(tok, c); err != nil {
		return Pair{}, err
	}
	p.Rejected, err = Tokenize(tok, j)
	return p, err
}

// Identical reports whether both sides are the same tokens, as a pair whose sides differ only past the
// truncation point becomes: it says nothing about preference (its DPO and reward losses are constants).
func (p Pair) Identical() bool { return slices.Equal(p.Chosen.IDs, p.Rejected.IDs) }

// PairBatch lays out pairs as 2*len(pairs) padded rows, the chosen sides first and the rejected sides
// after them in the same order (TRL's concatenated forward): row b is pair b's chosen side, row
// len(pairs)+b its rejected side. Sequences must have 1 to T tokens, so that each row's last real token
// is an input at position Last (see LoadPairs).
func PairBatch(pairs []Pair, T, pad int) (Batch, error) {
	if err := checkPairs(pairs, T); err != nil {
		return Batch{}, err
	}
	return pairRows(pairs, T, pad), nil
}

// checkPairs refuses a side that is empty or longer than T tokens.
func checkPairs(pairs []Pair, T int) error {
	if T < 1 {
		return fmt.Errorf("rows of %d positions", T)
	}
	for i, p := range pairs {
		for _, s := range []Sequence{p.Chosen, p.Rejected} {
			if len(s.IDs) == 0 || len(s.IDs) > T || len(s.Loss) != len(s.IDs) {
				return fmt.Errorf("pair %d has a side of %d tokens and %d loss flags; a row of %d positions takes 1 to %d tokens",
					i, len(s.IDs), len(s.Loss), T, T)
			}
		}
	}
	return nil
}

// pairRows is PairBatch on checked pairs.
func pairRows(pairs []Pair, T, pad int) Batch {
	b := newBatch(2*len(pairs), T, pad)
	for i, p := range pairs {
		b.fill(i, []Sequence{p.Chosen})
		b.fill(len(pairs)+i, []Sequence{p.Rejected})
	}
	return b
}
