package evaluate

import (
	"os"
	"slices"
	"testing"

	"pipeline/tokenizer"
)

// catsTokenizer is trained on "cats cats cats cats" to 260 ids. Its merges, by the tie-break of
// tokenizer.Train (most frequent pair, then smallest left id): "at" 256 (a=97 before c=99 and t=116, all
// four times), "cat" 257, "cats" 258, then " cats" 259 (three times). There is no " cat".
func catsTokenizer(t *testing.T) *tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.Train([]string{"cats cats cats cats"}, tokenizer.TrainOptions{VocabSize: 260})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(tok.Decode([]int{256, 257, 258, 259})); got != "atcatcats cats" {
		t.Fatalf("merges spell %q", got)
	}
	return tok
}

func TestSplitByHand(t *testing.T) {
	const prefix = 999
	tk := Tokens{Enc: catsTokenizer(t), Prefix: prefix}
	const T, h, e, sp = 84, 104, 101, 32
	for _, c := range []struct {
		name, context, continuation string
		ctx, cont                   []int
	}{
		// "The cat" is [T h e ' ' cat] but "The cats" is [T h e ' cats']: the join is inside ' cats'.
		{"token spans the join", "The cat", "s", []int{T, h, e}, []int{259}},
		// The space leaves the context: ("The", " cats"), and encode("The") is a prefix of the whole.
		{"trailing space moves", "The ", "cats", []int{T, h, e}, []int{259}},
		{"clean join", "The", " cats", []int{T, h, e}, []int{259}},
		// "cats" is one token covering both sides: the context keeps nothing and becomes the prefix.
		{"one token covers all", "ca", "ts", []int{prefix}, []int{258}},
		{"empty context", "", "cats", []int{prefix}, []int{258}},
		// Every trailing whitespace character moves, as Python's rstrip() does.
		{"newlines move", "cats\n\n", "cats", []int{258}, []int{10, 10, 258}},
		{"spaces only", "The  ", "e", []int{T, h, e}, []int{sp, sp, e}},
	} {
		ctx, cont, err := tk.Split(c.context, c.continuation)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !slices.Equal(ctx, c.ctx) || !slices.Equal(cont, c.cont) {
			t.Errorf("%s: Split(%q, %q) = %v, %v; want %v, %v", c.name, c.context, c.continuation, ctx, cont, c.ctx, c.cont)
		}
	}
	if _, _, err := tk.Split("The  ", ""); err != nil {
		t.Errorf("whitespace moved from the context makes a continuation, got %v", err)
	}
	if _, _, err := tk.Split("The", ""); err == nil {
		t.Error("an empty continuation was accepted")
	}
}

// TestSplitGPT2 checks the boundary on GPT-2's tokenizer, ids from tiktoken's gpt2 encoding.
func TestSplitGPT2(t *testing.T) {
	enc, vocab := "../../shared/data/gpt2/encoder.json", "../../shared/data/gpt2/vocab.bpe"
	if _, err := os.Stat(enc); err != nil {
		t.Skip("GPT-2 vocabulary files not present")
	}
	tok, err := tokenizer.LoadGPT2(enc, vocab)
	if err != nil {
		t.Fatal(err)
	}
	tk := Tokens{Enc: tok, Prefix: 50256}
	for _, c := range []struct {
		context, continuation string
		ctx, cont             []int
	}{
		// "Answer:" = [33706 25], " 4" = [604]: the space belongs to the answer's token.
		{"Answer: ", "4", []int{33706, 25}, []int{604}},
		// " cats" = 11875 spans the join; " sat" = 3332.
		{"The cat", "s sat", []int{464}, []int{11875, 3332}},
		{"ca", "t", []int{50256}, []int{9246}},
		// " café" is one token, 40304.
		{"x", " café", []int{87}, []int{40304}},
	} {
		ctx, cont, err := tk.Split(c.context, c.continuation)
		if err != nil || !slices.Equal(ctx, c.ctx) || !slices.Equal(cont, c.cont) {
			t.Errorf("Split(%q, %q) = %v, %v, %v; want %v, %v", c.context, c.continuation, ctx, cont, err, c.ctx, c.cont)
		}
	}
}
