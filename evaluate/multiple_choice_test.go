package evaluate

import (
	"slices"
	"testing"
)

// TestAccVsAccNorm: choices cat, café, dog with log-likelihoods -2.0, -3.0, -2.2.
//
//	acc:      the largest sum is cat's -2.0                               -> cat (wrong; gold is café)
//	acc_norm: per byte -2.0/3 = -0.667, -3.0/5 = -0.600, -2.2/3 = -0.733 -> café (right)
//
// Per character café would be -3.0/4 = -0.750 and lose to cat: the test fails if length counts runes.
// The second case is the tasks package's convention, the joining space inside each choice:
// -2.0/4 = -0.500, -2.7/6 = -0.450 (per character -2.7/5 = -0.540), -2.2/4 = -0.550.
func TestAccVsAccNorm(t *testing.T) {
	tok := catsTokenizer(t)
	for _, c := range []struct {
		name, context string
		choices       []string
		ll            []float64
	}{
		{"space in the context", "Pick: ", []string{"cat", "café", "dog"}, []float64{-2.0, -3.0, -2.2}},
		{"space in the choices", "Pick:", []string{" cat", " café", " dog"}, []float64{-2.0, -2.7, -2.2}},
	} {
		s := &tableScorer{tok: tok, ll: map[string]float64{" cat": c.ll[0], " café": c.ll[1], " dog": c.ll[2]}}
		r, err := MultipleChoice(s, Tokens{Enc: tok}, c.context, c.choices, 1)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if r.Pred != 0 || r.Correct || r.PredNorm != 1 || !r.CorrectNorm || !slices.Equal(r.LogLikelihoods, c.ll) {
			t.Errorf("%s: %+v; want acc on cat (wrong) and acc_norm on café (right)", c.name, r)
		}
		// Either way the model reads "Pick:" and scores the choice with its space.
		want := []string{"Pick:| cat", "Pick:| café", "Pick:| dog"}
		if !slices.Equal(s.requests, want) {
			t.Errorf("%s: requests %q, want %q", c.name, s.requests, want)
		}
	}
}

func TestMultipleChoiceTiesAndErrors(t *testing.T) {
	tok := catsTokenizer(t)
	s := &tableScorer{tok: tok, ll: map[string]float64{" a": -1, " b": -1}}
	r, err := MultipleChoice(s, Tokens{Enc: tok}, "Q:", []string{" a", " b"}, 1)
	if err != nil || r.Pred != 0 || r.PredNorm != 0 || r.Correct {
		t.Errorf("a tie: %+v, %v; want the first choice", r, err)
	}
	if _, err := MultipleChoice(s, Tokens{Enc: tok}, "Q:", []string{" a", " b"}, 2); err == nil {
		t.Error("gold 2 of 2 choices accepted")
	}
	if _, err := MultipleChoice(s, Tokens{Enc: tok}, "Q: ", []string{"", " b"}, 1); err == nil {
		t.Error("an empty choice accepted")
	}
	if _, err := MultipleChoice(s, Tokens{Enc: tok}, "Q:", []string{" a", " zzz"}, 0); err == nil {
		t.Error("a scorer's error was dropped")
	}
}
