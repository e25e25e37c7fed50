package losses

import "fmt"

// MaskedMean is TRL's masked_mean over a whole batch: the mean of x over the positions where mask is
// true, Σ_t m_t x_t / Σ_t m_t. It is an error when the lengths differ or no position is real.
func MaskedMean[F Float](x []F, mask []bool) (float64, error) {
	n, err := maskCount(len(x), mask)
	if err != nil {
		return 0, err
	}
	var s float64
	for i, m := range mask {
		if m {
			s += float64(x[i])
		}
	}
	return s / float64(n), nil
}

// maskCount checks that mask covers n positions and returns how many of them are real.
func maskCount(n int, mask []bool) (int, error) {
	if len(mask) != n {
		return 0, fmt.Errorf("mask has %d positions, values %d", len(mask), n)
	}
	c := 0
	for _, m := range mask {
		if m {
			c++
		}
	}
	if c == 0 {
		return 0, fmt.Errorf("mask has no real position among %d", n)
	}
	return c, nil
}
