package tasks

import "encoding/json"

// Task names, as they appear in configs, in Item.Task and as output directory names.
const (
	Arithmetic    = "arithmetic"     // "What is 347 + 589?" -> "936", with a worked digit-by-digit answer
	VerseChoice   = "verse_choice"   // a verse -> which of several verses comes next (multiple choice)
	VerseContinue = "verse_continue" // a verse less its last words -> those words (generation)
)

// Names lists every task this package generates, in the order they are generated and written.
var Names = []string{Arithmetic, VerseChoice, VerseContinue}

// Split names: train for training, eval for scoring, fewshot for the examples of k-shot prompts.
const (
	SplitTrain   = "train"
	SplitEval    = "eval"
	SplitFewShot = "fewshot"
)

// Item is one task item, one line of train.jsonl, eval.jsonl or fewshot.jsonl.
//
// A generation item has an Answer, the exact-match target, and for arithmetic a Worked answer:
//
//	{"id":"arithmetic-eval-000003","task":"arithmetic","question":"What is 958 + 67?","answer":"1025",
//	 "worked":"8+7=15, write 5 carry 1. 5+6+1=12, write 2 carry 1. 9+0+1=10. The answer is 1025."}
//
// A multiple-choice item has Choices, each starting with the space that joins it to the Question, and the
// index Gold of the right one; Gold is written only when there are Choices, so a 0 there always means
// the first choice:
//
//	{"id":"verse_choice-train-000000","task":"verse_choice","ref":"Genesis 1:1",
//	 "question":"In the beginning God created the heaven and the earth.",
//	 "choices":[" And the earth was without form, ...", " Jesus wept.", ...],"gold":0}
type Item struct {
	ID       string   `json:"id"`
	Task     string   `json:"task"`
	Ref      string   `json:"ref,omitempty"` // where in the corpus the question comes from, e.g. "Genesis 1:3"
	Question string   `json:"question"`
	Answer   string   `json:"answer,omitempty"`
	Worked   string   `json:"worked,omitempty"`
	Choices  []string `json:"choices,omitempty"`
	Gold     int      `json:"gold"`
}

// MarshalJSON writes gold only for multiple-choice items.
func (it Item) MarshalJSON() ([]byte, error) {
	type plain Item // same fields, no MarshalJSON method
	out := struct {
		plain
		Gold *int `json:"gold,omitempty"` // shadows plain.Gold
	}{plain: plain(it)}
	if len(it.Choices) > 0 {
		out.Gold = &it.Gold
	}
	return json.Marshal(out)
}
