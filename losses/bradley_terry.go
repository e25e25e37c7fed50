package losses

import (
	"errors"
	"fmt"
	"math"
)

// BTMetrics is what the reward-model stage logs per batch, under TRL RewardTrainer's names.
type BTMetrics struct {
	Loss       float64 `json:"loss"`
	Accuracy   float64 `json:"accuracy"`    // fraction of pairs with r_w > r_l (ties count as wrong)
	Margin     float64 `json:"margin"`      // mean of r_w - r_l
	MeanReward float64 `json:"mean_reward"` // over all 2N rewards
	MinReward  float64 `json:"min_reward"`
	MaxReward  float64 `json:"max_reward"`
}

// BradleyTerry is the pairwise reward-model loss over N (chosen, rejected) pairs with scalar rewards
// r_w and r_l, plus TRL's optional reward centering with coefficient c (center_rewards_coefficient;
// 0 turns it off):
//
//	J = -1/N Σ_i log σ(r_w,i - r_l,i) + c · 1/N Σ_i (r_w,i + r_l,i)²
//
// with -log σ(x) = softplus(-x) evaluated stably. Margins 2, 0, -2 give 0.126928, 0.693147, 2.126928.
// The gradient, written into dChosen and dRejected when they are not nil, is
//
//	dJ/dr_w,i = (-σ(r_l,i - r_w,i) + 2c (r_w,i + r_l,i)) / N
//	dJ/dr_l,i = (+σ(r_l,i - r_w,i) + 2c (r_w,i + r_l,i)) / N
func BradleyTerry[F Float](chosen, rejected []F, c float64, dChosen, dRejected []F) (BTMetrics, error) {
	n := len(chosen)
	if n == 0 {
		return BTMetrics{}, fmt.Errorf("BradleyTerry: empty batch")
	}
	if err := errors.Join(checkLen("rejected", len(rejected), n), checkGrad("chosen", dChosen, n),
		checkGrad("rejected", dRejected, n)); err != nil {
		return BTMetrics{}, fmt.Errorf("BradleyTerry: %w", err)
	}
	if !(c >= 0) {
		return BTMetrics{}, fmt.Errorf("BradleyTerry: center coefficient %g < 0", c)
	}
	inv := 1 / float64(n)
	m := BTMetrics{MinReward: math.Inf(1), MaxReward: math.Inf(-1)}
	for i := range n {
		w, l := float64(chosen[i]), float64(rejected[i])
		margin, sum := w-l, w+l
		m.Loss += softplus(-margin) + c*sum*sum
		if dChosen != nil {
			dChosen[i] = F((-sigmoid(-margin) + 2*c*sum) * inv)
		}
		if dRejected != nil {
			dRejected[i] = F((sigmoid(-margin) + 2*c*sum) * inv)
		}
		if w > l {
			m.Accuracy++
		}
		m.Margin += margin
		m.MeanReward += sum
		m.MinReward = min(m.MinReward, w, l)
		m.MaxReward = max(m.MaxReward, w, l)
	}
	m.Loss *= inv
	m.Accuracy *= inv
	m.Margin *= inv
	m.MeanReward *= inv / 2
	return m, nil
}
