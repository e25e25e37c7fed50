package stages

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pipeline/graphs"
	"pipeline/pipeline"
)

// writeToyCorpus writes a small deterministic corpus of documents separated by "%" lines.
func writeToyCorpus(t *testing.T, dir string) {
	t.Helper()
	words := strings.Fields("the lord said unto moses and aaron go forth into the land which i give you and ye shall eat bread")
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for doc := 0; doc < 120; doc++ {
		for line := 0; line < 4; line++ {
			for w := 0; w < 9; w++ {
				b.WriteString(words[rng.IntN(len(words))])
				b.WriteByte(' ')
			}
			b.WriteString("\n")
		}
		b.WriteString("%\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "corpus.txt"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

const toyPretrainConfig = `run: toy
seed: 5
out_dir: out
model: {n_layer: 1, n_head: 2, n_embd: 16, n_positions: 16}
stages:
  - name: bpe
    kind: bpe
    corpus: [corpus.txt]
    vocab_size: 300
  - name: pretrain
    kind: pretrain
    tokenizer: bpe
    corpus: [corpus.txt]
    val_fraction: 0.2
    batch_size: 4
    grad_accum: 2
    max_steps: 12
    warmup_steps: 2
    eval_every: 4
    eval_batches: 2
    checkpoint_every: 3
    sample_tokens: 8
`

func runToy(t *testing.T, dir string, stopAt int) error {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "run.yaml"), []byte(toyPretrainConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := pipeline.Load(filepath.Join(dir, "run.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	testHookStep = func(stage string, step int) {
		if step == stopAt {
			cancel() // as Ctrl-C during step stopAt+1: the step finishes, a checkpoint is written
		}
	}
	defer func() { testHookStep = nil }()
	return pipeline.Run(ctx, cfg, pipeline.RunOptions{})
}

// A pretrain stopped at step k and resumed ends with the same bytes as one never stopped.
func TestPretrainResumeIsBitExact(t *testing.T) {
	straight := t.TempDir()
	writeToyCorpus(t, straight)
	if err := runToy(t, straight, -1); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(straight, "out/toy/pretrain/model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{4, 7} {
		dir := t.TempDir()
		writeToyCorpus(t, dir)
		if err := runToy(t, dir, k); !errors.Is(err, pipeline.ErrInterrupted) {
			t.Fatalf("k=%d: want an interrupted run, got %v", k, err)
		}
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("out/toy/pretrain.partial/steps/%08d", k+1))); err != nil {
			t.Fatalf("k=%d: no checkpoint at the step where it stopped: %v", k, err)
		}
		cfg, _ := pipeline.Load(filepath.Join(dir, "run.yaml"), nil)
		plans, _ := pipeline.Plan(cfg)
		if want := fmt.Sprintf("partial (step %d of 12)", k+1); plans[1].Describe() != want {
			t.Fatalf("k=%d: status %q, want %q", k, plans[1].Describe(), want)
		}
		if err := runToy(t, dir, -1); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, "out/toy/pretrain/model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("k=%d: resumed weights differ from the uninterrupted run", k)
		}
	}
	// The output is a loadable Hugging Face checkpoint with its tokenizer, a loss curve and metrics.
	out := filepath.Join(straight, "out/toy/pretrain")
	if _, _, err := graphs.Load(out); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tokenizer.json", "loss.png", "metrics.jsonl", "manifest.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	m, _ := pipeline.ReadManifest(out)
	if m.Summary["val_loss"] == nil || m.Summary["unigram_entropy"] == nil {
		t.Errorf("summary %v", m.Summary)
	}
}
