package stages

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"pipeline/dataset"
	"pipeline/evaluate"
	"pipeline/pipeline"
	"pipeline/tasks"
)

// eval scores checkpoints on held-out data, all on the same items, and writes one report across them
// (package evaluate, lm-evaluation-harness's conventions): the tasks stage's eval items under each
// prompting, multiple choice by log-likelihood and generation by exact match, and the bits per byte of
// corpus documents that pretraining held out.
type evalKind struct{}

type evalOptions struct {
	Targets         []string          `yaml:"targets" ref:"pretrain|sft|dpo|ppo" required:"true" doc:"the stages whose checkpoints are scored: one report row each, in this order"`
	Tasks           string            `yaml:"tasks" ref:"tasks" doc:"the tasks stage whose eval items are scored; empty scores held-out text only"`
	TaskNames       []string          `yaml:"task_names" doc:"which of its tasks (arithmetic, verse_choice, verse_continue); empty means every task it wrote"`
	Prompting       []string          `yaml:"prompting" doc:"zero_shot; few_shot (num_fewshot examples, blank-line separated); cot_zero_shot (\"Let's think step by step.\"); cot_few_shot (examples with worked answers, then the cot_zero_shot prompt). Chain of thought is scored only on tasks with worked answers (arithmetic)"`
	NumFewShot      int               `yaml:"num_fewshot" doc:"k of few_shot and cot_few_shot, drawn per item from the task's fewshot split"`
	MaxItems        int               `yaml:"max_items" doc:"score the first N eval items of each task; 0 means all"`
	MaxNewTokens    int               `yaml:"max_new_tokens" doc:"most tokens greedily generated for a direct answer; a longer prompt keeps its last n_positions - max_new_tokens tokens (lm-eval's truncation, counted in the log)"`
	CoTMaxNewTokens int               `yaml:"cot_max_new_tokens" doc:"most tokens greedily generated for a chain-of-thought answer, truncating prompts likewise"`
	AnswerPattern   string            `yaml:"answer_pattern" doc:"regular expression whose first group is a generation's answer; empty means each task's own (the leading number, the number after \"The answer is\", the verse's next words)"`
	Perplexity      perplexityOptions `yaml:"perplexity" doc:"bits per byte on held-out corpus documents"`
}

type perplexityOptions struct {
	Corpus    []string `yaml:"corpus" file:"true" doc:"corpus files (globs) relative to the config file; empty scores no text"`
	HeldOutBy string   `yaml:"held_out_by" ref:"pretrain" doc:"the pretrain stage whose validation split picks the documents: only those it never trained on (its doc_separator and val_fraction, the run's seed) are scored"`
	MaxDocs   int      `yaml:"max_docs" doc:"score the first N held-out documents in file order; 0 means all"`
}

// promptings maps the names of `prompting:` to evaluate's Prompting, given k = num_fewshot.
var promptings = map[string]func(k int) evaluate.Prompting{
	"zero_shot":     func(int) evaluate.Prompting { return evaluate.Prompting{} },
	"few_shot":      func(k int) evaluate.Prompting { return evaluate.Prompting{Shots: k} },
	"cot_zero_shot": func(int) evaluate.Prompting { return evaluate.Prompting{CoT: true} },
	"cot_few_shot":  func(k int) evaluate.Prompting { return evaluate.Prompting{Shots: k, CoT: true} },
}

// shotSeparator ends a generation: k-shot prompts join their examples with a blank line, so a model
// that has learnt the format writes one after its answer (lm-eval's "until").
const shotSeparator = "\n\n"

func (evalKind) Name() string { return "eval" }
func (evalKind) Doc() string {
	return "score checkpoints on held-out task items (multiple choice, exact match; zero-shot, few-shot, chain of thought) and held-out text (bits per byte), one report across them"
}

func (evalKind) Defaults() any {
	return &evalOptions{Prompting: []string{"zero_shot", "few_shot", "cot_zero_shot", "cot_few_shot"}, NumFewShot: 3,
		MaxNewTokens: 16, CoTMaxNewTokens: 64, Perplexity: perplexityOptions{MaxDocs: 100}}
}

