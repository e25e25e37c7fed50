package stages

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pipeline/pipeline"
	"pipeline/tokenizer"
)

// TestBPEStage runs a one-stage config end to end: the tokenizer lands in <out>/<run>/bpe with the
// asked-for size, special ids after the merges, and the log reports the self-check.
func TestBPEStage(t *testing.T) {
	dir := t.TempDir()
	corpus := strings.Repeat("In the beginning God created the heaven and the earth. 1234\n", 50)
	if err := os.MkdirAll(filepath.Join(dir, "corpus"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "corpus", "a.txt"), []byte(corpus), 0o644); err != nil {
		t.Fatal(err)
	}
	config := `run: t
out_dir: out
stages:
  - name: bpe
    kind: bpe
    corpus: [corpus/*.txt]
    vocab_size: 290
    pattern: gpt4
    split_digits: true
`
	cfgPath := filepath.Join(dir, "run.yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := pipeline.Load(cfgPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if err := pipeline.Run(context.Background(), cfg, pipeline.RunOptions{Out: &log}); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(filepath.Join(dir, "out", "t", "bpe"))
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 290 || tok.Pattern() != tokenizer.PatternGPT4 || !tok.SplitDigits() {
		t.Fatalf("vocab %d, pattern %s, split_digits %v", tok.VocabSize(), tok.Pattern(), tok.SplitDigits())
	}
	if id, ok := tok.SpecialID(tokenizer.Assistant); !ok || id != 289 {
		t.Fatalf("%s = %d, %v; want 289 (the defaults' last)", tokenizer.Assistant, id, ok)
	}
	if string(tok.Decode(tok.Encode(corpus))) != corpus {
		t.Fatal("the corpus does not round-trip")
	}
	if !strings.Contains(log.String(), "self-check round trip of 3000 bytes ok") {
		t.Fatalf("log lacks the self-check:\n%s", log.String())
	}
}

func TestBPEValidate(t *testing.T) {
	o := &bpeOptions{Corpus: []string{"x"}, VocabSize: 257, Pattern: "gpt3", MinFrequency: -1,
		SpecialTokens: []string{"<|a|>", "", "<|a|>"}}
	var keys []string
	bpeKind{}.Validate(o, &pipeline.Config{}, func(key, _ string) { keys = append(keys, key) })
	want := []string{"vocab_size", "pattern", "min_frequency", "special_tokens[1]", "special_tokens[2]"}
	if !slices.Equal(keys, want) {
		t.Fatalf("reported %v, want %v", keys, want)
	}
	keys = nil
	bpeKind{}.Validate(bpeKind{}.Defaults(), &pipeline.Config{}, func(key, _ string) { keys = append(keys, key) })
	if len(keys) != 0 {
		t.Fatalf("the defaults are invalid: %v", keys)
	}
}
