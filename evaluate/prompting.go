package evaluate

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"

	"pipeline/tasks"
)

// Prompting is how an item is put to a model; its Name heads a report column.
//
//	zero-shot      tasks.Prompt(item, Direct)            "Question: What is 347 + 589?\nAnswer:"
//	k-shot         k examples, each with its answer, then the item, joined by a blank line:
//	               "Question: What is 12 + 5?\nAnswer: 17\n\nQuestion: What is 347 + 589?\nAnswer:"
//	cot zero-shot  the prompt ending "Let's think step by step." (Kojima et al. 2022, as lm-eval's
//	               cot-zeroshot task variants do): "Question: What is 347 + 589?\nAnswer: Let's think step by step."
//	cot k-shot     k examples with worked answers, then the cot zero-shot prompt
//
// The text comes from tasks.Prompt, tasks.Completion and tasks.FewShot, the functions the training data
// is written with, so that a model is scored on the format it was trained on.
type Prompting struct {
	Shots int  // k, the examples before the item, drawn from the fewshot split
	CoT   bool // chain of thought: worked answers, "Let's think step by step."
}

// Name is "0-shot", "5-shot", "cot-0-shot", "cot-3-shot".
func (p Prompting) Name() string {
	if p.CoT {
		return fmt.Sprintf("cot-%d-shot", p.Shots)
	}
	return fmt.Sprintf("%d-shot", p.Shots)
}

// Style is the tasks package's style of these prompts: Worked for chain of thought, else Direct.
func (p Prompting) Style() tasks.Style {
	if p.CoT {
		return tasks.Worked
	}
	return tasks.Direct
}

// AnswerPattern is the default pattern that extracts an item's answer from a generation under p.
func (p Prompting) AnswerPattern(it tasks.Item) string {
	return tasks.AnswerPattern(it.Task, it.Answer, p.Style())
}

// Prompt builds target's prompt. The k shots are drawn without replacement from pool (the fewshot split;
// an item with target's ID is never drawn) by a PCG generator seeded with (seed, FNV-1a of target.ID),
// so an item's shots depend only on the seed and the item, not on which other items are scored or in
// what order, and are in the order drawn. Chain of thought needs a target with a worked answer and draws
// only shots that have one.
func (p Prompting) Prompt(target tasks.Item, pool []tasks.Item, seed uint64) (string, error) {
	if p.Shots < 0 {
		return "", fmt.Errorf("evaluate: %d shots", p.Shots)
	}
	if p.CoT && target.Worked == "" {
		return "", fmt.Errorf("evaluate: %s: chain of thought needs a task with worked answers, %s has none", target.ID, target.Task)
	}
	var candidates []tasks.Item
	for _, it := range pool {
		if it.ID != target.ID && (!p.CoT || it.Worked != "") {
			candidates = append(candidates, it)
		}
	}
	if len(candidates) < p.Shots {
		return "", fmt.Errorf("evaluate: %s: %d shots wanted, the fewshot split has %d usable items", target.ID, p.Shots, len(candidates))
	}
	h := fnv.New64a()
	h.Write([]byte(target.ID))
	rng := rand.New(rand.NewPCG(seed, h.Sum64()))
	for i := range p.Shots { // a partial Fisher-Yates shuffle: candidates[:i] are the shots so far
		j := i + rng.IntN(len(candidates)-i)
		candidates[i], candidates[j] = candidates[j], candidates[i]
	}
	return tasks.FewShot(candidates[:p.Shots], target, p.Style()), nil
}
