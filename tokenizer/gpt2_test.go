package tokenizer

import (
	"slices"
	"testing"
)

func loadGPT2(t testing.TB) *Tokenizer {
	t.Helper()
	tok, err := LoadGPT2(sharedPath(t, "data/gpt2/encoder.json"), sharedPath(t, "data/gpt2/vocab.bpe"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestGPT2MatchesTiktoken checks our encoder against tiktoken's gpt2 ids for every shared case.
func TestGPT2MatchesTiktoken(t *testing.T) {
	tok := loadGPT2(t)
	if tok.VocabSize() != 50257 || tok.NumMerges() != 50000 {
		t.Fatalf("vocab %d, merges %d; want 50257, 50000", tok.VocabSize(), tok.NumMerges())
	}
	if id, ok := tok.SpecialID(EndOfText); !ok || id != 50256 {
		t.Fatalf("<|endoftext|> = %d, %v; want 50256", id, ok)
	}
	for _, c := range readTiktokenCases(t) {
		got := tok.Encode(c.Text)
		if !slices.Equal(got, c.IDs) {
			t.Errorf("%q:\n got %v\nwant %v", c.Text, got, c.IDs)
		}
		if back := string(tok.Decode(got)); back != c.Text {
			t.Errorf("%q decodes back as %q", c.Text, back)
		}
	}
}

// TestGPT2KJVTokenCount: tiktoken's gpt2 encoding of kjv.txt is 1,141,844 tokens.
func TestGPT2KJVTokenCount(t *testing.T) {
	tok := loadGPT2(t)
	text := string(readShared(t, "data/corpus/kjv.txt"))
	ids := tok.Encode(text)
	if len(ids) != 1141844 {
		t.Fatalf("kjv.txt: %d tokens, want 1141844", len(ids))
	}
	if string(tok.Decode(ids)) != text {
		t.Fatal("kjv.txt does not decode back")
	}
}
