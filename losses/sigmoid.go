package losses

import "math"

// softplus(x) = log(1 + e^x), computed as max(x, 0) + log1p(e^-|x|) so that neither e^x overflows
// for large x nor 1 + e^x rounds to 1 for very negative x. -log σ(x) = softplus(-x).
func softplus(x float64) float64 {
	return max(x, 0) + math.Log1p(math.Exp(-math.Abs(x)))
}

// sigmoid(x) = 1 / (1 + e^-x), evaluated through e^-|x| so that the exponential never overflows.
// It is d softplus(x) / dx.
func sigmoid(x float64) float64 {
	e := math.Exp(-math.Abs(x))
	if x >= 0 {
		return 1 / (1 + e)
	}
	return e / (1 + e)
}