func (evalKind) Validate(opts any, run *pipeline.Config, report func(key, msg string)) {
	o := opts.(*evalOptions)
	if len(o.Targets) == 0 {
		report("targets", "name at least one stage to score")
	}
	noRepeats(report, "targets", o.Targets)
	if o.Tasks == "" && len(o.Perplexity.Corpus) == 0 {
		report("tasks", "nothing to score: name a tasks stage or give perplexity.corpus")
	}
	var made *tasksOptions // what the tasks stage generates, when the config says
	if st, _, ok := run.StageByName(o.Tasks); ok {
		made, _ = st.Options.(*tasksOptions)
	}
	validateTaskNames(run, report, o.TaskNames, taskRef{"tasks", o.Tasks})
	if o.Tasks != "" && len(o.Prompting) == 0 {
		report("prompting", "name at least one of zero_shot, few_shot, cot_zero_shot, cot_few_shot")
	}
	fewShot, cot := false, false
	for _, p := range o.Prompting {
		mk, ok := promptings[p]
		if !ok {
			report("prompting", fmt.Sprintf("unknown prompting %q (known: zero_shot, few_shot, cot_zero_shot, cot_few_shot)", p))
			continue
		}
		fewShot = fewShot || mk(1).Shots > 0
		cot = cot || mk(1).CoT
	}
	noRepeats(report, "prompting", o.Prompting)
	switch {
	case o.NumFewShot < 0:
		report("num_fewshot", "must not be negative")
	case fewShot && o.NumFewShot == 0:
		report("num_fewshot", "few_shot and cot_few_shot need at least one example")
	case fewShot && made != nil && o.NumFewShot > made.FewShot:
		report("num_fewshot", fmt.Sprintf("%d examples wanted, stage %q writes %d per task", o.NumFewShot, o.Tasks, made.FewShot))
	}
	if o.MaxItems < 0 {
		report("max_items", "must not be negative")
	}
	n := run.Model.NPositions
	if o.MaxNewTokens < 1 || o.MaxNewTokens >= n {
		report("max_new_tokens", fmt.Sprintf("must be in [1, model.n_positions = %d), got %d", n, o.MaxNewTokens))
	}
	if cot && (o.CoTMaxNewTokens < 1 || o.CoTMaxNewTokens >= n) {
		report("cot_max_new_tokens", fmt.Sprintf("must be in [1, model.n_positions = %d), got %d", n, o.CoTMaxNewTokens))
	}
	if o.AnswerPattern != "" {
		if _, err := tasks.NewExtractor(o.AnswerPattern); err != nil {
			report("answer_pattern", err.Error())
		}
	}
	switch {
	case len(o.Perplexity.Corpus) > 0 && o.Perplexity.HeldOutBy == "":
		report("perplexity.held_out_by", "name the pretrain stage whose validation split says which documents are held out")
	case len(o.Perplexity.Corpus) == 0 && o.Perplexity.HeldOutBy != "":
		report("perplexity.corpus", "held_out_by picks documents from corpus files; name them")
	}
	if o.Perplexity.MaxDocs < 0 {
		report("perplexity.max_docs", "must not be negative")
	}
}

func (evalKind) Run(ctx context.Context, env *pipeline.Env, opts any) error {
	o := opts.(*evalOptions)

	// 1. The items: per task its first max_items eval items and its fewshot pool, under each prompting.
	suites, err := o.loadSuites(env)
	if err != nil {
		return err
	}

	// 2. The held-out text: corpus documents the pretrain stage kept out of training.
	docs, err := o.heldOutDocuments(env)
	if err != nil {
		return err
	}

	// 3. Each checkpoint on every item and document, one report row each.
	total := len(docs)
	for _, s := range suites {
		total += len(s.items) * len(s.modes)
	}
	bar := env.Progress(total*len(o.Targets), "eval")
	var r evaluate.Report
	truncated := map[string]int{}
	for _, target := range o.Targets {
		if truncated[target], err = o.scoreTarget(ctx, env, target, suites, docs, &r, func(n int) { bar.Add(n) }); err != nil {
			return err
		}
	}
	bar.Finish()

	// 4. The report: report.json, report.md, report.png beside items/; its tables in the log.
	if err := r.Write(env.Dir); err != nil {
		return err
	}
	o.summarize(env, &r, truncated)
	for _, line := range strings.Split(r.Markdown(), "\n") {
		if strings.HasPrefix(line, "|") || strings.HasPrefix(line, "#") {
			env.Logf("%s", line)
		}
	}
	return nil
}

