package tasks

import "fmt"

// Style is how an arithmetic item is asked and answered; the verse tasks have only Direct.
type Style int

const (
	Direct Style = iota // "Question: ...\nAnswer:" -> " 936"
	Worked              // the same prompt ending "Let's think step by step." -> the worked answer
)

// example is an Item as the training files present it: in one style, with a plausible wrong completion
// for preference pairs and the exact-match target a PPO rollout is checked against.
type example struct {
	item     Item
	style    Style
	rejected string // a wrong completion, never equal to Completion(item, style)
	target   string // the answer a rollout must produce, as AnswerPattern extracts it
}

// set is one task's three splits.
type set struct {
	task                 string
	train, eval, fewshot []example
}

// itemID names an item by task, split and position: "arithmetic-eval-000003".
func itemID(task, split string, i int) string { return fmt.Sprintf("%s-%s-%06d", task, split, i) }
