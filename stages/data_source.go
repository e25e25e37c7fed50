package stages

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"pipeline/pipeline"
	"pipeline/tasks"
	"pipeline/textdata"
	"pipeline/tokenizer"
)

// prefData is where the reward and dpo stages read preference pairs {prompt, chosen, rejected}: a tasks
// stage's prefs_train.jsonl and prefs_eval.jsonl (all its tasks mixed, or with task_names the named
// tasks' own), or files of one's own.
type prefData struct {
	Data      string   `yaml:"data" ref:"tasks" doc:"a tasks stage whose prefs_train.jsonl is trained on and prefs_eval.jsonl held out; or set data_files and eval_files"`
	DataFiles []string `yaml:"data_files" file:"true" doc:"preference JSONL files {prompt, chosen, rejected} to train on (globs, relative to the config file)"`
	EvalFiles []string `yaml:"eval_files" file:"true" doc:"held-out preference JSONL files, with data_files"`
	TaskNames []string `yaml:"task_names" doc:"which of the data stage's tasks (arithmetic, verse_choice, verse_continue) to train on and hold out: their own <task>/prefs_train.jsonl and prefs_eval.jsonl, in this order; empty means every task it wrote (its mixed files)"`
}

func (d *prefData) validate(run *pipeline.Config, report func(key, msg string)) {
	switch {
	case d.Data != "" && len(d.DataFiles)+len(d.EvalFiles) > 0:
		report("data", "set either data (a tasks stage) or data_files and eval_files, not both")
	case d.Data == "" && len(d.DataFiles) == 0:
		report("data", "name a tasks stage, or set data_files and eval_files")
	case d.Data == "" && len(d.EvalFiles) == 0:
		report("eval_files", "data_files needs held-out pairs in eval_files")
	}
	validateTaskNames(run, report, d.TaskNames, taskRef{"data", d.Data})
	checkDataFiles(run, report, "data_files", d.DataFiles, textdata.ReadPairs)
	checkDataFiles(run, report, "eval_files", d.EvalFiles, textdata.ReadPairs)
}

// pairFiles resolves the training and held-out preference files: the tasks stage's prefs_train.jsonl
// and prefs_eval.jsonl (those of task_names' tasks when set), or the globs of data_files and eval_files.
func (d *prefData) pairFiles(env *pipeline.Env) (trainFiles, evalFiles []string, err error) {
	if trainFiles, err = taskFiles(env, d.Data, d.TaskNames, "prefs_train.jsonl", d.DataFiles); err != nil {
		return nil, nil, err
	}
	evalFiles, err = taskFiles(env, d.Data, d.TaskNames, "prefs_eval.jsonl", d.EvalFiles)
	return trainFiles, evalFiles, err
}

// taskFiles is the file name of the tasks stage named by stage: the one mixing all its tasks, or with
// task names, each named task's own <task>/name in the order given. When stage is empty it is the files
// the patterns match.
func taskFiles(env *pipeline.Env, stage string, taskNames []string, name string, patterns []string) ([]string, error) {
	if stage == "" {
		return globFiles(env.Config, patterns)
	}
	dir, err := env.Input(stage)
	if err != nil {
		return nil, err
	}
	if len(taskNames) == 0 {
		return []string{filepath.Join(dir, name)}, nil
	}
	out := make([]string, len(taskNames))
	for i, t := range taskNames {
		out[i] = filepath.Join(dir, t, name)
		if _, err := os.Stat(out[i]); err != nil {
			return nil, fmt.Errorf("task_names: tasks stage %s has no %s for task %s: %w", stage, name, t, err)
		}
	}
	return out, nil
}

// taskRef is an option naming a tasks stage: its key and the stage it names ("" when unset).
type taskRef struct{ key, stage string }

