package evaluate

import (
	"fmt"

	"pipeline/tasks"
)

// Model is what scoring a task needs of a checkpoint.
type Model interface {
	Scorer
	Generator
}

// TaskOptions says how one task is scored under one prompting.
type TaskOptions struct {
	Prompting    Prompting
	Seed         uint64   // draws each item's shots (Prompting.Prompt)
	MaxNewTokens int      // generation items: the most tokens generated
	Stops        []string // generation items: where generation ends, e.g. "\n\n", which separates shots
	// Pattern extracts a generation's answer (first capture group); "" means Prompting.AnswerPattern of
	// each item: the number, the number after "The answer is", or as many words as the answer has.
	Pattern string
}

// ScoreTask scores items in order and returns one log per item: a multiple-choice item (one with
// Choices) by MultipleChoice, any other by ExactMatch of a greedy generation. Shots come from fewshot.
func ScoreTask(m Model, t Tokens, items, fewshot []tasks.Item, o TaskOptions) ([]ItemLog, error) {
	extractors := map[string]*tasks.Extractor{}
	out := make([]ItemLog, 0, len(items))
	for _, it := range items {
		prompt, err := o.Prompting.Prompt(it, fewshot, o.Seed)
		if err != nil {
			return nil, err
		}
		if len(it.Choices) > 0 {
			c, err := MultipleChoice(m, t, prompt, it.Choices, it.Gold)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", it.ID, err)
			}
			out = append(out, ChoicesLog(it, prompt, c))
			continue
		}
		pattern := o.Pattern
		if pattern == "" {
			pattern = o.Prompting.AnswerPattern(it)
		}
		ex, ok := extractors[pattern]
		if !ok {
			if ex, err = tasks.NewExtractor(pattern); err != nil {
				return nil, err
			}
			extractors[pattern] = ex
		}
		g, err := ExactMatch(m, Generation{MaxNewTokens: o.MaxNewTokens, Stops: o.Stops, Extract: ex}, prompt, it.Answer)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.ID, err)
		}
		out = append(out, GeneratedLog(it, prompt, g))
	}
	return out, nil
}
