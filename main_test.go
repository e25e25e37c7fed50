package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"pipeline/pipeline"
)

// docs/config-reference.md is `pipeline keys` output; it must be regenerated whenever an option changes.
func TestConfigReferenceIsCurrent(t *testing.T) {
	var b bytes.Buffer
	pipeline.WriteReference(&b)
	have, err := os.ReadFile("docs/config-reference.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, b.Bytes()) {
		t.Fatal("docs/config-reference.md is out of date: run `go run . keys > docs/config-reference.md`")
	}
}

// Every shipped config must validate.
func TestShippedConfigsValidate(t *testing.T) {
	for _, f := range []string{"configs/tiny.yaml", "configs/gpt-small.yaml"} {
		if _, err := pipeline.Load(f, nil); err != nil {
			if _, statErr := os.Stat("data/corpus/kjv.txt"); statErr != nil {
				t.Skipf("data/corpus is absent (bash scripts/get-data.sh makes it): %v", err)
			}
			t.Errorf("%s: %v", f, err)
		}
	}
}

// The example config in README.md must validate as it stands (a newcomer copies it first).
func TestReadmeExampleConfigValidates(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(readme, []byte("```yaml\nrun: tiny"))
	if start < 0 {
		t.Fatal("README.md has no ```yaml example starting with run: tiny")
	}
	block := readme[start+len("```yaml\n"):]
	block = block[:bytes.Index(block, []byte("```"))]
	dir := t.TempDir()
	corpus := filepath.Join(dir, "data", "corpus")
	os.MkdirAll(corpus, 0o755)
	os.MkdirAll(filepath.Join(dir, "configs"), 0o755)
	for _, f := range []string{"kjv.txt", "fortunes.txt"} {
		os.WriteFile(filepath.Join(corpus, f), []byte("text\n"), 0o644)
	}
	path := filepath.Join(dir, "configs", "example.yaml")
	os.WriteFile(path, block, 0o644)
	if _, err := pipeline.Load(path, nil); err != nil {
		t.Fatalf("README's example config:\n%v", err)
	}
}

// Options that change neither a stage's weights nor its recorded results (checkpoint_every, keep_last,
// eval_every) are left out of the fingerprint of every training stage; any other option, eval_batches
// included, still changes it and its dependants'.
func TestFingerprintIgnoresCheckpointAndEvalCadence(t *testing.T) {
	const file = "configs/tiny.yaml"
	if _, err := os.Stat("data/corpus/kjv.txt"); err != nil {
		t.Skip("data/corpus is absent (bash scripts/get-data.sh makes it)")
	}
	fps := func(sets ...string) map[string]string {
		t.Helper()
		cfg, err := pipeline.Load(file, sets)
		if err != nil {
			t.Fatal(err)
		}
		plans, err := pipeline.Plan(cfg)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, p := range plans {
			out[p.Stage.Name] = p.Fingerprint
		}
		return out
	}
	base := fps()
	same := fps("stages.pretrain.keep_last=5", "stages.pretrain.eval_every=7", "stages.pretrain.checkpoint_every=3",
		"stages.sft.eval_every=3", "stages.sft.keep_last=1", "stages.sft.checkpoint_every=9",
		"stages.reward.eval_every=5", "stages.reward.keep_last=4", "stages.reward.checkpoint_every=6",
		"stages.ppo.checkpoint_every=3", "stages.ppo.keep_last=5")
	for name, fp := range base {
		if same[name] != fp {
			t.Errorf("stage %s: checkpoint or eval cadence changed its fingerprint", name)
		}
	}
	for _, c := range []struct {
		set     string
		changed []string
	}{
		{"stages.pretrain.lr=1e-3", []string{"pretrain", "sft", "reward", "dpo", "ppo", "eval"}},
		{"stages.pretrain.eval_batches=2", []string{"pretrain", "sft", "reward", "dpo", "ppo", "eval"}},
		{"stages.ppo.lr=1e-4", []string{"ppo", "eval"}},
	} {
		got := fps(c.set)
		for name, fp := range base {
			if changed := got[name] != fp; changed != slices.Contains(c.changed, name) {
				t.Errorf("--set %s: stage %s changed %v, want %v", c.set, name, changed, !changed)
			}
		}
	}
}

// A required list given empty is a config problem at its key, not a stage that trains on nothing.
func TestRequiredListMustNotBeEmpty(t *testing.T) {
	if _, err := os.Stat("data/corpus/kjv.txt"); err != nil {
		t.Skip("data/corpus is absent (bash scripts/get-data.sh makes it)")
	}
	_, err := pipeline.Load("configs/tiny.yaml", []string{"stages.bpe.corpus=[]"})
	ps, _ := pipeline.AsProblems(err)
	want := "--set stages.bpe.corpus=[]: stages[0].corpus: must not be empty (corpus files (globs) to train on, relative to the config file)"
	if len(ps) != 1 || ps[0].String() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}