// validateTaskNames checks a task_names option (eval's, and the training stages' that read a tasks
// stage): it needs one of refs to name a tasks stage; each name must be a task (tasks.Names) that every
// tasks stage named in refs generates (its tasks: option, when the config has the stage); none may be
// named twice. Everything is reported under task_names.
func validateTaskNames(run *pipeline.Config, report func(key, msg string), names []string, refs ...taskRef) {
	if len(names) == 0 {
		return
	}
	var keys, stages []string
	for _, r := range refs {
		keys = append(keys, r.key+":")
		if r.stage != "" && !slices.Contains(stages, r.stage) {
			stages = append(stages, r.stage)
		}
	}
	if len(stages) == 0 {
		report("task_names", fmt.Sprintf("task_names need a tasks stage (%s)", strings.Join(keys, " or ")))
	}
	for _, name := range names {
		if !slices.Contains(tasks.Names, name) {
			report("task_names", fmt.Sprintf("unknown task %q (known: %v)", name, tasks.Names))
			continue
		}
		for _, stage := range stages {
			if made := tasksMade(run, stage); made != nil && !slices.Contains(made, name) {
				report("task_names", fmt.Sprintf("stage %q does not generate %q (it makes %v)", stage, name, made))
			}
		}
	}
	noRepeats(report, "task_names", names)
}

// tasksMade is the tasks: option of the run's tasks stage called name; nil when the run has no such
// stage.
func tasksMade(run *pipeline.Config, name string) []string {
	if run == nil {
		return nil
	}
	st, _, ok := run.StageByName(name)
	if !ok {
		return nil
	}
	if o, ok := st.Options.(*tasksOptions); ok {
		return o.Tasks
	}
	return nil
}

// globFiles expands patterns relative to the config file as validation does (pipeline.ExpandFiles), each
// sorted, each required to name readable files.
func globFiles(cfg *pipeline.Config, patterns []string) ([]string, error) {
	var out []string
	for _, p := range patterns {
		m, problem := pipeline.ExpandFiles(cfg, p)
		if problem != "" {
			return nil, errors.New(problem)
		}
		out = append(out, m...)
	}
	return out, nil
}

// checkDataFiles reads every file that the patterns of the option key name with read, the reader the
// stage's loader calls (textdata.ReadSFT, textdata.ReadPairs, readPrompts), and reports what is wrong
// with each under key: a malformed record is then a config problem, not a failure after the stages
// before this one have trained. Records are only parsed, never tokenized. A pattern that names no file
// the stage could read is left to the check of file options, which reports it under the same key.
func checkDataFiles[T any](run *pipeline.Config, report func(key, msg string), key string, patterns []string, read func(path string) (T, error)) {
	for _, pattern := range patterns {
		paths, problem := pipeline.ExpandFiles(run, pattern)
		if problem != "" {
			continue
		}
		for _, path := range paths {
			if _, err := read(path); err != nil {
				reportDataError(report, key, err)
			}
		}
	}
}

// corpusHoldsText reports a corpus option whose files are all empty: there would be nothing to learn
// from. Patterns that name no readable file are left to the check of file options.
func corpusHoldsText(run *pipeline.Config, report func(key, msg string), key string, patterns []string) {
	var files []string
	for _, pattern := range patterns {
		paths, problem := pipeline.ExpandFiles(run, pattern)
		if problem != "" {
			return
		}
		files = append(files, paths...)
	}
	for _, f := range files {
		if info, err := os.Stat(f); err != nil || info.Size() > 0 {
			return
		}
	}
	if len(files) > 0 {
		report(key, fmt.Sprintf("%s: empty, no text to train on", strings.Join(files, ", ")))
	}
}

// reportDataError reports a data file's error under key, one problem per line of its text: each bad line
// a *textdata.LineErrors lists, then its count of the rest.
func reportDataError(report func(key, msg string), key string, err error) {
	var bad *textdata.LineErrors
	if !errors.As(err, &bad) {
		report(key, err.Error())
		return
	}
	for _, line := range bad.Lines() {
		report(key, line)
	}
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
