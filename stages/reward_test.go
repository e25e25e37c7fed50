package stages

import (
	"bytes"
	"encoding/json"
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

// writeRewardPrefs writes preference pairs a tiny reward model learns in a few dozen steps and that
// carry over to held-out prompts: both answers are three words, and the chosen one holds " bread"
// somewhere among them while the rejected one never does, so the head must gather the answer's words,
// not read the token before it. The last training pair's answers differ only after the 16 tokens of a
// side: identical after truncation, it is dropped and counted.
func writeRewardPrefs(t *testing.T, dir string) {
	t.Helper()
	words := strings.Fields("lord moses aaron land give forth said unto")
	rng := rand.New(rand.NewPCG(11, 12))
	phrase := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = words[rng.IntN(len(words))]
		}
		return out
	}
	for _, f := range []struct {
		name string
		n    int
	}{{"prefs_train.jsonl", 96}, {"prefs_eval.jsonl", 40}} {
		var b strings.Builder
		write := func(prompt, chosen, rejected string) {
			line, _ := json.Marshal(map[string]string{"prompt": prompt, "chosen": chosen, "rejected": rejected})
			b.Write(append(line, '\n'))
		}
		for range f.n {
			chosen := phrase(3)
			chosen[rng.IntN(3)] = "bread"
			write(strings.Join(phrase(2), " "), " "+strings.Join(chosen, " "), " "+strings.Join(phrase(3), " "))
		}
		if f.name == "prefs_train.jsonl" {
			long := strings.Join(phrase(20), " ")
			write(long, " bread", " moses")
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const toyRewardStage = `  - name: reward
    kind: reward
    init: pretrain
    data_files: [prefs_train.jsonl]
    eval_files: [prefs_eval.jsonl]
    center_rewards_coefficient: 0.01
    batch_size: 8
    grad_accum: 2
    max_steps: 40
    lr: 1.0e-2
    warmup_steps: 4
    eval_every: 10
    checkpoint_every: 7
`

// runToyReward runs bpe, pretrain and reward on the toy data in dir, cancelling the run during reward
// step stopAt+1 (none when stopAt < 0).
func runToyReward(t *testing.T, dir string, stopAt int) error {
	t.Helper()
	writeToyCorpus(t, dir)
	writeRewardPrefs(t, dir)
	_, err := runToyConfig(t, dir, toyPretrainConfig+toyRewardStage, &testHookRewardStep, stopAt)
	return err
}

// The reward stage end to end on toy data, from a pretrain checkpoint: held-out accuracy rises from
// chance to nearly every pair, the truncated identical pair is dropped and counted, TRL's metrics are
// logged per step and on the held-out pairs, the output loads as a reward model, and a run stopped and
// resumed ends with the same bytes.
func TestRewardStage(t *testing.T) {
	straight := t.TempDir()
	if err := runToyReward(t, straight, -1); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(straight, "out/toy/reward")
	m, err := pipeline.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := m.Summary["before"].(map[string]any)
	after, _ := m.Summary["after"].(map[string]any)
	t.Logf("held-out accuracy %v -> %v, loss %v -> %v", before["val_accuracy"], after["val_accuracy"], before["val_loss"], after["val_loss"])
	if acc, _ := after["val_accuracy"].(float64); acc < 0.9 {
		t.Errorf("held-out accuracy after training %v, want >= 0.9", after["val_accuracy"])
	}
	if acc, _ := before["val_accuracy"].(float64); acc > 0.75 {
		t.Errorf("held-out accuracy before training %v: the toy task is too easy to tell anything", before["val_accuracy"])
	}
	if m.Summary["identical_pairs_dropped"] != 1.0 || m.Summary["train_pairs"] != 96.0 || m.Summary["eval_pairs"] != 40.0 {
		t.Errorf("summary %v", m.Summary)
	}
	recs := readMetrics(t, filepath.Join(out, "metrics.jsonl"))
	if len(recs) != 40 {
		t.Fatalf("%d metrics records, want 40", len(recs))
	}
	for _, k := range []string{"loss", "accuracy", "margin", "mean_reward", "min_reward", "max_reward"} {
		if _, ok := recs[0][k]; !ok {
			t.Errorf("step metrics lack %s: %v", k, recs[0])
		}
		if _, ok := recs[9]["val_"+k]; !ok {
			t.Errorf("held-out metrics lack val_%s: %v", k, recs[9])
		}
	}
	if _, _, err := graphs.LoadReward(out); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json", "loss.png", "accuracy.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}

	want, err := os.ReadFile(filepath.Join(out, graphs.ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	resumed := t.TempDir()
	const k = 17 // stops mid-way between checkpoints 14 and 21: the Ctrl-C checkpoint at 18 resumes it
	if err := runToyReward(t, resumed, k); !errors.Is(err, pipeline.ErrInterrupted) {
		t.Fatalf("want an interrupted run, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(resumed, fmt.Sprintf("out/toy/reward.partial/steps/%08d", k+1))); err != nil {
		t.Fatalf("no checkpoint at the step where it stopped: %v", err)
	}
	cfg, err := pipeline.Load(filepath.Join(resumed, "run.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	plans, err := pipeline.Plan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("partial (step %d of 40)", k+1); plans[2].Describe() != want {
		t.Errorf("status %q, want %q", plans[2].Describe(), want)
	}
	if err := runToyReward(t, resumed, -1); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(resumed, "out/toy/reward", graphs.ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("resumed weights differ from the uninterrupted run")
	}
	gotMetrics, _ := os.ReadFile(filepath.Join(resumed, "out/toy/reward/metrics.jsonl"))
	wantMetrics, _ := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if lines := func(b []byte) int { return strings.Count(string(b), "\n") }; lines(gotMetrics) != lines(wantMetrics) {
		t.Errorf("resumed metrics.jsonl has %d records, the straight run %d", lines(gotMetrics), lines(wantMetrics))
	}
}

// prefData with task_names reads the named tasks' own preference files: reward and dpo, run end to end
// on a tasks stage of arithmetic and verse_choice, train and hold out on arithmetic's pairs only.
func TestPrefDataTaskNames(t *testing.T) {
	dir := t.TempDir()
	var stages string
	for _, kind := range []string{"reward", "dpo"} {
		stages += fmt.Sprintf(`  - name: %s
    kind: %s
    init: pretrain
    data: tasks
    task_names: [arithmetic]
    batch_size: 4
    max_steps: 2
    warmup_steps: 1
    eval_every: 2
    checkpoint_every: 2
`, kind, kind)
	}
	log := runToyTwoTasks(t, dir, stages, &testHookDPOStep)
	tasksDir := filepath.Join(dir, "out/toy/tasks")
	train := jsonlLines(t, filepath.Join(tasksDir, "arithmetic/prefs_train.jsonl"))
	held := jsonlLines(t, filepath.Join(tasksDir, "arithmetic/prefs_eval.jsonl"))
	if mixed := jsonlLines(t, filepath.Join(tasksDir, "prefs_train.jsonl")); len(mixed) != 2*len(train) {
		t.Fatalf("the mixed prefs_train.jsonl has %d pairs, arithmetic's %d: want both tasks in the fixture", len(mixed), len(train))
	}
	for _, r := range append(train, held...) {
		if !strings.HasPrefix(r["prompt"], "Question: What is ") {
			t.Fatalf("prompt %q is not arithmetic", r["prompt"])
		}
	}
	for _, stage := range []string{"reward", "dpo"} {
		read := logLinesOf(log, stage, " records, ")
		want := []string{fmt.Sprintf("tasks/arithmetic/prefs_train.jsonl: %d records, ", len(train)),
			fmt.Sprintf("tasks/arithmetic/prefs_eval.jsonl: %d records, ", len(held))}
		if len(read) != len(want) {
			t.Fatalf("%s read %q, want two files", stage, read)
		}
		for i, w := range want {
			if !strings.Contains(read[i], w) {
				t.Errorf("%s read %q, want %q", stage, read[i], w)
			}
		}
	}
	m, err := pipeline.ReadManifest(filepath.Join(dir, "out/toy/reward"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Summary["train_pairs"] != float64(len(train)) || m.Summary["eval_pairs"] != float64(len(held)) {
		t.Errorf("reward summary %v, want %d training and %d held-out pairs", m.Summary, len(train), len(held))
	}
}

// task_names in prefData (reward's and dpo's) is checked against the tasks stage that data names.
func TestPrefDataValidateTaskNames(t *testing.T) {
	for _, c := range []struct {
		kind pipeline.Kind
		data func(opts any) *prefData
	}{
		{rewardKind{}, func(opts any) *prefData { return &opts.(*rewardOptions).prefData }},
		{dpoKind{}, func(opts any) *prefData { return &opts.(*dpoOptions).prefData }},
	} {
		checkTaskNamesValidation(t, c.kind, func(opts any, names []string, stage string) {
			d := c.data(opts)
			d.TaskNames, d.Data = names, stage
			if stage == "" {
				d.DataFiles, d.EvalFiles = []string{"a.jsonl"}, []string{"b.jsonl"}
			}
		})
	}
}
