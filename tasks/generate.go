package tasks

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
)

// Config says what Build generates. Counts are per task and split.
type Config struct {
	Tasks                []string // any of Names; generated in the order of Names
	Train, Eval, FewShot int      // items per split
	MinDigits, MaxDigits int      // arithmetic operands have this many digits
	Choices              int      // choices of a verse_choice item, the right one included
	ContinueWords        int      // words a verse_continue answer has (and a verse_choice rollout is checked on)
	MaxVerseWords        int      // no longer verse is used, so a context and its continuation fit a small model
	WorkedFraction       float64  // share of arithmetic training examples in the Worked style
	Seed                 uint64
	Verses               []Verse // the parsed KJV; needed by the verse tasks
}

// DefaultConfig is what the tasks stage and command generate unless told otherwise: every task; 2- and
// 3-digit operands, whose worked answers fit a 128-token context (at most 81 tokens of a 4k BPE with
// prompt); verses of at most 30 words, so a passage and a continuation stay under 128 tokens; 4 choices,
// as in HellaSwag; 3-word verse endings, short enough for exact match to be fair.
func DefaultConfig() Config {
	return Config{Tasks: slices.Clone(Names), Train: 5000, Eval: 200, FewShot: 16, MinDigits: 2, MaxDigits: 3,
		Choices: 4, ContinueWords: 3, MaxVerseWords: 30, WorkedFraction: 0.5}
}

// Check reports every bad value of cfg by the stage option's key (tasks, train, eval, fewshot, min_digits,
// max_digits, choices, continue_words, max_verse_words, worked_fraction).
func (cfg Config) Check(report func(key, msg string)) {
	if len(cfg.Tasks) == 0 {
		report("tasks", fmt.Sprintf("name at least one of %v", Names))
	}
	for i, t := range cfg.Tasks {
		if !slices.Contains(Names, t) {
			report("tasks", fmt.Sprintf("unknown task %q (known: %v)", t, Names))
		} else if slices.Index(cfg.Tasks, t) < i {
			report("tasks", fmt.Sprintf("%q is named twice", t))
		}
	}
	for _, c := range []struct {
		key    string
		v, min int
	}{{"train", cfg.Train, 1}, {"eval", cfg.Eval, 1}, {"fewshot", cfg.FewShot, 0}} {
		if c.v < c.min {
			report(c.key, fmt.Sprintf("must be at least %d, got %d", c.min, c.v))
		}
	}
	switch {
	case cfg.MinDigits < 1 || cfg.MinDigits > 9:
		report("min_digits", fmt.Sprintf("must be 1..9, got %d", cfg.MinDigits))
	case cfg.MaxDigits < cfg.MinDigits || cfg.MaxDigits > 9:
		report("max_digits", fmt.Sprintf("must be min_digits (%d)..9, got %d", cfg.MinDigits, cfg.MaxDigits))
	case slices.Contains(cfg.Tasks, Arithmetic) && 2*(cfg.Train+cfg.Eval+cfg.FewShot) > ArithmeticCapacity(cfg.MinDigits, cfg.MaxDigits):
		report("max_digits", fmt.Sprintf("%d..%d digits make %d distinct problems, too few for %d items (at most half are drawn)",
			cfg.MinDigits, cfg.MaxDigits, ArithmeticCapacity(cfg.MinDigits, cfg.MaxDigits), cfg.Train+cfg.Eval+cfg.FewShot))
	}
	if cfg.Choices < 2 || cfg.Choices > 10 {
		report("choices", fmt.Sprintf("must be 2..10, got %d", cfg.Choices))
	}
	if cfg.ContinueWords < 1 {
		report("continue_words", fmt.Sprintf("must be at least 1, got %d", cfg.ContinueWords))
	}
	if cfg.MaxVerseWords < cfg.ContinueWords+3 {
		report("max_verse_words", fmt.Sprintf("must be at least continue_words+3 = %d, got %d", cfg.ContinueWords+3, cfg.MaxVerseWords))
	}
	if !(cfg.WorkedFraction >= 0 && cfg.WorkedFraction <= 1) {
		report("worked_fraction", fmt.Sprintf("must be in [0, 1], got %v", cfg.WorkedFraction))
	}
}

// NeedsCorpus reports whether cfg asks for a task made from the KJV.
func (cfg Config) NeedsCorpus() bool {
	return slices.ContainsFunc(cfg.Tasks, func(t string) bool { return slices.Contains(verseTasks, t) })
}

// Data is what Build made: for each task its three splits, ready to Write.
type Data struct {
	sets []set
	seed uint64
}

// Build generates every task of cfg. Each task draws from its own random stream (seeded by cfg.Seed and
// the task's name) and the verse tasks' chapter split does not depend on which of them are asked for, so
// adding a task leaves the others' own files unchanged (the mixed top-level files do change).
func Build(cfg Config) (*Data, error) {
	var problems []string
	cfg.Check(func(key, msg string) { problems = append(problems, key+": "+msg) })
	if len(problems) > 0 {
		return nil, fmt.Errorf("tasks: %v", problems)
	}
	d := &Data{seed: cfg.Seed}
	if slices.Contains(cfg.Tasks, Arithmetic) {
		s, err := arithmeticSet(cfg, rand.New(rand.NewPCG(cfg.Seed, streamOf(Arithmetic))))
		if err != nil {
			return nil, err
		}
		d.sets = append(d.sets, s)
	}
	if cfg.NeedsCorpus() {
		if len(cfg.Verses) == 0 {
			return nil, errors.New("tasks: the verse tasks need the KJV corpus")
		}
		sets, err := verseSets(cfg, newCorpus(cfg.Verses), cfg.Tasks)
		if err != nil {
			return nil, err
		}
		d.sets = append(d.sets, sets...)
	}
	return d, nil
}

// Summary is one line per task: "arithmetic: 2000 train, 200 eval, 16 fewshot".
func (d *Data) Summary() []string {
	var out []string
	for _, s := range d.sets {
		out = append(out, fmt.Sprintf("%s: %d train, %d eval, %d fewshot", s.task, len(s.train), len(s.eval), len(s.fewshot)))
	}
	return out
}

// EachText calls fn with every text of the training files as a model reads it: prompt+completion of each
// SFT row, prompt+chosen and prompt+rejected of each preference pair (train and eval). A stage checks
// that the longest fits the model's context; k-shot prompts are the eval stage's to check.
func (d *Data) EachText(fn func(task, id, text string)) {
	for _, s := range d.sets {
		for _, exs := range [][]example{s.train, s.eval} {
			for _, ex := range exs {
				p := Prompt(ex.item, ex.style)
				fn(s.task, ex.item.ID, p+Completion(ex.item, ex.style))
				fn(s.task, ex.item.ID, p+ex.rejected)
			}
		}
	}
}

// streamOf names a random stream: the FNV-1a hash of name.
func streamOf(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}
