package stages

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"pipeline/graphs"
	"pipeline/pipeline"
	"pipeline/tokenizer"
)

// runToy runs toyPretrainConfig in dir, cancelling the run during pretrain step stopAt+1 (none when
// stopAt < 0).
func runToy(t *testing.T, dir string, stopAt int) error {
	t.Helper()
	var hook func(step int)
	testHookStep = func(_ string, step int) { hook(step) }
	defer func() { testHookStep = nil }()
	_, err := runToyConfig(t, dir, toyPretrainConfig, &hook, stopAt)
	return err
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
	// Its config.json names <|endoftext|> as bos and eos, as GPT-2's names 50256, so that transformers'
	// generate stops there.
	out := filepath.Join(straight, "out/toy/pretrain")
	cfg, _, err := graphs.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	eot, _ := tok.SpecialID(tokenizer.EndOfText)
	if cfg.BOSTokenID == nil || cfg.EOSTokenID == nil || *cfg.BOSTokenID != eot || *cfg.EOSTokenID != eot {
		t.Errorf("config.json: bos_token_id %v, eos_token_id %v; want both %d", cfg.BOSTokenID, cfg.EOSTokenID, eot)
	}
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json", "loss.png", "metrics.jsonl", "manifest.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	m, _ := pipeline.ReadManifest(out)
	if m.Summary["val_loss"] == nil || m.Summary["unigram_entropy"] == nil {
		t.Errorf("summary %v", m.Summary)
	}
}
