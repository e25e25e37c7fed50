package tasks

import (
	"encoding/json"
	"testing"
)

var (
	sum = Item{ID: "arithmetic-eval-000000", Task: Arithmetic, Question: "What is 347 + 589?", Answer: "936",
		Worked: Problem{347, 589, '+'}.Worked()}
	shot   = Item{Task: Arithmetic, Question: "What is 12 + 5?", Answer: "17", Worked: Problem{12, 5, '+'}.Worked()}
	choice = Item{Task: VerseChoice, Question: "Jesus wept.", Choices: []string{" Amen.", " Then said the Jews, Behold how he loved him!"}, Gold: 1}
	cont   = Item{Task: VerseContinue, Question: "And God said, Let there be light: and", Answer: "there was light."}
)

func TestPromptAndCompletion(t *testing.T) {
	for _, c := range []struct {
		it                 Item
		s                  Style
		prompt, completion string
	}{
		{sum, Direct, "Question: What is 347 + 589?\nAnswer:", " 936"},
		{sum, Worked, "Question: What is 347 + 589?\nAnswer: Let's think step by step.",
			" 7+9=16, write 6 carry 1. 4+8+1=13, write 3 carry 1. 3+5+1=9. The answer is 936."},
		{choice, Direct, "Jesus wept.", " Then said the Jews, Behold how he loved him!"},
		{cont, Direct, "And God said, Let there be light: and", " there was light."},
		{cont, Worked, "And God said, Let there be light: and", " there was light."},
	} {
		if p, comp := Prompt(c.it, c.s), Completion(c.it, c.s); p != c.prompt || comp != c.completion {
			t.Errorf("%s style %d: got %q + %q, want %q + %q", c.it.Question, c.s, p, comp, c.prompt, c.completion)
		}
	}
}

func TestFewShot(t *testing.T) {
	want := "Question: What is 12 + 5?\nAnswer: 17\n\nQuestion: What is 347 + 589?\nAnswer:"
	if got := FewShot([]Item{shot}, sum, Direct); got != want {
		t.Errorf("direct:\n got %q\nwant %q", got, want)
	}
	want = "Question: What is 12 + 5?\nAnswer: Let's think step by step. 2+5=7, write 7. 1+0=1. The answer is 17." +
		"\n\nQuestion: What is 347 + 589?\nAnswer: Let's think step by step."
	if got := FewShot([]Item{shot}, sum, Worked); got != want {
		t.Errorf("worked:\n got %q\nwant %q", got, want)
	}
	if got := FewShot(nil, sum, Direct); got != Prompt(sum, Direct) {
		t.Errorf("zero-shot: got %q", got)
	}
}

// Gold is written exactly when there are choices, so that "gold":0 always means the first choice.
func TestItemJSON(t *testing.T) {
	for _, c := range []struct {
		it   Item
		want string
	}{
		{Item{ID: "a", Task: Arithmetic, Question: "What is 1 + 2?", Answer: "3", Worked: "1+2=3. The answer is 3."},
			`{"id":"a","task":"arithmetic","question":"What is 1 + 2?","answer":"3","worked":"1+2=3. The answer is 3."}`},
		{Item{ID: "c", Task: VerseChoice, Ref: "John 11:35", Question: "Jesus wept.", Choices: []string{" A", " B"}},
			`{"id":"c","task":"verse_choice","ref":"John 11:35","question":"Jesus wept.","choices":[" A"," B"],"gold":0}`},
	} {
		b, err := json.Marshal(c.it)
		if err != nil || string(b) != c.want {
			t.Errorf("got %s (%v), want %s", b, err, c.want)
		}
		var back Item
		if err := json.Unmarshal(b, &back); err != nil || back.Question != c.it.Question || back.Gold != c.it.Gold {
			t.Errorf("round trip of %s: %+v, %v", b, back, err)
		}
	}
}
