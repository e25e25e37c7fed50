package evaluate

import (
	"fmt"
	"math"
)

// z95 is the standard normal quantile of 0.975, for two-sided 95% intervals.
const z95 = 1.959963984540054

// Proportion is k successes out of n with the mean k/n and its 95% Wilson score interval:
//
//	p = k/n, z = 1.95996
//	centre    = (p + z²/(2n)) / (1 + z²/n)
//	halfwidth = z / (1 + z²/n) · sqrt(p(1-p)/n + z²/(4n²))
//	[Low, High] = centre ∓ halfwidth
//
// Unlike the normal (Wald) interval p ± z·sqrt(p(1-p)/n) it stays inside [0, 1] and does not collapse to
// a point at 0/n or n/n: 8/10 gives [0.490, 0.943], 0/10 gives [0, 0.278]. It is not symmetric about p.
type Proportion struct {
	K, N            int
	Mean, Low, High float64
}

// NewProportion computes the mean and interval of k out of n; n must be positive and 0 <= k <= n.
func NewProportion(k, n int) (Proportion, error) {
	if n <= 0 || k < 0 || k > n {
		return Proportion{}, fmt.Errorf("evaluate: proportion %d/%d", k, n)
	}
	p, nf, z2 := float64(k)/float64(n), float64(n), z95*z95
	denom := 1 + z2/nf
	centre := (p + z2/(2*nf)) / denom
	half := z95 / denom * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return Proportion{K: k, N: n, Mean: p, Low: max(centre-half, 0), High: min(centre+half, 1)}, nil
}
