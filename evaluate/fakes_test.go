package evaluate

import (
	"fmt"
	"strings"

	"pipeline/tokenizer"
)

// tableScorer is a fake model that gives each continuation, decoded, the log-likelihood in its table and
// records every request it is asked, decoded as "context|continuation".
type tableScorer struct {
	tok      *tokenizer.Tokenizer
	ll       map[string]float64
	requests []string
}

func (s *tableScorer) LogLikelihood(context, continuation []int) (float64, bool, error) {
	cont := string(s.tok.Decode(continuation))
	s.requests = append(s.requests, string(s.tok.Decode(context))+"|"+cont)
	ll, ok := s.ll[cont]
	if !ok {
		return 0, false, fmt.Errorf("no log-likelihood for %q", cont)
	}
	return ll, false, nil
}

// scriptGenerator is a fake model that answers each prompt with the text its table gives for the prompt's
// last line, cut at the first stop string, and records the prompts it is given.
type scriptGenerator struct {
	answers map[string]string
	prompts []string
}

func (g *scriptGenerator) Generate(prompt string, maxNew int, stops []string) (string, error) {
	g.prompts = append(g.prompts, prompt)
	out, ok := g.answers[prompt[strings.LastIndex(prompt, "\n")+1:]]
	if !ok {
		return "", fmt.Errorf("no answer for %q", prompt)
	}
	for _, s := range stops {
		if i := strings.Index(out, s); i >= 0 {
			out = out[:i]
		}
	}
	return out, nil
}
