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
)

// small is the options of a quick tasks stage.
const small = "    corpus: [kjv.txt]\n    train: 40\n    eval: 10\n    fewshot: 3\n"

// tasksConfig writes a run config with one tasks stage of these options next to a link to the KJV, so
// that corpus: [kjv.txt] resolves relative to the config file.
func tasksConfig(t *testing.T, options string) string {
	t.Helper()
	dir := t.TempDir()
	kjv, err := filepath.Abs(corpusPath(t, "kjv.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(kjv, filepath.Join(dir, "kjv.txt")); err != nil {
		t.Fatal(err)
	}
	cfg := "run: t\nseed: 7\nout_dir: out\nstages:\n  - name: data\n    kind: tasks\n" + options
	path := filepath.Join(dir, "run.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runTasks(t *testing.T, path string) string {
	t.Helper()
	cfg, err := pipeline.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if err := pipeline.Run(context.Background(), cfg, pipeline.RunOptions{Out: &log}); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "arithmetic: 40 train, 10 eval, 3 fewshot") {
		t.Errorf("log lacks the arithmetic counts:\n%s", log.String())
	}
	return filepath.Join(cfg.RunDir(), "data")
}

// The stage writes every file under the stage directory, the same bytes for the same seed.
func TestTasksStage(t *testing.T) {
	a, b := runTasks(t, tasksConfig(t, small)), runTasks(t, tasksConfig(t, small))
	for _, rel := range []string{"sft.jsonl", "prefs_train.jsonl", "prefs_eval.jsonl", "prompts.jsonl",
		"arithmetic/train.jsonl", "verse_choice/eval.jsonl", "verse_continue/fewshot.jsonl"} {
		x, err := os.ReadFile(filepath.Join(a, rel))
		if err != nil {
			t.Fatal(err)
		}
		if y, _ := os.ReadFile(filepath.Join(b, rel)); !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs of one config", rel)
		}
	}
	x, _ := os.ReadFile(filepath.Join(a, "sft.jsonl"))
	if n := bytes.Count(x, []byte("\n")); n != 3*40 {
		t.Errorf("sft.jsonl has %d rows, want 120", n)
	}
}

// With a tokenizer, the stage fails when an item is longer than the model's context, naming the items.
func TestTasksStageChecksFit(t *testing.T) {
	path := tasksConfig(t, small+"    tokenizer: bpe\n    tasks: [arithmetic]\n")
	body, _ := os.ReadFile(path)
	bpe := "  - name: bpe\n    kind: bpe\n    corpus: [small.txt]\n    vocab_size: 300\n"
	body = bytes.Replace(body, []byte("stages:\n"), []byte("model: {n_positions: 24}\nstages:\n"+bpe), 1)
	os.WriteFile(path, body, 0o644)
	os.WriteFile(filepath.Join(filepath.Dir(path), "small.txt"), []byte("What is 12 + 5? The answer is 17.\n"), 0o644)
	cfg, err := pipeline.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	err = pipeline.Run(context.Background(), cfg, pipeline.RunOptions{Out: &log})
	if err == nil || !strings.Contains(err.Error(), "items longer than model.n_positions = 24: arithmetic-") {
		t.Errorf("err = %v, want items longer than the context\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "longest arithmetic text: ") {
		t.Errorf("log lacks the longest text:\n%s", log.String())
	}
}

func TestTasksValidate(t *testing.T) {
	_, err := pipeline.Load(tasksConfig(t, "    tasks: [verse_choice, sudoku]\n    eval: 0\n    max_digits: 12\n"), nil)
	ps, ok := pipeline.AsProblems(err)
	if !ok {
		t.Fatalf("Load: %v, want config problems", err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.Path)
	}
	for _, want := range []string{"stages[0].corpus", "stages[0].tasks", "stages[0].eval", "stages[0].max_digits"} {
		if !strings.Contains(strings.Join(got, " "), want) {
			t.Errorf("problems %v lack %s", got, want)
		}
	}
}

func TestLongestTexts(t *testing.T) {
	words := func(s string) []int { return make([]int, len(strings.Fields(s))) } // one token a word
	each := func(fn func(task, id, text string)) {
		fn("arithmetic", "a1", "Question: What is 1 + 5?\nAnswer: 6")
		fn("arithmetic", "a2", "Question: What is 12 + 5?\nAnswer: Let's think step by step. 2+5=7, write 7. 1+0=1. The answer is 17.")
		fn("arithmetic", "a3", "Question: What is 2 + 2?\nAnswer: 4")
		fn("verse_choice", "v1", "Jesus wept. Amen.")
		fn("verse_choice", "v2", "Jesus wept. Then said the Jews,")
	}
	got := longestTexts(each, words)
	want := []longest{{"arithmetic", "a2", 20}, {"verse_choice", "v2", 6}}
	if !slices.Equal(got, want) {
		t.Errorf("longestTexts = %v, want %v", got, want)
	}
}
