package evaluate

import (
	"errors"
	"regexp"
	"strings"

	"pipeline/tasks"
)

// Generation says how a generation item is asked and checked.
type Generation struct {
	MaxNewTokens int              // the most tokens greedy decoding may add
	Stops        []string         // generation ends before the first of these (lm-eval's "until")
	Extract      *tasks.Extractor // pulls the answer out of the output: the pattern's first capture group
}

// Generated is one generation item's outcome.
type Generated struct {
	Output    string // what the model appended to the prompt
	Extracted string // Normalize(the pattern's capture), "" when the pattern did not match
	Matched   bool   // the pattern matched the output
	Correct   bool   // Matched and Extracted == Normalize(answer)
}

// ExactMatch generates greedily after prompt and checks the extracted answer against answer, both
// normalised by Normalize: with tasks.WorkedPattern, " 7+9=16, ... The answer is 936." is right for "936".
func ExactMatch(g Generator, gen Generation, prompt, answer string) (Generated, error) {
	if gen.Extract == nil || gen.MaxNewTokens <= 0 {
		return Generated{}, errors.New("evaluate: generation needs an answer pattern and max_new_tokens > 0")
	}
	out, err := g.Generate(prompt, gen.MaxNewTokens, gen.Stops)
	if err != nil {
		return Generated{}, err
	}
	r := Generated{Output: out}
	if got, ok := gen.Extract.Extract(out); ok {
		r.Extracted, r.Matched = Normalize(got), true
		r.Correct = r.Extracted == Normalize(answer)
	}
	return r, nil
}

// thousands is a number written with thousands separators: "1,025", "-12,345.50".
var thousands = regexp.MustCompile(`^-?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$`)

// Normalize is what exact match compares: leading and trailing whitespace trimmed, inner runs of
// whitespace made one space, and the commas of a number with thousands separators dropped
// ("  1,025 " -> "1025"; "12,34" is not such a number and keeps its comma). Case and punctuation are kept:
// "Light." does not match "light".
func Normalize(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if thousands.MatchString(s) {
		s = strings.ReplaceAll(s, ",", "")
	}
	return s
}
