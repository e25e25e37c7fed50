package tasks

import "testing"

func TestAnswerPattern(t *testing.T) {
	for _, c := range []struct {
		task, answer string
		s            Style
		want         string
	}{
		{Arithmetic, "936", Direct, DirectPattern},
		{Arithmetic, "936", Worked, WorkedPattern},
		{VerseContinue, "there was light.", Direct, `^\s*(\S+(?:\s+\S+){2})`},
		{VerseChoice, "Amen.", Direct, `^\s*(\S+(?:\s+\S+){0})`},
	} {
		if got := AnswerPattern(c.task, c.answer, c.s); got != c.want {
			t.Errorf("AnswerPattern(%s, %q, %d) = %q, want %q", c.task, c.answer, c.s, got, c.want)
		}
	}
}

func TestExtractorCorrect(t *testing.T) {
	words := AnswerPattern(VerseContinue, "there was light.", Direct)
	for _, c := range []struct {
		pattern, response, answer string
		want                      bool
	}{
		{DirectPattern, " 936", "936", true},
		{DirectPattern, " 936\n\nQuestion: What is 1 + 1?", "936", true},
		{DirectPattern, " 9360", "936", false},
		{DirectPattern, " The answer is 936.", "936", false}, // a direct answer starts with the number
		{WorkedPattern, " 7+9=16, write 6 carry 1. 4+8+1=13, write 3 carry 1. 3+5+1=9. The answer is 936.", "936", true},
		{WorkedPattern, " 7+9=16, write 6 carry 1. The answer is 926.", "936", false},
		{WorkedPattern, " 936", "936", false}, // no "The answer is": nothing extracted
		{words, " there was light. And God saw the light", "there was light.", true},
		{words, " there\n was  light.", "there was light.", true}, // whitespace runs count as one space
		{words, " there was light", "there was light.", false},
		{words, " there was", "there was light.", false},
	} {
		e, err := NewExtractor(c.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Correct(c.response, c.answer); got != c.want {
			t.Errorf("%q on %q for %q: %v, want %v", c.pattern, c.response, c.answer, got, c.want)
		}
	}
	if _, err := NewExtractor(`The answer is [0-9]+`); err == nil {
		t.Error("a pattern without a capture group was accepted")
	}
}
