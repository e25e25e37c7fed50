package stages

import (
	"context"
	"fmt"
	"strings"

	"pipeline/pipeline"
	"pipeline/tasks"
	"pipeline/tokenizer"
)

// tasksKind writes the offline task data (package tasks): per task, disjoint train / eval / fewshot
// items, the SFT rows, preference pairs and PPO prompts made from them, and the same rows of all tasks
// mixed at the top of the stage directory.
type tasksKind struct{}

type tasksOptions struct {
	Corpus         []string `yaml:"corpus" file:"true" doc:"the King James Bible in kjv.txt's format, relative to the config file; the verse tasks need it"`
	Tokenizer      string   `yaml:"tokenizer" ref:"bpe" doc:"optional bpe stage: if set, every SFT row and preference pair must fit model.n_positions of its tokens"`
	Tasks          []string `yaml:"tasks" doc:"tasks to generate: arithmetic, verse_choice, verse_continue"`
	Train          int      `yaml:"train" doc:"items per task in the train split (SFT, preference pairs, PPO prompts)"`
	Eval           int      `yaml:"eval" doc:"items per task in the eval split (scoring, held-out preference pairs)"`
	FewShot        int      `yaml:"fewshot" doc:"items per task in the fewshot split, where k-shot prompts take their examples"`
	MinDigits      int      `yaml:"min_digits" doc:"fewest digits of an arithmetic operand"`
	MaxDigits      int      `yaml:"max_digits" doc:"most digits of an arithmetic operand"`
	WorkedFraction float64  `yaml:"worked_fraction" doc:"share of arithmetic training rows asked step by step and answered worked"`
	Choices        int      `yaml:"choices" doc:"choices of a verse_choice item, the right one included"`
	ContinueWords  int      `yaml:"continue_words" doc:"words a verse_continue answer has; exact match compares this many words"`
	MaxVerseWords  int      `yaml:"max_verse_words" doc:"longest verse used, in words, so that a passage and its continuation fit a small model"`
}

func init() { pipeline.Register(tasksKind{}) }

func (tasksKind) Name() string { return "tasks" }
func (tasksKind) Doc() string {
	return "write seeded task data: arithmetic (direct and worked), verse choice and continuation; SFT rows, preference pairs, PPO prompts"
}

// Defaults are tasks.DefaultConfig's.
func (tasksKind) Defaults() any {
	d := tasks.DefaultConfig()
	return &tasksOptions{Tasks: d.Tasks, Train: d.Train, Eval: d.Eval, FewShot: d.FewShot, MinDigits: d.MinDigits,
		MaxDigits: d.MaxDigits, WorkedFraction: d.WorkedFraction, Choices: d.Choices, ContinueWords: d.ContinueWords,
		MaxVerseWords: d.MaxVerseWords}
}

func (tasksKind) Validate(opts any, run *pipeline.Config, report func(key, msg string)) {
	o := opts.(*tasksOptions)
	cfg := o.config(0, nil)
	if len(o.Corpus) == 0 && cfg.NeedsCorpus() {
		report("corpus", "the verse tasks need the KJV text (e.g. corpus: [data/corpus/kjv.txt])")
	}
	cfg.Check(report)
}

func (o *tasksOptions) config(seed int64, verses []tasks.Verse) tasks.Config {
	return tasks.Config{Tasks: o.Tasks, Train: o.Train, Eval: o.Eval, FewShot: o.FewShot, MinDigits: o.MinDigits,
		MaxDigits: o.MaxDigits, Choices: o.Choices, ContinueWords: o.ContinueWords, MaxVerseWords: o.MaxVerseWords,
		WorkedFraction: o.WorkedFraction, Seed: uint64(seed), Verses: verses}
}

func (tasksKind) Run(ctx context.Context, env *pipeline.Env, opts any) error {
	o := opts.(*tasksOptions)

	// 1. The corpus.
	files, err := env.Stage.Files(env.Config)
	if err != nil {
		return err
	}
	var verses []tasks.Verse
	for _, f := range files {
		vs, err := tasks.ParseKJVFile(f)
		if err != nil {
			return err
		}
		verses = append(verses, vs...)
	}

	// 2. Generate and write; the same seed gives the same bytes, so a rerun after a kill just writes again.
	data, err := tasks.Build(o.config(env.Config.Seed, verses))
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := data.Write(env.Dir); err != nil {
		return err
	}
	for _, line := range data.Summary() {
		env.Logf("%s", line)
	}

	// 3. Self-check: every training text fits the model's context in the tokenizer's tokens.
	if o.Tokenizer == "" {
		return nil
	}
	dir, err := env.Input(o.Tokenizer)
	if err != nil {
		return err
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return err
	}
	longest := longestTexts(data.EachText, tok.Encode)
	var over []string
	for _, l := range longest {
		env.Logf("longest %s text: %d tokens (%s); context %d", l.task, l.tokens, l.id, env.Config.Model.NPositions)
		if l.tokens > env.Config.Model.NPositions {
			over = append(over, fmt.Sprintf("%s (%d tokens)", l.id, l.tokens))
		}
	}
	if len(over) > 0 {
		return fmt.Errorf("items longer than model.n_positions = %d: %s; lower max_digits or max_verse_words, or drop the task",
			env.Config.Model.NPositions, strings.Join(over, ", "))
	}
	return nil
}

// longest is a task's longest text in tokens and the item it belongs to.
type longest struct {
	task, id string
	tokens   int
}

// longestTexts finds, per task in the order each yields them, the longest text in tokens.
func longestTexts(each func(fn func(task, id, text string)), encode func(string) []int) []longest {
	var out []longest
	each(func(task, id, text string) {
		if len(out) == 0 || out[len(out)-1].task != task {
			out = append(out, longest{task: task})
		}
		if l, n := &out[len(out)-1], len(encode(text)); n > l.tokens {
			l.tokens, l.id = n, id
		}
	})
	return out
}
