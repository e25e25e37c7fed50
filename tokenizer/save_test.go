package tokenizer

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSaveLoad: every pattern and split_digits survives tokenizer.json; vocab.json + merges.txt load back
// through LoadGPT2 as the same tokenizer; a second save writes the same bytes.
func TestSaveLoad(t *testing.T) {
	text := "The 12 tribes: it's 2024; <|user|> they're here.\n"
	for _, p := range []Pattern{PatternGPT2, PatternGPT4} {
		for _, digits := range []bool{false, true} {
			tok := smallTokenizer(t, p, digits)
			dir := t.TempDir()
			if err := tok.Save(dir); err != nil {
				t.Fatal(err)
			}
			back, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if back.Pattern() != p || back.SplitDigits() != digits || back.VocabSize() != tok.VocabSize() ||
				!slices.Equal(back.SpecialTokens(), tok.SpecialTokens()) {
				t.Fatalf("%s/%v: loaded %s/%v vocab %d specials %v", p, digits, back.Pattern(), back.SplitDigits(),
					back.VocabSize(), back.SpecialTokens())
			}
			if !slices.Equal(back.EncodeSpecial(text), tok.EncodeSpecial(text)) {
				t.Fatalf("%s/%v: loaded tokenizer encodes differently", p, digits)
			}
			again := t.TempDir()
			if err := back.Save(again); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"tokenizer.json", "vocab.json", "merges.txt"} {
				a, _ := os.ReadFile(filepath.Join(dir, name))
				b, _ := os.ReadFile(filepath.Join(again, name))
				if len(a) == 0 || !bytes.Equal(a, b) {
					t.Fatalf("%s differs after load and save", name)
				}
			}
			if p == PatternGPT2 && !digits {
				g, err := LoadGPT2(filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt"))
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(g.merges, tok.merges) || !slices.Equal(g.SpecialTokens(), tok.SpecialTokens()) {
					t.Fatal("vocab.json + merges.txt load as a different tokenizer")
				}
			}
		}
	}
}

// TestGPT2SaveLoad: GPT-2's tokenizer written as tokenizer.json and read back encodes kjv's start alike,
// and its merges.txt is GPT-2's vocab.bpe line for line.
func TestGPT2SaveLoad(t *testing.T) {
	tok := loadGPT2(t)
	dir := t.TempDir()
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	text := string(readShared(t, "data/corpus/kjv.txt"))[:100000]
	if !slices.Equal(back.Encode(text), tok.Encode(text)) {
		t.Fatal("GPT-2 tokenizer.json encodes differently")
	}
	ours, _ := os.ReadFile(filepath.Join(dir, "merges.txt"))
	theirs := readShared(t, "data/gpt2/vocab.bpe")
	ol, tl := bytes.Split(bytes.TrimSpace(ours), []byte("\n")), bytes.Split(bytes.TrimSpace(theirs), []byte("\n"))
	if len(ol) != len(tl) {
		t.Fatalf("merges.txt %d lines, vocab.bpe %d", len(ol), len(tl))
	}
	for i := 1; i < len(ol); i++ {
		if !bytes.Equal(bytes.TrimSpace(ol[i]), bytes.TrimSpace(tl[i])) {
			t.Fatalf("line %d: %q vs %q", i+1, ol[i], tl[i])
		}
	}
}

// TestLoadRejects: each malformed tokenizer.json gives an error naming what is wrong, never a panic.
func TestLoadRejects(t *testing.T) {
	const pre = `"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false}`
	cases := []struct{ doc, want string }{
		{`{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},` + pre + `}`, "no token for byte"},
		{`{"model":{"type":"BPE","vocab":{"a":0,"b":5},"merges":[]},` + pre + `}`, "ids must be 0, 1, 2"},
		{`{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"ByteLevel"}}`, "pre_tokenizer"},
		{`{"model":{"type":"BPE","vocab":{},"merges":[]},"pre_tokenizer":{"type":"Sequence","pretokenizers":[null,null]}}`, "pre_tokenizer"},
		{`{"model":{"type":"WordPiece"}}`, "want BPE"},
		{`{"model":`, "unexpected end"},
	}
	for _, c := range cases {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(c.doc), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one saying %q", c.doc, err, c.want)
		}
	}
}
