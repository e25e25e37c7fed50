package tasks

import (
	"fmt"
	"regexp"
	"strings"
)

// Answer patterns. Each has one capture group, the extracted answer.
const (
	DirectPattern = `^\s*(-?[0-9]+)`           // the number a direct answer starts with: " 936" -> "936"
	WorkedPattern = `The answer is (-?[0-9]+)` // "... The answer is 936." -> "936"
	wordsPattern  = `^\s*(\S+(?:\s+\S+){%d})`  // the first k words; %d is k-1
)

// AnswerPattern is the default pattern that extracts, from a response to Prompt(item, s), what is compared
// with answer: for arithmetic DirectPattern or WorkedPattern; for the verse tasks as many words as answer
// has ("there was light." -> `^\s*(\S+(?:\s+\S+){2})`).
func AnswerPattern(task, answer string, s Style) string {
	switch {
	case task == Arithmetic && s == Worked:
		return WorkedPattern
	case task == Arithmetic:
		return DirectPattern
	default:
		return fmt.Sprintf(wordsPattern, max(wordCount(answer), 1)-1)
	}
}

// Extractor pulls an answer out of a model's response with a regular expression (Go's RE2 syntax).
type Extractor struct{ re *regexp.Regexp }

// NewExtractor compiles pattern, which must have a capture group.
func NewExtractor(pattern string) (*Extractor, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	if re.NumSubexp() < 1 {
		return nil, fmt.Errorf("answer pattern %q has no capture group", pattern)
	}
	return &Extractor{re}, nil
}

// Extract is the first capture group of the pattern's first match in response, with runs of whitespace
// made single spaces; ok is false when the pattern does not match.
func (e *Extractor) Extract(response string) (answer string, ok bool) {
	m := e.re.FindStringSubmatch(response)
	if m == nil {
		return "", false
	}
	return strings.Join(strings.Fields(m[1]), " "), true
}

// Correct is exact match: the answer extracted from response equals answer.
// With WorkedPattern, "7+9=16, ... The answer is 936." is correct for "936".
func (e *Extractor) Correct(response, answer string) bool {
	got, ok := e.Extract(response)
	return ok && got == answer
}
