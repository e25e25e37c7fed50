package stages

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"pipeline/pipeline"
	"pipeline/tasks"
	"pipeline/textdata"
	"pipeline/tokenizer"
)

// prefData is where the reward and dpo stages read preference pairs {prompt, chosen, rejected}: a tasks
// stage's prefs_train.jsonl and prefs_eval.jsonl, or files of one's own.
type prefData struct {
	Data      string   `yaml:"data" ref:"tasks" doc:"a tasks stage whose prefs_train.jsonl is trained on and prefs_eval.jsonl held out; or set data_files and eval_files"`
	DataFiles []string `yaml:"data_files" file:"true" doc:"preference JSONL files {prompt, chosen, rejected} to train on (globs, relative to the config file)"`
	EvalFiles []string `yaml:"eval_files" file:"true" doc:"held-out preference JSONL files, with data_files"`
}

func (d *prefData) validate(report func(key, msg string)) {
	switch {
	case d.Data != "" && len(d.DataFiles)+len(d.EvalFiles) > 0:
		report("data", "set either data (a tasks stage) or data_files and eval_files, not both")
	case d.Data == "" && len(d.DataFiles) == 0:
		report("data", "name a tasks stage, or set data_files and eval_files")
	case d.Data == "" && len(d.EvalFiles) == 0:
		report("eval_files", "data_files needs held-out pairs in eval_files")
	}
}

// pairFiles resolves the training and held-out preference files: the tasks stage's prefs_train.jsonl
// and prefs_eval.jsonl, or the globs of data_files and eval_files.
func (d *prefData) pairFiles(env *pipeline.Env) (trainFiles, evalFiles []string, err error) {
	if trainFiles, err = taskFiles(env, d.Data, "prefs_train.jsonl", d.DataFiles); err != nil {
		return nil, nil, err
	}
	evalFiles, err = taskFiles(env, d.Data, "prefs_eval.jsonl", d.EvalFiles)
	return trainFiles, evalFiles, err
}

// taskFiles is the file name of the tasks stage named by stage, or, when stage is empty, the files the
// patterns match.
func taskFiles(env *pipeline.Env, stage, name string, patterns []string) ([]string, error) {
	if stage == "" {
		return globFiles(env.Config, patterns)
	}
	dir, err := env.Input(stage)
	if err != nil {
		return nil, err
	}
	return []string{filepath.Join(dir, name)}, nil
}

// globFiles expands patterns relative to the config file, each sorted, each required to match.
func globFiles(cfg *pipeline.Config, patterns []string) ([]string, error) {
	var out []string
	for _, p := range patterns {
		m, err := filepath.Glob(cfg.Resolve(p))
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("no file matches %q", p)
		}
		out = append(out, m...)
	}
	return out, nil
}

// loadPairFiles reads preference files in order, logging and adding up what truncation dropped.
func loadPairFiles(env *pipeline.Env, paths []string, tok *tokenizer.Tokenizer, T int) ([]textdata.Pair, textdata.Stats, error) {
	var out []textdata.Pair
	var total textdata.Stats
	for _, p := range paths {
		pairs, st, err := textdata.LoadPairs(p, tok, T)
		if err != nil {
			return nil, total, err
		}
		env.Logf("%s: %s", p, st)
		out = append(out, pairs...)
		total.Records += st.Records
		total.Kept += st.Kept
		total.Truncated += st.Truncated
		total.TokensCut += st.TokensCut
		total.Identical += st.Identical
	}
	return out, total, nil
}

// readItems reads a split file of the tasks stage, one tasks.Item a line.
func readItems(path string) ([]tasks.Item, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReader(f))
	dec.DisallowUnknownFields()
	var out []tasks.Item
	for {
		var it tasks.Item
		if err := dec.Decode(&it); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: item %d: %w", path, len(out)+1, err)
		}
		out = append(out, it)
	}
	return out, nil
}
