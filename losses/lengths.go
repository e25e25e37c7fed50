package losses

import "fmt"

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
