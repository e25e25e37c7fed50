package tokenizer

import (
	"bytes"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// smallTokenizer is trained on a slice of kjv.txt with the default special tokens.
func smallTokenizer(t testing.TB, p Pattern, splitDigits bool) *Tokenizer {
	t.Helper()
	text := "The 12 tribes: it's 2024; they're here.\n\n  Spaces  and\ttabs.\n"
	tok, err := Train([]string{strings.Repeat(text, 3)}, TrainOptions{VocabSize: 256 + 40 + 4,
		Pattern: p, SplitDigits: splitDigits, SpecialTokens: DefaultSpecialTokens})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

var roundTripTexts = []string{
	"", " ", "   ", "\n\n\t ", "hello world", "emoji 🎉 and 日本語", "\xff\xfe invalid \x80 utf8 \xc3",
	"<|endoftext|> literal", "<|user|>hi<|assistant|>there<|endoftext|>", "<|user|", "12345 numbers",
}

func TestRoundTrip(t *testing.T) {
	for _, p := range []Pattern{PatternGPT2, PatternGPT4} {
		for _, digits := range []bool{false, true} {
			tok := smallTokenizer(t, p, digits)
			for _, s := range roundTripTexts {
				checkRoundTrip(t, tok, s)
			}
		}
	}
}

// checkRoundTrip asserts decode(encode(s)) == s for both encodings, and that the offsets tile s and
// each span holds the bytes of its token.
func checkRoundTrip(t *testing.T, tok *Tokenizer, s string) {
	t.Helper()
	for _, special := range []bool{false, true} {
		ids, spans := tok.EncodeOffsets(s, special)
		if back := tok.Decode(ids); !bytes.Equal(back, []byte(s)) {
			t.Fatalf("special=%v: %q decodes back as %q", special, s, back)
		}
		plain := tok.Encode(s)
		if special {
			plain = tok.EncodeSpecial(s)
		}
		if !slices.Equal(ids, plain) {
			t.Fatalf("special=%v: EncodeOffsets ids %v differ from %v", special, ids, plain)
		}
		if len(spans) != len(ids) {
			t.Fatalf("%d spans for %d ids", len(spans), len(ids))
		}
		pos := 0
		for k, sp := range spans {
			if sp[0] != pos || sp[1] <= sp[0] {
				t.Fatalf("%q: span %d is %v, want it to start at %d", s, k, sp, pos)
			}
			if got := string(tok.Decode(ids[k : k+1])); got != s[sp[0]:sp[1]] {
				t.Fatalf("%q: token %d is %q but its span holds %q", s, k, got, s[sp[0]:sp[1]])
			}
			pos = sp[1]
		}
		if pos != len(s) {
			t.Fatalf("%q: spans end at %d, want %d", s, pos, len(s))
		}
	}
}

func TestSpecialTokens(t *testing.T) {
	tok := smallTokenizer(t, PatternGPT2, false)
	eot, _ := tok.SpecialID(EndOfText)
	user, _ := tok.SpecialID(User)
	text := "<|user|>hi<|endoftext|>"
	got := tok.EncodeSpecial(text)
	want := append(append([]int{user}, tok.Encode("hi")...), eot)
	if !slices.Equal(got, want) {
		t.Fatalf("EncodeSpecial(%q) = %v, want %v", text, got, want)
	}
	for _, id := range tok.Encode(text) {
		if id == eot || id == user {
			t.Fatalf("Encode(%q) = %v holds a special id", text, tok.Encode(text))
		}
	}
	_, spans := tok.EncodeOffsets(text, true)
	if spans[0] != [2]int{0, 8} || spans[len(spans)-1] != [2]int{10, 23} {
		t.Fatalf("spans %v", spans)
	}
}

// TestLongWord: 100,000 repeats of one letter are one pre-token, which the heap BPE handles in
// O(n log n) (the benchmark BenchmarkEncodeLongWord measures it). With GPT-2's merges, tiktoken (npm
// 1.0.22) encodes "a"*100000 as 25,000 tokens "aaaa" (id 24794) and "b"*100000 as 50,000 tokens.
func TestLongWord(t *testing.T) {
	tok := loadGPT2(t)
	ids := tok.Encode(strings.Repeat("a", 100000))
	if len(ids) != 25000 || ids[0] != 24794 || ids[24999] != 24794 {
		t.Fatalf("%d ids, first %v", len(ids), ids[:min(4, len(ids))])
	}
	if n := len(tok.Encode(strings.Repeat("b", 100000))); n != 50000 {
		t.Fatalf("b*100000: %d ids, want 50000", n)
	}
}

// naiveBPE is GPT-2's encoder.py bpe(): repeatedly merge every occurrence of the lowest-ranked pair.
func naiveBPE(t *Tokenizer, word string) []int32 {
	var s []int32
	for i := 0; i < len(word); i++ {
		s = append(s, t.byteID[word[i]])
	}
	for {
		best := int32(-1)
		for k := 0; k+1 < len(s); k++ {
			if r, ok := t.ranks[pairKey(s[k], s[k+1])]; ok && (best < 0 || r < best) {
				best = r
			}
		}
		if best < 0 {
			return s
		}
		m := t.merges[best]
		var out []int32
		for k := 0; k < len(s); k++ {
			if k+1 < len(s) && s[k] == m.a && s[k+1] == m.b {
				out = append(out, m.id)
				k++
			} else {
				out = append(out, s[k])
			}
		}
		s = out
	}
}

// TestBPEWordMatchesNaive compares the heap BPE with the quadratic textbook one on kjv's pre-tokens
// and on long runs, with GPT-2's merges.
func TestBPEWordMatchesNaive(t *testing.T) {
	tok := loadGPT2(t)
	text := string(readShared(t, "data/corpus/kjv.txt"))[:200000]
	words := []string{strings.Repeat("ab", 300), strings.Repeat(" the", 50), strings.Repeat("\n", 77)}
	tok.pre.each(text, func(i, j int) { words = append(words, text[i:j]) })
	e := tok.getEncoder()
	for _, w := range words {
		if got, want := tok.bpeWord(e, w, nil), naiveBPE(tok, w); !slices.Equal(got, want) {
			t.Fatalf("%q: heap %v, naive %v", w, got, want)
		}
	}
}

// TestParallelEncodeEqualsSerial: kjv.txt encoded whole, cut into 4 chunks encoded in parallel, equals
// kjv.txt encoded in one piece, ids and offsets; and so do 7 chunks encoded one after the other.
func TestParallelEncodeEqualsSerial(t *testing.T) {
	tok := loadGPT2(t)
	text := string(readShared(t, "data/corpus/kjv.txt"))
	e := tok.getEncoder()
	whole, wholeSpans := tok.encodeChunk(e, text, 0, nil, nil, true)

	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4)) // four chunks whatever the machine
	ids, spans := tok.EncodeOffsets(text, false)
	if !slices.Equal(ids, whole) || !slices.Equal(spans, wholeSpans) {
		t.Fatal("parallel encoding differs from encoding in one piece")
	}

	cuts := chunkCuts(text, 7)
	if len(cuts) != 8 {
		t.Fatalf("cuts %v", cuts)
	}
	var serial []int
	for k := 0; k+1 < len(cuts); k++ {
		serial, _ = tok.encodeChunk(e, text[cuts[k]:cuts[k+1]], 0, serial, nil, false)
	}
	if !slices.Equal(serial, whole) {
		t.Fatal("7 chunks one by one differ from encoding in one piece")
	}
}

func FuzzRoundTrip(f *testing.F) {
	for _, s := range roundTripTexts {
		f.Add(s)
	}
	toks := []*Tokenizer{smallTokenizer(f, PatternGPT2, false), smallTokenizer(f, PatternGPT4, true)}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range toks {
			checkRoundTrip(t, tok, s)
		}
	})
}
