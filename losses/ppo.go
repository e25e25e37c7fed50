package losses

import (
	"fmt"
	"math"
)

// PPOMetrics is what the PPO stage logs for the policy loss, under TRL PPOTrainer's names.
type PPOMetrics struct {
	Loss     float64 `json:"loss/policy_avg"`
	ClipFrac float64 `json:"policy/clipfrac_avg"` // fraction of real tokens where the clipped term is taken
	ApproxKL float64 `json:"policy/approxkl_avg"` // 0.5 · masked_mean((log π_new - log π_old)²)
	Ratio    float64 `json:"val/ratio"`           // masked_mean(ratio)
}

// PPOClip is PPO's clipped surrogate policy loss over [B,T] response tokens, as in TRL PPOTrainer's
// loss section. Per token t, with the advantage A_t (a constant) and
//
//	ratio_t = exp(log π_new(t) - log π_old(t))
//	l_t     = max(-A_t · ratio_t, -A_t · clip(ratio_t, 1-ε, 1+ε))
//
// the loss is J = masked_mean(l) = Σ_t m_t l_t / Σ_t m_t over the whole batch (TRL's masked_mean;
// pad positions contribute nothing). The clipped term is taken where it is strictly larger; there
// clip's derivative is 0, so
//
//	dJ/d log π_new(t) = m_t · (-A_t · ratio_t) / Σ m     where the unclipped term is taken, else 0,
//
// written into dLogpNew when it is not nil. Where ratio is inside [1-ε, 1+ε] both terms are equal and
// so are their derivatives. ApproxKL uses the masked mean where TRL's PPOTrainer takes the plain mean
// over all [B,T] positions (its pads have log π_new = log π_old, so only the denominator differs).
func PPOClip[F Float](logpNew, logpOld, advantages []F, mask []bool, clip float64, dLogpNew []F) (PPOMetrics, error) {
	n := len(logpNew)
	count, err := checkClipped(n, mask, "cliprange", clip, checkLen("old log-probs", len(logpOld), n),
		checkLen("advantages", len(advantages), n), checkGrad("new log-probs", dLogpNew, n))
	if err != nil {
		return PPOMetrics{}, fmt.Errorf("ppo: %w", err)
	}
	inv := 1 / float64(count)
	var m PPOMetrics
	for t := range n {
		if !mask[t] {
			if dLogpNew != nil {
				dLogpNew[t] = 0
			}
			continue
		}
		diff := float64(logpNew[t]) - float64(logpOld[t])
		ratio := math.Exp(diff)
		a := float64(advantages[t])
		unclipped, clipped := -a*ratio, -a*min(max(ratio, 1-clip), 1+clip)
		g := -a * ratio * inv
		if clipped > unclipped {
			m.Loss += clipped
			m.ClipFrac++
			g = 0
		} else {
			m.Loss += unclipped
		}
		if dLogpNew != nil {
			dLogpNew[t] = F(g)
		}
		m.ApproxKL += diff * diff
		m.Ratio += ratio
	}
	m.Loss *= inv
	m.ClipFrac *= inv
	m.ApproxKL *= 0.5 * inv
	m.Ratio *= inv
	return m, nil
}
