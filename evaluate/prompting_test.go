package evaluate

import (
	"strings"
	"testing"

	"pipeline/tasks"
)

var (
	sum = tasks.Item{ID: "arithmetic-eval-000000", Task: tasks.Arithmetic, Question: "What is 347 + 589?", Answer: "936",
		Worked: "7+9=16, write 6 carry 1. 4+8+1=13, write 3 carry 1. 3+5+1=9. The answer is 936."}
	shot = tasks.Item{ID: "arithmetic-fewshot-000000", Task: tasks.Arithmetic, Question: "What is 12 + 5?", Answer: "17",
		Worked: "2+5=7, write 7. 1+0=1. The answer is 17."}
	verse = tasks.Item{ID: "verse_choice-eval-000000", Task: tasks.VerseChoice, Question: "Jesus wept.",
		Choices: []string{" Amen.", " Then said the Jews, Behold how he loved him!"}, Gold: 1}
)

func TestPromptByHand(t *testing.T) {
	pool := []tasks.Item{shot}
	for _, c := range []struct {
		p    Prompting
		name string
		want string
	}{
		{Prompting{}, "0-shot", "Question: What is 347 + 589?\nAnswer:"},
		{Prompting{Shots: 1}, "1-shot", "Question: What is 12 + 5?\nAnswer: 17\n\nQuestion: What is 347 + 589?\nAnswer:"},
		{Prompting{CoT: true}, "cot-0-shot", "Question: What is 347 + 589?\nAnswer: Let's think step by step."},
		{Prompting{Shots: 1, CoT: true}, "cot-1-shot",
			"Question: What is 12 + 5?\nAnswer: Let's think step by step. 2+5=7, write 7. 1+0=1. The answer is 17." +
				"\n\nQuestion: What is 347 + 589?\nAnswer: Let's think step by step."},
	} {
		got, err := c.p.Prompt(sum, pool, 1)
		if err != nil || got != c.want || c.p.Name() != c.name {
			t.Errorf("%s: got %q, %v, named %q\nwant %q", c.name, got, err, c.p.Name(), c.want)
		}
	}
	if got := (Prompting{CoT: true}).AnswerPattern(sum); got != tasks.WorkedPattern {
		t.Errorf("cot answer pattern %q", got)
	}
	// A multiple-choice shot is its passage and its gold choice.
	vshot := tasks.Item{ID: "verse_choice-fewshot-000000", Task: tasks.VerseChoice, Question: "In the beginning.",
		Choices: []string{" No.", " Yes."}, Gold: 1}
	if got, err := (Prompting{Shots: 1}).Prompt(verse, []tasks.Item{vshot}, 1); err != nil || got != "In the beginning. Yes.\n\nJesus wept." {
		t.Errorf("multiple-choice 1-shot: %q, %v", got, err)
	}
}

// TestShotsSeeded: the shots are k distinct pool items, the same for the same seed and item whatever
// else is asked, not the first k, and not the target itself.
func TestShotsSeeded(t *testing.T) {
	var pool []tasks.Item
	for _, q := range []string{"1 + 1", "2 + 2", "3 + 3", "4 + 4", "5 + 5", "6 + 6"} {
		pool = append(pool, tasks.Item{ID: "f" + q, Task: tasks.Arithmetic, Question: "What is " + q + "?", Answer: "x", Worked: "w"})
	}
	pool = append(pool, sum) // the target in the pool is never its own shot
	p := Prompting{Shots: 3}
	a, err := p.Prompt(sum, pool, 7)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Prompt(shot, pool, 7); err != nil { // scoring another item first changes nothing
		t.Fatal(err)
	}
	if b, _ := p.Prompt(sum, pool, 7); b != a {
		t.Errorf("same seed, different prompts:\n%q\n%q", a, b)
	}
	parts := strings.Split(a, "\n\n")
	if len(parts) != 4 || parts[3] != tasks.Prompt(sum, tasks.Direct) {
		t.Fatalf("prompt %q", a)
	}
	seen := map[string]bool{}
	for _, s := range parts[:3] {
		if seen[s] || !strings.HasPrefix(s, "Question: What is ") || strings.Contains(s, "347") {
			t.Errorf("shot %q repeated, malformed or the target", s)
		}
		seen[s] = true
	}
	differ := false
	for seed := range uint64(20) {
		if b, _ := p.Prompt(sum, pool, seed); b != a {
			differ = true
		}
	}
	if !differ {
		t.Error("20 seeds drew the same shots")
	}
	first3 := tasks.FewShot(pool[:3], sum, tasks.Direct)
	same := 0
	for seed := range uint64(20) {
		if b, _ := p.Prompt(sum, pool, seed); b == first3 {
			same++
		}
	}
	if same > 2 {
		t.Errorf("%d of 20 seeds drew the pool's first three in order", same)
	}
}

func TestPromptRejects(t *testing.T) {
	if _, err := (Prompting{CoT: true}).Prompt(verse, nil, 1); err == nil {
		t.Error("chain of thought on a task without worked answers accepted")
	}
	if _, err := (Prompting{Shots: 2}).Prompt(sum, []tasks.Item{shot, sum}, 1); err == nil {
		t.Error("2 shots from a pool with one usable item accepted")
	}
	noWork := tasks.Item{ID: "n", Task: tasks.Arithmetic, Question: "What is 1 + 1?", Answer: "2"}
	if _, err := (Prompting{Shots: 1, CoT: true}).Prompt(sum, []tasks.Item{noWork}, 1); err == nil {
		t.Error("a cot shot without a worked answer accepted")
	}
}
