package stages

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pipeline/pipeline"
)

// loadProblems writes the toy corpus, the data files (name -> content) and config as dir/run.yaml,
// and returns the problems pipeline.Load reports, each as printed; none when it loads.
func loadProblems(t *testing.T, dir, config string, files map[string]string) []string {
	t.Helper()
	writeToyCorpus(t, dir)
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "run.yaml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := pipeline.Load(filepath.Join(dir, "run.yaml"), nil)
	if err == nil {
		return nil
	}
	ps, ok := pipeline.AsProblems(err)
	if !ok {
		t.Fatalf("Load: %v, want config problems", err)
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// problemAt is how a problem about the nth (from 1) key line "    key:" of dir/run.yaml's config, in
// stages[stage], starts: the file, the key's line and column, and the key's path.
func problemAt(t *testing.T, dir, config, key string, nth, stage int) string {
	t.Helper()
	for i, line := range strings.Split(config, "\n") {
		if strings.HasPrefix(line, "    "+key+":") {
			if nth--; nth == 0 {
				return fmt.Sprintf("%s:%d:5: stages[%d].%s: ", filepath.Join(dir, "run.yaml"), i+1, stage, key)
			}
		}
	}
	t.Fatalf("the config has too few %s keys", key)
	return ""
}

// checkProblems compares the problems Load reported with the ones wanted, exactly and in order.
func checkProblems(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// sft's data_files and eval_data_files are read when the config loads, with the loader's own checks:
// each bad line is a problem at the option's key naming the data file's line; a file of records without
// SFT fields, or of preference pairs, is refused. Good files load.
func TestSFTDataFilesCheckedAtLoad(t *testing.T) {
	dir := t.TempDir()
	cfg := toySFTConfig + "    data_files: [bad.jsonl]\n    eval_data_files: [wrongfields.jsonl, prefs.jsonl]\n"
	got := loadProblems(t, dir, cfg, map[string]string{
		"bad.jsonl": `{"prompt": "a", "completion": " b"}` + "\n" + `["a", "b"]` + "\n" +
			`{"prompt": "c", "completion": 7}` + "\n" + `{"prompt": "d"` + "\n",
		"wrongfields.jsonl": `{"text": "t"}` + "\n",
		"prefs.jsonl":       `{"prompt": "p", "chosen": " a", "rejected": " b"}` + "\n",
	})
	data, eval := problemAt(t, dir, cfg, "data_files", 1, 3), problemAt(t, dir, cfg, "eval_data_files", 1, 3)
	bad := filepath.Join(dir, "bad.jsonl")
	checkProblems(t, got, []string{
		data + bad + ":2: not a JSON object: want an object, got an array",
		data + bad + `:3: field "completion": want a string, got a number`,
		data + bad + ":4: not a JSON object: the line ends inside the object (a record must be one whole line)",
		eval + filepath.Join(dir, "wrongfields.jsonl") + `:1: no "prompt" or "messages" field: not SFT or preference data in TRL's field names`,
		eval + filepath.Join(dir, "prefs.jsonl") + ": preference pairs, not SFT data (prompt/completion or messages)",
	})

	good := map[string]string{
		"bad.jsonl":         `{"prompt": "a", "completion": " b"}` + "\n",
		"wrongfields.jsonl": `{"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]}` + "\n",
		"prefs.jsonl":       `{"prompt": "p", "completion": " a"}` + "\n",
	}
	if got := loadProblems(t, dir, cfg, good); got != nil {
		t.Errorf("good files: %v", got)
	}
}

// A glob is expanded as the stage expands it and every file it matches is read; a file with more than
// ten bad lines lists ten and counts the rest, as the loader does; a file that does not exist is
// reported once, by the check of file options (which comes first).
func TestDataFilesGlobsAndManyBadLines(t *testing.T) {
	dir := t.TempDir()
	cfg := toySFTConfig + "    data_files: [\"parts/*.jsonl\", missing.jsonl]\n"
	got := loadProblems(t, dir, cfg, map[string]string{
		"parts/a.jsonl": `{"prompt": "a", "completion": " b"}` + "\n",
		"parts/b.jsonl": strings.Repeat(`{"prompt": "a", "completion": ""}`+"\n", 12),
	})
	at := problemAt(t, dir, cfg, "data_files", 1, 3)
	b := filepath.Join(dir, "parts", "b.jsonl")
	want := []string{at + `"missing.jsonl" does not exist (relative paths are relative to ` + dir + ")"}
	for line := 1; line <= 10; line++ {
		want = append(want, fmt.Sprintf(`%s%s:%d: field "completion": empty`, at, b, line))
	}
	want = append(want, at+"and 2 more bad lines in "+b)
	checkProblems(t, got, want)
}

// toyPreferenceStages are the reward, ppo and dpo stages of the toy tests after bpe and pretrain: their
// data_files, eval_files and prompt_files are prefs_train.jsonl, prefs_eval.jsonl and prompts.jsonl.
const toyPreferenceStages = toyPretrainConfig + toyRewardStage + toyPPOStage + toyDPOStage

// The reward and dpo stages' preference files and ppo's prompt files are read when the config loads:
// a file of SFT records is not preference pairs, a pair without its rejected side and a prompt record
// without a prompt are problems at their keys, in each stage that reads them. Good files load.
func TestPreferenceAndPromptFilesCheckedAtLoad(t *testing.T) {
	dir := t.TempDir()
	got := loadProblems(t, dir, toyPreferenceStages, map[string]string{
		"prefs_train.jsonl": `{"prompt": "p", "completion": " a"}` + "\n",
		"prefs_eval.jsonl":  `{"prompt": "p", "chosen": " a", "rejected": " b"}` + "\n" + `{"prompt": "p", "chosen": " a"}` + "\n",
		"prompts.jsonl":     `{"prompt": "lord"}` + "\n\n" + `{"answer": "bread"}` + "\n" + `{"prompt": "", "answer": "bread"}` + "\n",
	})
	train, eval, prompts := filepath.Join(dir, "prefs_train.jsonl"), filepath.Join(dir, "prefs_eval.jsonl"), filepath.Join(dir, "prompts.jsonl")
	at := func(key string, nth, stage int) string {
		return problemAt(t, dir, toyPreferenceStages, key, nth, stage)
	}
	want := []string{
		at("data_files", 1, 2) + train + ": prompt/completion records, not preference pairs (prompt/chosen/rejected)",
		at("eval_files", 1, 2) + eval + `:2: field "rejected": missing`,
		at("prompt_files", 1, 3) + prompts + `:3: field "prompt": missing or null`,
		at("prompt_files", 1, 3) + prompts + `:4: field "prompt": empty`,
		at("data_files", 2, 4) + train + ": prompt/completion records, not preference pairs (prompt/chosen/rejected)",
		at("eval_files", 2, 4) + eval + `:2: field "rejected": missing`,
	}
	checkProblems(t, got, want)

	dir = t.TempDir()
	writeRewardPrefs(t, dir)
	writePPOPrompts(t, dir)
	if got := loadProblems(t, dir, toyPreferenceStages, nil); got != nil {
		t.Errorf("good files: %v", got)
	}
}

// A bpe or pretrain corpus whose files are all empty is a config problem: nothing to train on. One
// empty file among others with text is not.
func TestEmptyCorpusIsAProblem(t *testing.T) {
	const config = `run: toy
out_dir: out
model: {n_layer: 1, n_head: 2, n_embd: 16, n_positions: 48}
stages:
  - name: bpe
    kind: bpe
    corpus: [empty.txt]
    vocab_size: 300
  - name: pretrain
    kind: pretrain
    tokenizer: bpe
    corpus: [empty.txt, corpus.txt]
`
	dir := t.TempDir()
	got := loadProblems(t, dir, config, map[string]string{"empty.txt": ""})
	want := []string{problemAt(t, dir, config, "corpus", 1, 0) + filepath.Join(dir, "empty.txt") + ": empty, no text to train on"}
	checkProblems(t, got, want)
}
