package evaluate

import (
	"testing"

	"pipeline/tasks"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"  1,025 ":         "1025",
		"-12,345.50":       "-12345.50",
		"12,34":            "12,34",
		"1,0000":           "1,0000",
		"let there\n\tbe ": "let there be",
		"Light.":           "Light.",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExactMatch(t *testing.T) {
	worked, err := tasks.NewExtractor(tasks.WorkedPattern)
	if err != nil {
		t.Fatal(err)
	}
	number, err := tasks.NewExtractor(`(-?[0-9][0-9,]*)`)
	if err != nil {
		t.Fatal(err)
	}
	g := &scriptGenerator{answers: map[string]string{
		"A: worked":   " 8+7=15, write 5 carry 1. The answer is 1025.\n\nQuestion: What is 1 + 1?",
		"A: commas":   " 1,025 apples",
		"A: wrong":    " The answer is 1024.",
		"A: rambling": " I do not know.",
	}}
	stops := []string{"\n\n"}
	for _, c := range []struct {
		prompt string
		ex     *tasks.Extractor
		out    string
		got    string
		ok     bool
	}{
		// The stop cuts the next question off; the pattern finds the answer at the end of the work.
		{"A: worked", worked, " 8+7=15, write 5 carry 1. The answer is 1025.", "1025", true},
		// A configurable pattern that takes commas; normalisation drops them.
		{"A: commas", number, " 1,025 apples", "1025", true},
		{"A: wrong", worked, " The answer is 1024.", "1024", false},
		{"A: rambling", worked, " I do not know.", "", false},
	} {
		r, err := ExactMatch(g, Generation{MaxNewTokens: 64, Stops: stops, Extract: c.ex}, "Q\n"+c.prompt, "1,025")
		if err != nil {
			t.Fatal(err)
		}
		if r.Output != c.out || r.Extracted != c.got || r.Correct != c.ok || r.Matched != (c.got != "") {
			t.Errorf("%s: %+v; want output %q, extracted %q, correct %v", c.prompt, r, c.out, c.got, c.ok)
		}
	}
	if _, err := ExactMatch(g, Generation{MaxNewTokens: 64}, "A: worked", "1"); err == nil {
		t.Error("generation without an answer pattern accepted")
	}
}
