// Package tokenizer is a byte-level BPE tokenizer in the manner of GPT-2: text is cut into pre-tokens by a
// pattern (GPT-2's or GPT-4's, written by hand since Go's regexp has no look-ahead), each pre-token's bytes
// start as the 256 byte tokens, and an ordered list of merges joins adjacent pairs, lowest rank first.
//
// A worked example, with the merges that Train learns from "aaabdaaabac" (minbpe's test):
//
//	merge 0: (a, a)     -> 256 "aa"    (occurs 4 times)
//	merge 1: (a, b)     -> 257 "ab"    (2 times, a tie with (256, a): the smaller ids win)
//	merge 2: (256, 257) -> 258 "aaab"  (2 times)
//	Encode("aaabdaaabac") == [258, 100, 258, 97, 99]
//
// Special tokens (<|endoftext|>, the chat markers) get ids after the merges. Encode treats their text as
// ordinary text; EncodeSpecial maps it to their ids. Decode(Encode(x)) == x for every byte string x.
//
// On disk a tokenizer is Hugging Face's tokenizer.json (which Load reads) plus vocab.json and merges.txt;
// LoadGPT2 reads OpenAI's encoder.json + vocab.bpe (the same two formats as vocab.json + merges.txt).
package tokenizer

import (
	"fmt"
	"sort"
	"sync"
)

// Default special tokens of the pipeline: the end of a document, and the chat template's role markers.
const (
	EndOfText = "<|endoftext|>"
	System    = "<|system|>"
	User      = "<|user|>"
	Assistant = "<|assistant|>"
)

// DefaultSpecialTokens are the special tokens a pipeline tokenizer gets unless its config says otherwise.
var DefaultSpecialTokens = []string{EndOfText, System, User, Assistant}

// Tokenizer is a trained or loaded byte-level BPE tokenizer. It is safe for concurrent use.
type Tokenizer struct {
	pattern     Pattern
	splitDigits bool
	pre         preTokenizer

	vocab    [][]byte         // id -> bytes of an ordinary token; nil at special ids
	byteID   [256]int32       // byte value -> id of its single-byte token
	merges   []merge          // in rank order: merge r joins a pair into merges[r].id
	ranks    map[uint64]int32 // pairKey(a, b) -> rank of the merge of that pair
	specials []special        // sorted by id

	scratch sync.Pool // *encoder: word cache and BPE buffers, one per goroutine at a time
}

type merge struct{ a, b, id int32 }

type special struct {
	text string
	id   int
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// model is what a tokenizer is made from, whichever file or trainer it came from.
type model struct {
	pattern     Pattern
	splitDigits bool
	vocab       [][]byte   // id -> bytes; nil at ids that are special tokens
	merges      [][2]int32 // pairs of ids, in rank order; each joins into the id of its concatenation
	specials    map[int]string
}

// newTokenizer checks a model and builds its lookup tables: every byte must have one single-byte token,
// token byte strings must be distinct, ids dense, and every merge's concatenation must be in the vocabulary.
func newTokenizer(m model) (*Tokenizer, error) {
	pre, err := newPreTokenizer(m.pattern, m.splitDigits)
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{pattern: m.pattern, splitDigits: m.splitDigits, pre: pre, vocab: m.vocab,
		ranks: make(map[uint64]int32, len(m.merges))}
	ids := make(map[string]int32, len(m.vocab))
	for id, b := range m.vocab {
		text, isSpecial := m.specials[id]
		switch {
		case b == nil && !isSpecial:
			return nil, fmt.Errorf("tokenizer: id %d is neither a token nor a special token", id)
		case b != nil && isSpecial:
			return nil, fmt.Errorf("tokenizer: id %d is both a token and the special token %q", id, text)
		case isSpecial:
			t.specials = append(t.specials, special{text: text, id: id})
			continue
		}
		if prev, dup := ids[string(b)]; dup {
			return nil, fmt.Errorf("tokenizer: ids %d and %d are the same bytes %q", prev, id, b)
		}
		ids[string(b)] = int32(id)
	}
	if len(m.specials) != len(t.specials) {
		return nil, fmt.Errorf("tokenizer: special token ids outside the vocabulary of %d", len(m.vocab))
	}
	for c := range 256 {
		id, ok := ids[string([]byte{byte(c)})]
		if !ok {
			return nil, fmt.Errorf("tokenizer: no token for byte 0x%02x", c)
		}
		t.byteID[c] = id
	}
	for r, p := range m.merges {
		if p[0] < 0 || p[1] < 0 || int(p[0]) >= len(m.vocab) || int(p[1]) >= len(m.vocab) ||
			m.vocab[p[0]] == nil || m.vocab[p[1]] == nil {
			return nil, fmt.Errorf("tokenizer: merge %d joins ids %v that are not ordinary tokens", r, p)
		}
		joined := string(m.vocab[p[0]]) + string(m.vocab[p[1]])
		id, ok := ids[joined]
		if !ok {
			return nil, fmt.Errorf("tokenizer: merge %d makes %q, which is not in the vocabulary", r, joined)
		}
		key := pairKey(p[0], p[1])
		if _, dup := t.ranks[key]; dup {
			return nil, fmt.Errorf("tokenizer: merge %d repeats the pair %q %q", r, m.vocab[p[0]], m.vocab[p[1]])
		}
		t.ranks[key] = int32(r)
		t.merges = append(t.merges, merge{a: p[0], b: p[1], id: id})
	}
	sort.Slice(t.specials, func(i, j int) bool { return t.specials[i].id < t.specials[j].id })
	return t, nil
}

// VocabSize is the number of ids: byte tokens, merged tokens and special tokens.
func (t *Tokenizer) VocabSize() int { return len(t.vocab) }

// NumMerges is the number of merges.
func (t *Tokenizer) NumMerges() int { return len(t.merges) }

// Pattern is the pre-tokenization pattern.
func (t *Tokenizer) Pattern() Pattern { return t.pattern }

// SplitDigits reports whether every number character is its own pre-token.
func (t *Tokenizer) SplitDigits() bool { return t.splitDigits }

// SpecialID returns the id of a special token.
func (t *Tokenizer) SpecialID(text string) (int, bool) {
	for _, s := range t.specials {
		if s.text == text {
			return s.id, true
		}
	}
	return 0, false
}

// SpecialTokens lists the special tokens in id order.
func (t *Tokenizer) SpecialTokens() []string {
	out := make([]string, len(t.specials))
	for i, s := range t.specials {
		out[i] = s.text
	}
	return out
}
