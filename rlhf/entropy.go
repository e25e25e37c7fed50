package rlhf

import (
	"fmt"
	"math"

	"pipeline/losses"
)

// Entropy writes into out [N] the entropy of the softmax of each row of logits [N,V]:
//
//	H = -Σ_v p_v log p_v = logsumexp(z) - Σ_v p_v z_v,   p = softmax(z),
//
// computed with the row's maximum subtracted (z' = z - max z: H = log s - Σ_v e^{z'_v} z'_v / s with
// s = Σ_v e^{z'_v}), so that large logits neither overflow nor lose the answer. Its masked mean over
// response tokens is TRL's policy/entropy_avg; its masked sum per response, averaged, is the exact
// counterpart of objective/entropy's sampled estimate. A metric: no gradient. A row without a finite
// logit is an error.
func Entropy[F losses.Float](logits []F, V int, out []F) error {
	if V <= 0 || len(logits) != len(out)*V {
		return fmt.Errorf("entropy: %d logits are not %d rows of V = %d", len(logits), len(out), V)
	}
	for n := range out {
		row := logits[n*V : (n+1)*V]
		zmax := math.Inf(-1)
		for _, z := range row {
			zmax = max(zmax, float64(z))
		}
		if math.IsInf(zmax, -1) {
			return fmt.Errorf("entropy: row %d has no finite logit", n)
		}
		var s, sz float64
		for _, z := range row {
			d := float64(z) - zmax
			e := math.Exp(d)
			s += e
			if e > 0 { // a -Inf logit has p = 0 and adds nothing (0 · -Inf would be NaN)
				sz += e * d
			}
		}
		out[n] = F(math.Log(s) - sz/s)
	}
	return nil
}
