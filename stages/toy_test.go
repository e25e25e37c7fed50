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

// toyTwoTasksConfig writes two tasks, arithmetic and verse_choice (on the toy KJV), and pretrains
// briefly, at toySFTConfig's context: the fixture of the task_names tests, whose stages end the file.
// The tasks stage has no tokenizer, so that no verse needs to fit the context: a stage that reads
// arithmetic only never meets one.
const toyTwoTasksConfig = `run: toy
seed: 5
out_dir: out
model: {n_layer: 1, n_head: 2, n_embd: 16, n_positions: 48}
stages:
  - name: bpe
    kind: bpe
    corpus: [corpus.txt, kjv.txt]
    vocab_size: 300
  - name: tasks
    kind: tasks
    corpus: [kjv.txt]
    tasks: [arithmetic, verse_choice]
    train: 24
    eval: 6
    fewshot: 2
    max_digits: 2
    worked_fraction: 0
    max_verse_words: 10
  - name: pretrain
    kind: pretrain
    tokenizer: bpe
    corpus: [corpus.txt]
    val_fraction: 0.2
    batch_size: 4
    max_steps: 4
    warmup_steps: 1
    eval_every: 4
    eval_batches: 1
    checkpoint_every: 4
    sample_tokens: 4
`

// runToyTwoTasks writes the toy corpus and KJV into dir and runs toyTwoTasksConfig followed by stages
// (hook: the last stage's testHook...Step, never stopping), failing the test on an error. It returns the log.
func runToyTwoTasks(t *testing.T, dir, stages string, hook *func(step int)) string {
	t.Helper()
	writeToyCorpus(t, dir)
	writeToyKJV(t, dir)
	log, err := runToyConfig(t, dir, toyTwoTasksConfig+stages, hook, -1)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	return log
}

// jsonlLines reads a JSONL file's records, each as a map of its string fields.
func jsonlLines(t *testing.T, path string) []map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		rec := map[string]string{}
		for k, v := range m {
			if s, ok := v.(string); ok {
				rec[k] = s
			}
		}
		out = append(out, rec)
	}
	return out
}

// logLinesOf is the lines of a run's log that stage wrote and that contain substr.
func logLinesOf(log, stage, substr string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.HasPrefix(line, "["+stage+"] ") && strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return out
}

// checkTaskNamesValidation validates kind's options against a run whose tasks stage "tasks" makes
// arithmetic only. set puts the task names into default options and names the tasks stage in the
// option that reads one, or, given "", reads files instead. Only the task_names problems are looked at.
func checkTaskNamesValidation(t *testing.T, kind pipeline.Kind, set func(opts any, names []string, tasksStage string)) {
	t.Helper()
	made := tasksKind{}.Defaults().(*tasksOptions)
	made.Tasks = []string{"arithmetic"}
	run := &pipeline.Config{Model: pipeline.DefaultModel(),
		Stages: []*pipeline.StageConfig{{Name: "tasks", Kind: "tasks", Options: made}}}
	for _, c := range []struct {
		name  string
		names []string
		stage string
		want  string // the one task_names problem, "" for none
	}{
		{"a task it makes", []string{"arithmetic"}, "tasks", ""},
		{"none", nil, "tasks", ""},
		{"none without a tasks stage", nil, "", ""},
		{"unknown task", []string{"arithmetic", "sudoku"}, "tasks", `unknown task "sudoku" (known: [arithmetic verse_choice verse_continue])`},
		{"not generated", []string{"verse_choice"}, "tasks", `stage "tasks" does not generate "verse_choice" (it makes [arithmetic])`},
		{"no tasks stage", []string{"arithmetic"}, "", "task_names need a tasks stage ("},
		{"twice", []string{"arithmetic", "arithmetic"}, "tasks", `"arithmetic" is named twice`},
	} {
		o := kind.Defaults()
		set(o, c.names, c.stage)
		var got []string
		kind.Validate(o, run, func(key, msg string) {
			if key == "task_names" {
				got = append(got, msg)
			}
		})
		if (c.want == "" && len(got) != 0) || (c.want != "" && (len(got) != 1 || !strings.HasPrefix(got[0], c.want))) {
			t.Errorf("%s %s: task_names problems %q, want %q", kind.Name(), c.name, got, c.want)
		}
	}
}
