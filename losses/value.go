package losses

import "fmt"

// ValueMetrics is what the PPO stage logs for the value loss, under TRL PPOTrainer's names.
type ValueMetrics struct {
	Loss     float64 `json:"loss/value_avg"`
	ClipFrac float64 `json:"val/clipfrac_avg"` // fraction of real tokens where the clipped term is taken
}

// ValueClip is PPO's clipped value loss over [B,T] response tokens, as in TRL PPOTrainer's loss
// section. Per token t, with the new value V_t, the value V_old,t from the rollout and the return R_t
// (both constants),
//
//	Vc_t = clip(V_t, V_old,t - εv, V_old,t + εv)
//	l_t  = max((V_t - R_t)², (Vc_t - R_t)²)
//	J    = 0.5 · masked_mean(l) = 0.5 · Σ_t m_t l_t / Σ_t m_t
//
// The coefficient vf_coef is not applied here: the caller forms pg_loss + vf_coef · J. The clipped
// term is taken where it is strictly larger, which happens only with V_t outside the clip range, where
// clip's derivative is 0; so
//
//	dJ/dV_t = m_t · (V_t - R_t) / Σ m     where the unclipped term is taken, else 0,
//
// written into dV when it is not nil.
func ValueClip[F Float](values, oldValues, returns []F, mask []bool, clip float64, dV []F) (ValueMetrics, error) {
	n := len(values)
	count, err := checkClipped(n, mask, "cliprange_value", clip, checkLen("old values", len(oldValues), n),
		checkLen("returns", len(returns), n), checkGrad("values", dV, n))
	if err != nil {
		return ValueMetrics{}, fmt.Errorf("value loss: %w", err)
	}
	inv := 1 / float64(count)
	var m ValueMetrics
	for t := range n {
		if !mask[t] {
			if dV != nil {
				dV[t] = 0
			}
			continue
		}
		v, old, r := float64(values[t]), float64(oldValues[t]), float64(returns[t])
		vc := min(max(v, old-clip), old+clip)
		unclipped, clipped := (v-r)*(v-r), (vc-r)*(vc-r)
		g := (v - r) * inv
		if clipped > unclipped {
			m.Loss += clipped
			m.ClipFrac++
			g = 0
		} else {
			m.Loss += unclipped
		}
		if dV != nil {
			dV[t] = F(g)
		}
	}
	m.Loss *= 0.5 * inv
	m.ClipFrac *= inv
	return m, nil
}
