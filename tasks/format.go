package tasks

import "strings"

// CoTTrigger ends a Worked prompt, as in zero-shot chain-of-thought prompting.
const CoTTrigger = "Let's think step by step."

// Prompt is the text a model is given for it in style s; SFT, preference pairs, PPO and eval all use it.
//
//	arithmetic, Direct: "Question: What is 347 + 589?\nAnswer:"
//	arithmetic, Worked: "Question: What is 347 + 589?\nAnswer: Let's think step by step."
//	verse tasks:        the question unchanged (a passage to continue; s is ignored)
func Prompt(it Item, s Style) string {
	if it.Task != Arithmetic {
		return it.Question
	}
	p := "Question: " + it.Question + "\nAnswer:"
	if s == Worked {
		p += " " + CoTTrigger
	}
	return p
}

// Completion is what a right answer continues Prompt(it, s) with, starting with the joining space:
// " 936", " 7+9=16, ... The answer is 936." (Worked), the gold choice of a verse_choice item, or
// " " + Answer for verse_continue. Prompt(it, s) + Completion(it, s) is the whole text.
func Completion(it Item, s Style) string {
	switch {
	case len(it.Choices) > 0:
		return it.Choices[it.Gold]
	case it.Task == Arithmetic && s == Worked:
		return " " + it.Worked
	default:
		return " " + it.Answer
	}
}

// FewShot is a k-shot prompt: each shot as Prompt+Completion, then the target's Prompt, joined by a blank
// line. Shots must come from the fewshot split, never from the split being scored:
//
//	FewShot([What is 12 + 5?], What is 347 + 589?, Direct) =
//	"Question: What is 12 + 5?\nAnswer: 17\n\nQuestion: What is 347 + 589?\nAnswer:"
func FewShot(shots []Item, target Item, s Style) string {
	parts := make([]string, 0, len(shots)+1)
	for _, sh := range shots {
		parts = append(parts, Prompt(sh, s)+Completion(sh, s))
	}
	return strings.Join(append(parts, Prompt(target, s)), "\n\n")
}
