package textdata

import (
	"slices"
	"testing"

	"pipeline/tokenizer"
)

func concat(parts ...[]int) []int { return slices.Concat(parts...) }

// TestLossMaskRenderedExample is issue 6's loss-masking test: on a rendered two-turn conversation,
// exactly the assistant's response tokens and the <|endoftext|> closing each carry loss, and in the
// rows they are exactly the weighted targets.
func TestLossMaskRenderedExample(t *testing.T) {
	tok := testTokenizer(t)
	r, err := Render(Record{Format: Conversation, Messages: []Message{
		{RoleSystem, "Be brief."}, {RoleUser, "2+2?"}, {RoleAssistant, "4"}, {RoleUser, "And 3+3?"}, {RoleAssistant, "6"}}})
	if err != nil {
		t.Fatal(err)
	}
	seq, err := Tokenize(tok, r)
	if err != nil {
		t.Fatal(err)
	}
	wantIDs := concat([]int{idSystem}, bytesIDs("\nBe brief.\n"), []int{idUser}, bytesIDs("\n2+2?\n"),
		[]int{idAssistant, '\n', '4', idEOT, idUser}, bytesIDs("\nAnd 3+3?\n"), []int{idAssistant, '\n', '6', idEOT})
	if !slices.Equal(seq.IDs, wantIDs) {
		t.Fatalf("ids %v\nwant %v", seq.IDs, wantIDs)
	}
	var lossAt []int
	for i, l := range seq.Loss {
		if l {
			lossAt = append(lossAt, i)
		}
	}
	if want := []int{21, 22, 36, 37}; !slices.Equal(lossAt, want) { // "4" <eot> "6" <eot>
		t.Fatalf("loss on tokens %v, want %v", lossAt, want)
	}
	b, err := PadBatch([]Sequence{seq}, 40, idEOT)
	if err != nil {
		t.Fatal(err)
	}
	var weighted []int
	for i, w := range b.Weights {
		if w == 1 {
			weighted = append(weighted, b.Targets[i])
		}
	}
	if want := []int{'4', idEOT, '6', idEOT}; !slices.Equal(weighted, want) {
		t.Fatalf("weighted targets %v, want %v", weighted, want)
	}
}

// TestTokenizeMergedBoundary: the prompt/completion boundary falls inside the merged token " 9" when
// the prompt ends in the space; the token holds a completion byte and carries loss. When the merged
// token lies wholly in the prompt it does not.
func TestTokenizeMergedBoundary(t *testing.T) {
	tok := testTokenizer(t)
	cases := []struct {
		prompt, completion string
		loss               []bool
	}{
		{"Answer: ", "936", []bool{false, false, false, false, false, false, false, true, true, true, true}},
		{"Answer:", " 936", []bool{false, false, false, false, false, false, false, true, true, true, true}},
		{"Answer: 9", "36", []bool{false, false, false, false, false, false, false, false, true, true, true}},
	}
	wantIDs := concat(bytesIDs("Answer:"), []int{idSpace9, '3', '6', idEOT})
	for _, c := range cases {
		r, err := Render(Record{Format: PromptCompletion, Prompt: Text{Plain: c.prompt}, Completion: Text{Plain: c.completion}})
		if err != nil {
			t.Fatal(err)
		}
		seq, err := Tokenize(tok, r)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(seq.IDs, wantIDs) || !slices.Equal(seq.Loss, c.loss) {
			t.Errorf("%q + %q: ids %v loss %v, want %v %v", c.prompt, c.completion, seq.IDs, seq.Loss, wantIDs, c.loss)
		}
	}
}

// TestTokenizeLiteralSpecialInContent: "<|endoftext|>" and "<|assistant|>" typed in a message are text;
// the only special ids are the template's.
func TestTokenizeLiteralSpecialInContent(t *testing.T) {
	tok := testTokenizer(t)
	r, err := Render(Record{Format: Conversation, Messages: []Message{
		{RoleUser, "a<|endoftext|>b"}, {RoleAssistant, "<|assistant|>"}}})
	if err != nil {
		t.Fatal(err)
	}
	seq, err := Tokenize(tok, r)
	if err != nil {
		t.Fatal(err)
	}
	want := concat([]int{idUser}, bytesIDs("\na<|endoftext|>b\n"), []int{idAssistant, '\n'}, bytesIDs("<|assistant|>"), []int{idEOT})
	if !slices.Equal(seq.IDs, want) {
		t.Fatalf("ids %v\nwant %v", seq.IDs, want)
	}
	if n := seq.Targets(); n != len("<|assistant|>")+1 {
		t.Errorf("%d targets, want the 13 content bytes and the <|endoftext|>", n)
	}
}

// TestTokenizeMissingSpecial: a tokenizer without the template's markers cannot tokenize a conversation.
func TestTokenizeMissingSpecial(t *testing.T) {
	tok, err := tokenizer.Train([]string{"abc"}, tokenizer.TrainOptions{VocabSize: 257, SpecialTokens: []string{tokenizer.EndOfText}})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := Render(Record{Format: Conversation, Messages: []Message{{RoleUser, "u"}, {RoleAssistant, "a"}}})
	_, err = Tokenize(tok, r)
	if want := "the tokenizer has no special token <|user|>, which the chat template needs"; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
}

// TestSequenceTruncateTargets: truncation keeps the start; a loss flag on token 0 is not a target.
func TestSequenceTruncateTargets(t *testing.T) {
	s := Sequence{IDs: []int{1, 2, 3, 4, 5}, Loss: []bool{true, false, true, true, true}}
	if s.Targets() != 3 {
		t.Errorf("Targets = %d, want 3", s.Targets())
	}
	cut := s.Truncate(3)
	if !slices.Equal(cut.IDs, []int{1, 2, 3}) || !slices.Equal(cut.Loss, []bool{true, false, true}) || cut.Targets() != 1 {
		t.Errorf("Truncate(3) = %+v (targets %d)", cut, cut.Targets())
	}
}
