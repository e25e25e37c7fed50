package rlhf

import (
	"fmt"
	"math"

	"pipeline/losses"
)

// Whiten is TRL's masked_whiten, in place over the real positions of x, followed by the
// masked_fill(pads, 0) TRL applies to advantages. With μ the masked mean and σ² the masked variance
// with Bessel's correction (n real positions, n >= 2),
//
//	x_t <- (x_t - μ) / sqrt(σ² + 1e-8)          shiftMean true (advantages)
//	x_t <- (x_t - μ) / sqrt(σ² + 1e-8) + μ      shiftMean false: rescaled, mean kept
//	x_t <- 0                                     at pads
func Whiten[F losses.Float](x []F, mask []bool, shiftMean bool) error {
	mean, err := losses.MaskedMean(x, mask)
	if err != nil {
		return fmt.Errorf("whiten: %w", err)
	}
	var ss float64
	n := 0
	for i, m := range mask {
		if m {
			d := float64(x[i]) - mean
			ss += d * d
			n++
		}
	}
	if n < 2 {
		return fmt.Errorf("whiten: one real position has no variance")
	}
	scale := 1 / math.Sqrt(ss/float64(n-1)+1e-8)
	shift := 0.0
	if !shiftMean {
		shift = mean
	}
	for i, m := range mask {
		if m {
			x[i] = F((float64(x[i])-mean)*scale + shift)
		} else {
			x[i] = 0
		}
	}
	return nil
}
