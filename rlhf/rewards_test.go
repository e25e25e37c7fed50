package rlhf

import (
	"encoding/json"
	"strings"
	"testing"
)

// Three responses of T = 5, eos = pad = 2, β = 0.1, k1, missing_eos_penalty 1:
//
//	row 0: [t0, t1, EOS, PAD, PAD], score 1, zero KL      -> [0, 0, 1, 0, 0]
//	row 1: five real tokens, no EOS (truncated), score 0.5,
//	       k1 = [1, 0, 0, 0, -0.5] -> -βk1 = [-0.1, 0, 0, 0, 0.05];
//	       last token gets 0.5 - 1 = -0.5                  -> [-0.1, 0, 0, 0, -0.45]
//	row 2: [t0, t1, PAD, PAD, PAD] whose pads carry the id of EOS: no EOS was generated,
//	       score 2 - 1 = 1 at t1                           -> [0, 1, 0, 0, 0]
//
// objective/kl = (0 + 0.5 + 0)/3; non_score_reward = -0.05/3; scores = (1 - 0.5 + 1)/3 = 0.5;
// rlhf_reward = 0.5 - 0.05/3; entropy = (3.5 + 5 + 0.7)/3.
func TestTokenRewardsScoreAtLastRealToken(t *testing.T) {
	const eos = 2
	tokens := []int{
		5, 7, eos, eos, eos,
		5, 6, 7, 8, 9,
		5, 6, eos, eos, eos,
	}
	mask := []bool{
		true, true, true, false, false,
		true, true, true, true, true,
		true, true, false, false, false,
	}
	logp := []float64{
		-1, -2, -0.5, 0, 0,
		-1, -1, -1, -1, -1,
		-0.3, -0.4, 0, 0, 0,
	}
	ref := []float64{
		-1, -2, -0.5, -9, -9,
		-2, -1, -1, -1, -0.5,
		-0.3, -0.4, -9, -9, -9,
	}
	rewards := make([]float64, 15)
	for i := range rewards {
		rewards[i] = 9 // pads must be overwritten
	}
	cfg := RewardConfig{KLCoef: 0.1, KLEstimator: KLK1, MissingEOSPenalty: 1}
	m, err := TokenRewards(cfg, logp, ref, mask, tokens, eos, []float64{1, 0.5, 2}, rewards)
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "rewards", rewards, []float64{
		0, 0, 1, 0, 0,
		-0.1, 0, 0, 0, -0.45,
		0, 1, 0, 0, 0,
	}, 1e-15)
	want := RewardMetrics{KL: 0.5 / 3, Entropy: 9.2 / 3, NonScoreReward: -0.05 / 3, RLHFReward: 0.5 - 0.05/3, Scores: 0.5}
	if !near(m.KL, want.KL, 1e-15) || !near(m.Entropy, want.Entropy, 1e-15) || !near(m.NonScoreReward, want.NonScoreReward, 1e-15) ||
		!near(m.RLHFReward, want.RLHFReward, 1e-15) || !near(m.Scores, want.Scores, 1e-15) {
		t.Errorf("metrics %+v, want %+v", m, want)
	}

	// Row 1 under k3: k3(-1, -2) = 0.367879, k3(-1, -0.5) = e^0.5 - 1.5 = 0.148721, so the first
	// token gets -0.0367879 and the last -0.0148721 - 0.5.
	cfg.KLEstimator = KLK3
	if _, err := TokenRewards(cfg, logp[5:10], ref[5:10], mask[5:10], tokens[5:10], eos, []float64{0.5}, rewards[:5]); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "k3 rewards", rewards[:5], []float64{-0.0367879441, 0, 0, 0, -0.5148721271}, 1e-9)
}

// float32 slices give the same rewards.
func TestTokenRewardsFloat32(t *testing.T) {
	rewards := make([]float32, 3)
	_, err := TokenRewards(RewardConfig{KLEstimator: KLK1}, []float32{-1, -1, 0}, []float32{-1, -1, 0},
		[]bool{true, true, false}, []int{4, 0, 0}, 0, []float32{0.25}, rewards)
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "rewards", rewards, []float64{0, 0.25, 0}, 0)
}

func TestTokenRewardsRefusesBadInput(t *testing.T) {
	ok := RewardConfig{KLCoef: 0.1, KLEstimator: KLK1}
	x := []float64{-1, -1}
	all := []bool{true, true}
	tok := []int{1, 2}
	r := make([]float64, 2)
	for name, tc := range map[string]struct {
		cfg    RewardConfig
		mask   []bool
		scores []float64
		out    []float64
	}{
		"estimator":     {RewardConfig{KLCoef: 0.1, KLEstimator: "k9"}, all, []float64{1}, r},
		"negative beta": {RewardConfig{KLCoef: -0.1, KLEstimator: KLK1}, all, []float64{1}, r},
		"rows":          {ok, all, []float64{1, 2, 3}, r},
		"mask length":   {ok, all[:1], []float64{1}, r},
		"output length": {ok, all, []float64{1}, r[:1]},
		"empty row":     {ok, []bool{false, false}, []float64{1}, r},
	} {
		if _, err := TokenRewards(tc.cfg, x, x, tc.mask, tok, 2, tc.scores, tc.out); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// The metrics are logged under TRL PPOTrainer's names.
func TestRewardMetricNames(t *testing.T) {
	b, err := json.Marshal(RewardMetrics{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"objective/kl", "objective/entropy", "objective/non_score_reward", "objective/rlhf_reward", "objective/scores"} {
		if !strings.Contains(string(b), `"`+k+`"`) {
			t.Errorf("%s missing from %s", k, b)
		}
	}
}
