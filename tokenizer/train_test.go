package tokenizer

import (
	"bytes"
	"runtime"
	"slices"
	"testing"
)

// minbpe's hand-computed example: three merges of "aaabdaaabac" give [258, 100, 258, 97, 99]. After
// (a,a), the pairs (256,a) and (a,b) both occur twice; minbpe takes the first seen, our rule the smaller
// ids (a,b), and the third merge (256,257) ends at the same encoding.
func TestTrainMinbpeExample(t *testing.T) {
	tok, err := Train([]string{"aaabdaaabac"}, TrainOptions{VocabSize: 259})
	if err != nil {
		t.Fatal(err)
	}
	wantMerges := []merge{{'a', 'a', 256}, {'a', 'b', 257}, {256, 257, 258}}
	if !slices.Equal(tok.merges, wantMerges) {
		t.Fatalf("merges %v, want %v", tok.merges, wantMerges)
	}
	if got := tok.Encode("aaabdaaabac"); !slices.Equal(got, []int{258, 100, 258, 97, 99}) {
		t.Fatalf("Encode = %v", got)
	}
}

// TestTrainTieBreak: in "ba ab" (as one pre-token each: "ba", " ab"), the pairs (b,a), (' ',a), (a,b)
// all occur once; the rule takes the smallest ids first: (' ', a) = (32, 97). That leaves (b, a) = (98, 97)
// and (256, b), both once: (98, 97) is smaller.
func TestTrainTieBreak(t *testing.T) {
	tok, err := Train([]string{"ba ab"}, TrainOptions{VocabSize: 256 + 3})
	if err != nil {
		t.Fatal(err)
	}
	// After (' ', a) -> 256, " ab" is [256, b]: the pairs left are (b, a) and (256, b).
	want := []merge{{' ', 'a', 256}, {'b', 'a', 257}, {256, 'b', 258}}
	if !slices.Equal(tok.merges, want) {
		t.Fatalf("merges %v, want %v", tok.merges, want)
	}
}

// TestTrainMinFrequency: "ab ab ab cd" has (a,b) 3 times (as "ab" once, " ab" twice gives (' ',a) twice),
// and (c,d) once; with min_frequency 2 the pairs seen once are never merged.
func TestTrainMinFrequency(t *testing.T) {
	tok, err := Train([]string{"ab ab ab cd"}, TrainOptions{VocabSize: 1000, MinFrequency: 2})
	if err != nil {
		t.Fatal(err)
	}
	// (a,b) 3 -> "ab"; then (' ', ab) 2 -> " ab"; (' ', c) and (c, d) occur once and stay unmerged.
	want := []merge{{'a', 'b', 256}, {' ', 256, 257}}
	if !slices.Equal(tok.merges, want) {
		t.Fatalf("merges %v, want %v", tok.merges, want)
	}
	if tok.VocabSize() != 258 {
		t.Fatalf("vocab %d, want 258", tok.VocabSize())
	}
}

func TestTrainSpecialTokens(t *testing.T) {
	tok, err := Train([]string{"hello hello"}, TrainOptions{VocabSize: 256 + 2 + 4, SpecialTokens: DefaultSpecialTokens})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range DefaultSpecialTokens {
		if id, ok := tok.SpecialID(s); !ok || id != 258+i {
			t.Errorf("%s = %d, %v; want %d", s, id, ok, 258+i)
		}
	}
	if _, err := Train(nil, TrainOptions{VocabSize: 256, SpecialTokens: []string{"<|x|>"}}); err == nil {
		t.Error("vocab_size 256 with a special token: want an error")
	}
	if _, err := Train(nil, TrainOptions{VocabSize: 300, SpecialTokens: []string{"<|x|>", "<|x|>"}}); err == nil {
		t.Error("a repeated special token: want an error")
	}
}

// TestTrainDeterministic: ten trainings on kjv.txt (a slice, for time) write byte-identical files, on one
// CPU and on several (which cut the text into different chunks for counting).
func TestTrainDeterministic(t *testing.T) {
	text := string(readShared(t, "data/corpus/kjv.txt"))[:1<<20]
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var first []byte
	for run := range 10 {
		runtime.GOMAXPROCS(1 + run%3)
		tok, err := Train([]string{text, "second text 123"}, TrainOptions{VocabSize: 2000, SpecialTokens: DefaultSpecialTokens})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := tok.writeTokenizerJSON(&buf); err != nil {
			t.Fatal(err)
		}
		if run == 0 {
			first = buf.Bytes()
		} else if !bytes.Equal(buf.Bytes(), first) {
			t.Fatalf("run %d wrote a different tokenizer.json", run)
		}
	}
}

// TestTrainEmpty: no text, or only whitespace, gives no merges (whitespace-only words have pairs, but
// a single space character word has none) and encodes to nothing or to byte tokens.
func TestTrainEmpty(t *testing.T) {
	for _, texts := range [][]string{nil, {""}, {" "}} {
		tok, err := Train(texts, TrainOptions{VocabSize: 300})
		if err != nil {
			t.Fatal(err)
		}
		if tok.NumMerges() != 0 {
			t.Errorf("%q: %d merges, want 0", texts, tok.NumMerges())
		}
		if ids := tok.Encode(""); len(ids) != 0 {
			t.Errorf("Encode(\"\") = %v", ids)
		}
	}
}