// scoreTarget scores the checkpoint of stage target on every suite and on docs into r, writing its item
// logs, and returns how many of its requests were cut to fit its context.
func (o *evalOptions) scoreTarget(ctx context.Context, env *pipeline.Env, target string, suites []suite, docs []string,
	r *evaluate.Report, tick func(n int)) (int, error) {
	dir, err := env.Input(target)
	if err != nil {
		return 0, err
	}
	m, err := loadCheckpointModel(ctx, dir)
	if err != nil {
		return 0, fmt.Errorf("target %s: %w", target, err)
	}
	for _, s := range suites {
		for _, mode := range s.modes {
			before := m.truncated
			logs, err := o.score(m, s, mode, uint64(env.Config.Seed), tick)
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			if err != nil {
				return 0, fmt.Errorf("target %s, %s %s: %w", target, s.task, mode.Name(), err)
			}
			if n := m.truncated - before; n > 0 {
				env.Logf("%s %s %s: %d requests cut from the left to fit the context of %d tokens", target, s.task, mode.Name(), n, m.context)
			}
			if err := evaluate.WriteItemLogs(evaluate.ItemLogPath(env.Dir, target, s.task, mode.Name()), logs); err != nil {
				return 0, err
			}
			score, err := evaluate.Tally(logs)
			if err != nil {
				return 0, err
			}
			r.Add(target, s.task, mode.Name(), score)
		}
	}
	if len(docs) > 0 {
		text, err := evaluate.Perplexity(m, m.tokens(), m.context, docs)
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if err != nil {
			return 0, fmt.Errorf("target %s, held-out text: %w", target, err)
		}
		tick(len(docs))
		r.AddText(target, text)
	}
	return m.truncated, nil
}

// suite is one task's items and the promptings it is scored under.
type suite struct {
	task           string
	items, fewshot []tasks.Item
	modes          []evaluate.Prompting
}

// loadSuites reads <tasks>/<task>/eval.jsonl and fewshot.jsonl of each task scored. Chain of thought
// applies only to a task whose every eval item has a worked answer; other tasks leave those cells out.
func (o *evalOptions) loadSuites(env *pipeline.Env) ([]suite, error) {
	if o.Tasks == "" {
		return nil, nil
	}
	dir, err := env.Input(o.Tasks)
	if err != nil {
		return nil, err
	}
	names := o.TaskNames
	if len(names) == 0 {
		for _, t := range tasks.Names {
			if _, err := os.Stat(filepath.Join(dir, t, tasks.SplitEval+".jsonl")); err == nil {
				names = append(names, t)
			}
		}
	}
	var out []suite
	for _, t := range names {
		s := suite{task: t}
		if s.items, err = readItems(filepath.Join(dir, t, tasks.SplitEval+".jsonl")); err != nil {
			return nil, err
		}
		if len(s.items) == 0 {
			return nil, fmt.Errorf("%s: no %s items", t, tasks.SplitEval)
		}
		if o.MaxItems > 0 {
			s.items = s.items[:min(o.MaxItems, len(s.items))]
		}
		if s.fewshot, err = readItems(filepath.Join(dir, t, tasks.SplitFewShot+".jsonl")); err != nil {
			return nil, err
		}
		worked := !slices.ContainsFunc(s.items, func(it tasks.Item) bool { return it.Worked == "" })
		for _, name := range o.Prompting {
			p := promptings[name](o.NumFewShot)
			if p.CoT && !worked {
				env.Logf("%s: no worked answers, %s not scored", t, name)
				continue
			}
			s.modes = append(s.modes, p)
		}
		env.Logf("%s: %d items under %d promptings", t, len(s.items), len(s.modes))
		out = append(out, s)
	}
	return out, nil
}

