package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pipeline/pipeline"
)

// The toy pipeline the stage tests run end to end: a small corpus, a config that tokenizes it and
// pretrains a tiny model on it, a runner that can stop a run at a chosen step, and a reader for the
// metrics it logs. Each stage's test adds its own data and its stage to toyPretrainConfig.

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

// runToyConfig writes config as dir/run.yaml and runs it, the hook (a stage's testHook...Step) cancelling
// the run when called with stopAt: as Ctrl-C during step stopAt+1, the step finishes and a checkpoint is
// written (never when stopAt < 0). It returns the run's log and error.
func runToyConfig(t *testing.T, dir, config string, hook *func(step int), stopAt int) (string, error) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "run.yaml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := pipeline.Load(filepath.Join(dir, "run.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	*hook = func(step int) {
		if step == stopAt {
			cancel()
		}
	}
	defer func() { *hook = nil }()
	var log bytes.Buffer
	err = pipeline.Run(ctx, cfg, pipeline.RunOptions{Out: &log})
	return log.String(), err
}

// readMetrics reads metrics.jsonl into one map per line, keeping the numeric fields.
func readMetrics(t *testing.T, path string) []map[string]float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]float64
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		rec := map[string]float64{}
		for k, v := range m {
			if f, ok := v.(float64); ok {
				rec[k] = f
			}
		}
		out = append(out, rec)
	}
	return out
}
