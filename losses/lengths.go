package losses

import (
	"errors"
	"fmt"
)

// checkLen says which input has the wrong number of elements.
func checkLen(name string, got, want int) error {
	if got != want {
		return fmt.Errorf("%s has %d elements, want %d", name, got, want)
	}
	return nil
}

// checkGrad is checkLen for a gradient slice, which may also be nil: the caller wants no gradient
// (evaluation).
func checkGrad[F Float](name string, d []F, want int) error {
	if d == nil {
		return nil
	}
	return checkLen("gradient "+name, len(d), want)
}

// checkClipped checks the inputs of a clipped PPO loss over n tokens (PPOClip, ValueClip): the length
// checks of its other inputs (checkLen, checkGrad), the mask, then the clip range, named by its config
// key. It returns the number of real tokens.
func checkClipped(n int, mask []bool, clipKey string, clip float64, lengths ...error) (int, error) {
	if err := errors.Join(lengths...); err != nil {
		return 0, err
	}
	count, err := maskCount(n, mask)
	if err != nil {
		return 0, err
	}
	if !(clip >= 0) {
		return 0, fmt.Errorf("%s %g must be >= 0", clipKey, clip)
	}
	return count, nil
}
