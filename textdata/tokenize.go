package textdata

import (
	"fmt"

	"pipeline/tokenizer"
)

// Sequence is a rendered record as tokens, each flagged when it carries loss.
type Sequence struct {
	IDs  []int
	Loss []bool // Loss[i]: token i is trained as a target (when it is one: never at i = 0)
}

// Tokenize encodes a rendered text. The template's special tokens (r.Specials) become their ids; the
// text between them is encoded as ordinary text, so a "<|endoftext|>" typed inside a message stays
// 13 characters of text and can neither end a sequence nor be trained as one.
//
// A token carries loss when its byte span overlaps a loss range. A token that BPE merged across the
// boundary between prompt and completion therefore carries loss: it holds completion bytes, and it is
// the token the model must produce to start the completion. With the merge (" ", "9") -> " 9", the
// prompt "Answer: " and the completion "936" render as "Answer: 936<|endoftext|>" and encode as
//
//	"Answer" ":" " 9" "3" "6" "<|endoftext|>"
//	 0        0   1    1   1   1
//
// where TRL, which tokenizes the prompt alone and cuts at its length, would mis-align the boundary.
func Tokenize(tok *tokenizer.Tokenizer, r Rendered) (Sequence, error) {
	var s Sequence
	loss := r.Loss
	emit := func(id int, span [2]int) {
		for len(loss) > 0 && loss[0][1] <= span[0] {
			loss = loss[1:]
		}
		s.IDs = append(s.IDs, id)
		s.Loss = append(s.Loss, len(loss) > 0 && loss[0][0] < span[1] && span[0] < span[1])
	}
	ordinary := func(start, end int) {
		ids, spans := tok.EncodeOffsets(r.Text[start:end], false)
		for i, id := range ids {
			emit(id, [2]int{start + spans[i][0], start + spans[i][1]})
		}
	}
	pos := 0
	for _, sp := range r.Specials {
		ordinary(pos, sp[0])
		name := r.Text[sp[0]:sp[1]]
		id, ok := tok.SpecialID(name)
		if !ok {
			return Sequence{}, fmt.Errorf("the tokenizer has no special token %s, which the chat template needs", name)
		}
		emit(id, sp)
		pos = sp[1]
	}
	ordinary(pos, len(r.Text))
	return s, nil
}

// Targets is the number of tokens trained as targets: those carrying loss after the first.
func (s Sequence) Targets() int {
	n := 0
	for i := 1; i < len(s.Loss); i++ {
		if s.Loss[i] {
			n++
		}
	}
	return n
}

// Truncate keeps the first n tokens (a view, not a copy): the start of the prompt stays and the end
// of the completion goes, TRL's truncation_mode "keep_start".
func (s Sequence) Truncate(n int) Sequence {
	if len(s.IDs) <= n {
		return s
	}
	return Sequence{IDs: s.IDs[:n], Loss: s.Loss[:n]}
}
