package evaluate

import (
	"slices"
	"testing"

	"pipeline/tasks"
)

// fakeModel answers loglikelihood requests from a table and generations from a script.
type fakeModel struct {
	*tableScorer
	*scriptGenerator
}

// TestScoreTask scores, 1-shot with worked answers, two arithmetic items (one right, one wrong) and,
// 0-shot, a verse_choice item whose acc and acc_norm disagree.
func TestScoreTask(t *testing.T) {
	tok := catsTokenizer(t)
	other := tasks.Item{ID: "arithmetic-eval-000001", Task: tasks.Arithmetic, Question: "What is 1 + 2?", Answer: "3", Worked: "1+2=3. The answer is 3."}
	m := fakeModel{
		&tableScorer{tok: tok, ll: map[string]float64{" Amen.": -3, " Then said the Jews, Behold how he loved him!": -9}},
		&scriptGenerator{answers: map[string]string{
			"Answer: Let's think step by step.": " 7+9=16, write 6 carry 1. The answer is 936.\n\nQuestion:",
		}},
	}
	cot := TaskOptions{Prompting: Prompting{Shots: 1, CoT: true}, Seed: 3, MaxNewTokens: 64, Stops: []string{"\n\n"}}
	logs, err := ScoreTask(m, Tokens{Enc: tok}, []tasks.Item{sum, other}, []tasks.Item{shot}, cot)
	if err != nil {
		t.Fatal(err)
	}
	wantPrompt := "Question: What is 12 + 5?\nAnswer: Let's think step by step. 2+5=7, write 7. 1+0=1. The answer is 17." +
		"\n\nQuestion: What is 347 + 589?\nAnswer: Let's think step by step."
	if len(logs) != 2 || logs[0].Prompt != wantPrompt || logs[0].Extracted != "936" || !logs[0].Correct ||
		logs[1].Extracted != "936" || logs[1].Answer != "3" || logs[1].Correct {
		t.Errorf("arithmetic logs %+v", logs)
	}
	logs, err = ScoreTask(m, Tokens{Enc: tok}, []tasks.Item{verse}, nil, TaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// acc: -3 > -9 picks " Amen." (wrong); acc_norm: -3/6 = -0.50 < -9/45 = -0.20 picks the gold choice.
	if len(logs) != 1 || logs[0].Correct || logs[0].CorrectNorm == nil || !*logs[0].CorrectNorm ||
		!slices.Equal(logs[0].LogLikelihoods, []float64{-3, -9}) || logs[0].Prompt != "Jesus wept." {
		t.Errorf("verse_choice log %+v", logs)
	}
	if _, err := ScoreTask(m, Tokens{Enc: tok}, []tasks.Item{verse}, nil, TaskOptions{Prompting: Prompting{CoT: true}}); err == nil {
		t.Error("chain of thought on multiple choice accepted")
	}
	bad := cot
	bad.Pattern = "no group"
	if _, err := ScoreTask(m, Tokens{Enc: tok}, []tasks.Item{sum}, []tasks.Item{shot}, bad); err == nil {
		t.Error("a pattern without a capture group accepted")
	}
}