// score scores s's items under mode one at a time (tick after each), so that the progress bar moves
// and a cancelled run stops within an item.
func (o *evalOptions) score(m *checkpointModel, s suite, mode evaluate.Prompting, seed uint64, tick func(n int)) ([]evaluate.ItemLog, error) {
	maxNew := o.MaxNewTokens
	if mode.CoT {
		maxNew = o.CoTMaxNewTokens
	}
	to := evaluate.TaskOptions{Prompting: mode, Seed: seed, MaxNewTokens: maxNew, Stops: []string{shotSeparator}, Pattern: o.AnswerPattern}
	logs := make([]evaluate.ItemLog, 0, len(s.items))
	for i := range s.items {
		l, err := evaluate.ScoreTask(m, m.tokens(), s.items[i:i+1], s.fewshot, to)
		if err != nil {
			return nil, err
		}
		logs = append(logs, l...)
		tick(1)
	}
	return logs, nil
}

// heldOutDocuments returns the documents of perplexity.corpus that the held_out_by pretrain stage put
// in its validation split (dataset.IsValidation with its doc_separator and val_fraction and the run's
// seed), the first max_docs of them in file order.
func (o *evalOptions) heldOutDocuments(env *pipeline.Env) ([]string, error) {
	if len(o.Perplexity.Corpus) == 0 {
		return nil, nil
	}
	var pre *pretrainOptions
	if st, _, ok := env.Config.StageByName(o.Perplexity.HeldOutBy); ok {
		pre, _ = st.Options.(*pretrainOptions)
	}
	if pre == nil {
		return nil, fmt.Errorf("perplexity.held_out_by: %q is not a pretrain stage of this run", o.Perplexity.HeldOutBy)
	}
	re, err := regexp.Compile(pre.DocSeparator)
	if err != nil {
		return nil, err
	}
	files, err := env.Stage.Files(env.Config)
	if err != nil {
		return nil, err
	}
	var docs []string
	full := func() bool { return o.Perplexity.MaxDocs > 0 && len(docs) == o.Perplexity.MaxDocs }
	for _, f := range files {
		all, err := dataset.SplitDocuments(f, re)
		if err != nil {
			return nil, err
		}
		for _, d := range all {
			if !full() && dataset.IsValidation(d, env.Config.Seed, pre.ValFraction) {
				docs = append(docs, d.Text)
			}
		}
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("perplexity.corpus: stage %s held out none of its documents", o.Perplexity.HeldOutBy)
	}
	env.Logf("held-out text: %d documents that %s did not train on", len(docs), o.Perplexity.HeldOutBy)
	return docs, nil
}

// summarize puts the headline numbers into the manifest: acc per target and "task prompting", bits per
// byte per target, and the requests truncated per target.
func (o *evalOptions) summarize(env *pipeline.Env, r *evaluate.Report, truncated map[string]int) {
	acc := map[string]map[string]float64{}
	for target, byTask := range r.Scores {
		acc[target] = map[string]float64{}
		for task, modes := range byTask {
			for mode, s := range modes {
				acc[target][task+" "+mode] = s.Acc
			}
		}
	}
	if len(acc) > 0 {
		env.SetSummary("acc", acc)
	}
	if len(r.Text) > 0 {
		bpb := map[string]float64{}
		for target, t := range r.Text {
			bpb[target] = t.BitsPerByte
		}
		env.SetSummary("bits_per_byte", bpb)
	}
	env.SetSummary("truncated", truncated)
}

// noRepeats reports a value named twice in a list option.
func noRepeats(report func(key, msg string), key string, values []string) {
	for i, v := range values {
		if slices.Index(values, v) < i {
			report(key, fmt.Sprintf("%q is named twice", v))
		}
	}
}

func init() { pipeline.Register(evalKind{}) }
