package rlhf

import (
	"errors"
	"fmt"

	"pipeline/losses"
)

// RewardConfig holds what turns a rollout into per-token rewards.
type RewardConfig struct {
	KLCoef            float64     `yaml:"kl_coef"`             // β >= 0; with a controller, its current KLCoef()
	KLEstimator       KLEstimator `yaml:"kl_estimator"`        // k1 | k3
	MissingEOSPenalty float64     `yaml:"missing_eos_penalty"` // >= 0, subtracted from the score of a response without EOS; 0 is off
}

// RewardMetrics is what the PPO stage logs about a rollout's rewards, under TRL PPOTrainer's names.
// Per-response quantities are summed over the response's real tokens, then averaged over responses.
type RewardMetrics struct {
	KL             float64 `json:"objective/kl"`               // mean_b Σ_t k_t
	Entropy        float64 `json:"objective/entropy"`          // mean_b Σ_t -log π(t): sampled-token estimate
	NonScoreReward float64 `json:"objective/non_score_reward"` // mean_b Σ_t -β k_t
	RLHFReward     float64 `json:"objective/rlhf_reward"`      // scores + non_score_reward
	Scores         float64 `json:"objective/scores"`           // mean_b score_b, after the EOS penalty
}

// TokenRewards writes the per-token rewards of B responses of T tokens into rewards [B,T]:
//
//	r_t = -β · k(log π(t), log π_ref(t))                         at every real token t
//	    + score_b - penalty · [no real token of row b is eos]    added at row b's last real token
//	r_t = 0                                                      at pads
//
// logp and logpRef [B,T] are the policy's (at rollout time) and the reference's log-probabilities of
// the sampled tokens, mask [B,T] marks the real response tokens, tokens [B,T] are the sampled ids,
// scores [B] the reward model's scores. The last real token is the last true position of the mask,
// never a pad; eos is looked for among real tokens only, so a pad id equal to eos is never taken for
// one. TRL adds the score one position after the last real token; here it lands on that token. A row
// without a real token is an error: there is nowhere to put its score.
func TokenRewards[F losses.Float](cfg RewardConfig, logp, logpRef []F, mask []bool, tokens []int, eos int, scores, rewards []F) (RewardMetrics, error) {
	kl, err := cfg.KLEstimator.Func()
	if err != nil {
		return RewardMetrics{}, err
	}
	if !(cfg.KLCoef >= 0) || !(cfg.MissingEOSPenalty >= 0) {
		return RewardMetrics{}, fmt.Errorf("rewards: kl_coef %g and missing_eos_penalty %g must be >= 0", cfg.KLCoef, cfg.MissingEOSPenalty)
	}
	B := len(scores)
	if B == 0 || len(logp)%B != 0 {
		return RewardMetrics{}, fmt.Errorf("rewards: %d log-probs do not make rows for %d scores", len(logp), B)
	}
	T := len(logp) / B
	if err := errors.Join(checkLen("reference log-probs", len(logpRef), B*T), checkLen("mask", len(mask), B*T),
		checkLen("tokens", len(tokens), B*T), checkLen("rewards", len(rewards), B*T)); err != nil {
		return RewardMetrics{}, fmt.Errorf("rewards: %w", err)
	}
	var m RewardMetrics
	for b := range B {
		row := b * T
		last, ended := -1, false
		for t := range T {
			i := row + t
			if !mask[i] {
				rewards[i] = 0
				continue
			}
			k := kl(float64(logp[i]), float64(logpRef[i]))
			rewards[i] = F(-cfg.KLCoef * k)
			m.KL += k
			m.NonScoreReward -= cfg.KLCoef * k
			m.Entropy -= float64(logp[i])
			last = i
			ended = ended || tokens[i] == eos
		}
		if last < 0 {
			return RewardMetrics{}, fmt.Errorf("rewards: response %d has no real token", b)
		}
		score := float64(scores[b])
		if !ended {
			score -= cfg.MissingEOSPenalty
		}
		rewards[last] = F(float64(rewards[last]) + score)
		m.Scores += score
	}
	inv := 1 / float64(B)
	m.KL *= inv
	m.Entropy *= inv
	m.NonScoreReward *= inv
	m.Scores *= inv
	m.RLHFReward = m.Scores + m.NonScoreReward
	return m, nil
}
