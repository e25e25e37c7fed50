package evaluate

import "fmt"

// Choices is a multiple-choice item scored by the log-likelihood of each choice as the continuation of the
// same context (lm-eval's multiple_choice output type).
type Choices struct {
	LogLikelihoods []float64 // ll_i = sum of log p over choice i's tokens, in nats
	Pred           int       // argmax_i ll_i: the answer of acc
	PredNorm       int       // argmax_i ll_i / bytes_i: the answer of acc_norm
	Correct        bool      // Pred == gold
	CorrectNorm    bool      // PredNorm == gold
}

// MultipleChoice scores each choice as the continuation of context (split into tokens by Tokens.Split,
// so a space ending the context is scored with the choice) and picks the most likely two ways:
//
//	acc:      argmax_i ll_i
//	acc_norm: argmax_i ll_i / bytes_i, bytes_i = len(choice_i) in UTF-8 bytes, as given ("café" is 5)
//
// Raw log-likelihood favours short choices, since every extra token costs probability; dividing by the
// length in bytes makes the choices comparable whatever the tokenizer. lm-eval's acc_norm divides by
// Python's len(), which counts characters ("café" is 4) and leaves out the target delimiter; the choices
// of the tasks package start with their joining space, so here that space counts as one of its bytes.
// Ties go to the lower index, as numpy's argmax does.
func MultipleChoice(s Scorer, t Tokens, context string, choices []string, gold int) (Choices, error) {
	if gold < 0 || gold >= len(choices) {
		return Choices{}, fmt.Errorf("evaluate: gold choice %d of %d", gold, len(choices))
	}
	r := Choices{LogLikelihoods: make([]float64, len(choices))}
	for i, c := range choices {
		if c == "" {
			return Choices{}, fmt.Errorf("evaluate: choice %d is empty", i)
		}
		ctx, cont, err := t.Split(context, c)
		if err != nil {
			return Choices{}, fmt.Errorf("choice %d: %w", i, err)
		}
		ll, _, err := s.LogLikelihood(ctx, cont)
		if err != nil {
			return Choices{}, fmt.Errorf("choice %d: %w", i, err)
		}
		r.LogLikelihoods[i] = ll
		if ll > r.LogLikelihoods[r.Pred] {
			r.Pred = i
		}
		if ll/float64(len(c)) > r.LogLikelihoods[r.PredNorm]/float64(len(choices[r.PredNorm])) {
			r.PredNorm = i
		}
	}
	r.Correct, r.CorrectNorm = r.Pred == gold, r.PredNorm == gold
	return r, nil
}
